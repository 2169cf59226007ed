// Dollars, read from the view token_usage_costs (migrations/0003): per session, per API
// message, and by day, model and project. Usage of a model without a price has a null cost
// and is counted as unpriced, never added as 0. The API and the dashboard both call these.
import type { Sql } from "../store/open.ts";
import type { TokenCounts } from "../schema.ts";

export interface CostTotals {
  /** Dollars of the priced usage; null when none of it is priced. */
  cost_usd: number | null;
  /** Usage rows (API messages) whose model has no price. */
  unpriced_messages: number;
  unpriced_models: string[];
}

const COST_COLUMNS = (sql: Sql) =>
  sql`sum(cost_usd)::float8 AS cost_usd,
    count(*) FILTER (WHERE cost_usd IS NULL)::int AS unpriced_messages,
    coalesce(array_agg(DISTINCT coalesce(model, '(none)'))
      FILTER (WHERE cost_usd IS NULL), '{}') AS unpriced_models`;

/** Cost of each conversation's usage, agents included. */
export async function sessionCosts(
  sql: Sql,
  conversationIds: readonly string[],
): Promise<Map<string, CostTotals>> {
  if (conversationIds.length === 0) return new Map();
  const rows = await sql<(CostTotals & { conversation_id: string })[]>`
    SELECT conversation_id, ${COST_COLUMNS(sql)}
    FROM token_usage_costs WHERE conversation_id = ANY(${conversationIds as string[]}::bigint[])
    GROUP BY conversation_id`;
  return new Map(rows.map(({ conversation_id, ...totals }) => [String(conversation_id), totals]));
}

export const NO_COST: CostTotals = { cost_usd: null, unpriced_messages: 0, unpriced_models: [] };

export interface MessageCost extends TokenCounts {
  message_id: string;
  api_request_id: string;
  agent_id: string | null;
  model: string | null;
  cost_usd: number | null;
  /** The price key that matched, null when the model has no price. */
  price_model: string | null;
}

/** Each API message of a conversation with its tokens and dollars. */
export function messageCosts(sql: Sql, conversationId: string): Promise<MessageCost[]> {
  return sql<MessageCost[]>`
    SELECT message_id, api_request_id, agent_id, model, input_tokens::float8 AS input_tokens,
      output_tokens::float8 AS output_tokens,
      cache_creation_input_tokens::float8 AS cache_creation_input_tokens,
      cache_creation_5m_input_tokens::float8 AS cache_creation_5m_input_tokens,
      cache_creation_1h_input_tokens::float8 AS cache_creation_1h_input_tokens,
      cache_read_input_tokens::float8 AS cache_read_input_tokens,
      cost_usd::float8 AS cost_usd, price_model
    FROM token_usage_costs WHERE conversation_id = ${conversationId}
    ORDER BY occurred_at NULLS LAST, message_id`;
}

export interface CostBucket extends CostTotals {
  day: string;
  model: string | null;
  messages: number;
  output_tokens: number;
}

/** Cost by UTC day and model since a time: the overview's panel. */
export function costByDayAndModel(sql: Sql, since: Date): Promise<CostBucket[]> {
  return sql<CostBucket[]>`
    SELECT to_char(date_trunc('day', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
      model, count(*)::int AS messages, sum(output_tokens)::float8 AS output_tokens,
      ${COST_COLUMNS(sql)}
    FROM token_usage_costs WHERE occurred_at >= ${since}
    GROUP BY 1, 2 ORDER BY 1 DESC, cost_usd DESC NULLS LAST, 2`;
}

export interface ProjectCost extends CostTotals {
  project_dir: string | null;
  sessions: number;
}

/** Cost by project (conversations.project_dir) since a time. */
export function costByProject(sql: Sql, since: Date): Promise<ProjectCost[]> {
  return sql<ProjectCost[]>`
    SELECT c.project_dir, count(DISTINCT c.id)::int AS sessions,
      sum(u.cost_usd)::float8 AS cost_usd,
      count(*) FILTER (WHERE u.cost_usd IS NULL)::int AS unpriced_messages,
      coalesce(array_agg(DISTINCT coalesce(u.model, '(none)'))
        FILTER (WHERE u.cost_usd IS NULL), '{}') AS unpriced_models
    FROM token_usage_costs u JOIN conversations c ON c.id = u.conversation_id
    WHERE u.occurred_at >= ${since}
    GROUP BY c.project_dir ORDER BY 3 DESC NULLS LAST`;
}
