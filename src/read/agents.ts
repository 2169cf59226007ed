// A session's subagents as a tree: each agent under the agent whose tool call started it (the
// main conversation at the root), with its own totals and the totals of its whole subtree.
import type { AgentRow } from "../schema.ts";
import type { Sql } from "../store/open.ts";

export interface AgentTotals {
  messages: number;
  tool_uses: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cost_usd: number | null;
  unpriced_messages: number;
}

/** An agent as stored (src/schema.ts), its type and description filled from its tool call. */
export interface AgentNode extends Omit<AgentRow, "id" | "conversation_id" | "session_id"> {
  /** What this agent itself did. */
  own: AgentTotals;
  /** This agent and every agent below it. */
  totals: AgentTotals;
  children: AgentNode[];
}

type AgentWithTotals = Omit<AgentNode, "own" | "totals" | "children"> & AgentTotals;

function addTotals(a: AgentTotals, b: AgentTotals): AgentTotals {
  return {
    messages: a.messages + b.messages,
    tool_uses: a.tool_uses + b.tool_uses,
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
    cost_usd: a.cost_usd === null && b.cost_usd === null
      ? null
      : (a.cost_usd ?? 0) + (b.cost_usd ?? 0),
    unpriced_messages: a.unpriced_messages + b.unpriced_messages,
  };
}

/** The root agents of a conversation (those the main conversation started), nested. */
export async function agentTree(sql: Sql, conversationId: string): Promise<AgentNode[]> {
  // The parent agent: as recorded, else the agent that made the starting tool call.
  const rows = await sql<AgentWithTotals[]>`
    SELECT a.agent_id,
      coalesce(a.agent_type, t.tool_input->>'subagent_type') AS agent_type,
      coalesce(a.description, t.tool_input->>'description') AS description,
      a.parent_tool_use_id, coalesce(a.parent_agent_id, t.agent_id) AS parent_agent_id,
      a.transcript_path, a.started_at, a.ended_at, a.last_message,
      coalesce(m.messages, 0) AS messages, coalesce(tu.tool_uses, 0) AS tool_uses,
      coalesce(u.input_tokens, 0) AS input_tokens, coalesce(u.output_tokens, 0) AS output_tokens,
      coalesce(u.cache_creation_input_tokens, 0) AS cache_creation_input_tokens,
      coalesce(u.cache_read_input_tokens, 0) AS cache_read_input_tokens,
      u.cost_usd, coalesce(u.unpriced_messages, 0) AS unpriced_messages
    FROM agents a
    LEFT JOIN tool_uses t ON t.tool_use_id = a.parent_tool_use_id
    LEFT JOIN LATERAL (
      SELECT count(*)::int AS messages FROM messages
      WHERE conversation_id = a.conversation_id AND agent_id = a.agent_id) m ON true
    LEFT JOIN LATERAL (
      SELECT count(*)::int AS tool_uses FROM tool_uses
      WHERE conversation_id = a.conversation_id AND agent_id = a.agent_id) tu ON true
    LEFT JOIN LATERAL (
      SELECT sum(input_tokens)::float8 AS input_tokens, sum(output_tokens)::float8 AS output_tokens,
        sum(cache_creation_input_tokens)::float8 AS cache_creation_input_tokens,
        sum(cache_read_input_tokens)::float8 AS cache_read_input_tokens,
        sum(cost_usd)::float8 AS cost_usd,
        count(*) FILTER (WHERE cost_usd IS NULL)::int AS unpriced_messages
      FROM token_usage_costs
      WHERE conversation_id = a.conversation_id AND agent_id = a.agent_id) u ON true
    WHERE a.conversation_id = ${conversationId}
    ORDER BY a.started_at NULLS LAST, a.id`;
  const nodes = new Map<string, AgentNode>();
  for (const row of rows) {
    const {
      messages,
      tool_uses,
      input_tokens,
      output_tokens,
      cache_creation_input_tokens,
      cache_read_input_tokens,
      cost_usd,
      unpriced_messages,
      ...agent
    } = row;
    const own = {
      messages,
      tool_uses,
      input_tokens,
      output_tokens,
      cache_creation_input_tokens,
      cache_read_input_tokens,
      cost_usd,
      unpriced_messages,
    };
    nodes.set(agent.agent_id, { ...agent, own, totals: own, children: [] });
  }
  const roots: AgentNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parent_agent_id ? nodes.get(node.parent_agent_id) : undefined;
    // A parent that is itself, or unknown, puts the agent at the root rather than nowhere.
    if (parent && parent !== node && !isBelow(parent, node, nodes)) parent.children.push(node);
    else roots.push(node);
  }
  const total = (node: AgentNode): AgentTotals =>
    node.totals = node.children.reduce((sum, child) => addTotals(sum, total(child)), node.own);
  roots.forEach(total);
  return roots;
}

/** Whether `candidate` sits below `node` already (a cycle in bad data must not loop). */
function isBelow(candidate: AgentNode, node: AgentNode, nodes: Map<string, AgentNode>): boolean {
  const seen = new Set<string>();
  for (let at: AgentNode | undefined = candidate; at;) {
    if (at === node) return true;
    if (seen.has(at.agent_id)) return true;
    seen.add(at.agent_id);
    at = at.parent_agent_id ? nodes.get(at.parent_agent_id) : undefined;
  }
  return false;
}
