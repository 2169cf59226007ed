// One hook event → the typed rows it stands for, as plain data (no SQL): agent rows from
// SubagentStart/Stop and the Task tool's result, permission decisions on tool uses, and the
// session events (StopFailure, PostCompact, PostToolBatch, TaskCreated/Completed).
import {
  type Envelope,
  IMPORT_EVENT,
  type PermissionDecision,
  type SessionEventKind,
} from "../schema.ts";
import { agentFromToolResult, type AgentIntent, emptyAgent, isoOrNull } from "./transcript_rows.ts";

export interface PermissionIntent {
  tool_use_id: string;
  agent_id: string | null;
  tool_name: string | null;
  tool_input: unknown;
  permission: PermissionDecision;
  reason: string | null;
}

export interface SessionEventIntent {
  kind: SessionEventKind;
  agent_id: string | null;
  label: string | null;
  text: string | null;
  detail: unknown;
}

export interface EventRows {
  agents: AgentIntent[];
  permission?: PermissionIntent;
  sessionEvent?: SessionEventIntent;
  /** SessionStart's source (startup, resume, clear, compact, fork, ...). */
  startSource?: string;
  /**
   * The agent a SubagentStop's attached lines belong to, when they came from its own file:
   * those lines need not name it.
   */
  transcriptAgent?: { agentId: string; path: string };
}

const str = (value: unknown): string | null => typeof value === "string" ? value : null;

export function eventRows(env: Envelope): EventRows {
  const p = env.payload as Record<string, unknown>;
  const at = isoOrNull(env.occurredAt);
  const agentId = str(p.agent_id);
  const rows: EventRows = { agents: [] };
  switch (env.event) {
    case "SessionStart":
      if (str(p.source)) rows.startSource = p.source as string;
      break;
    case "SubagentStart":
      rows.agents.push({
        ...emptyAgent(p.agent_id as string),
        agent_type: str(p.agent_type),
        started_at: at,
      });
      break;
    case "SubagentStop": {
      if (!agentId) break;
      const path = str(p.agent_transcript_path);
      rows.agents.push({
        ...emptyAgent(agentId),
        agent_type: str(p.agent_type),
        transcript_path: path,
        ended_at: at,
        last_message: str(p.last_assistant_message),
      });
      if (path && env.transcriptRange?.path === path) rows.transcriptAgent = { agentId, path };
      break;
    }
    case IMPORT_EVENT: {
      const path = env.transcriptRange?.path;
      if (!agentId || !path) break;
      rows.agents.push({
        ...emptyAgent(agentId),
        agent_type: str(p.agent_type),
        description: str(p.agent_description),
        parent_tool_use_id: str(p.parent_tool_use_id),
        transcript_path: path,
      });
      rows.transcriptAgent = { agentId, path };
      break;
    }
    case "PostToolUse": {
      // Inside a subagent the hook names the subagent as agent_id: the caller of this tool.
      const started = agentFromToolResult(p.tool_use_id as string, p.tool_response, agentId);
      if (started) rows.agents.push(started);
      break;
    }
    case "PermissionRequest":
    case "PermissionDenied":
      if (str(p.tool_use_id)) {
        rows.permission = {
          tool_use_id: p.tool_use_id as string,
          agent_id: agentId,
          tool_name: str(p.tool_name),
          tool_input: p.tool_input ?? null,
          permission: env.event === "PermissionDenied" ? "denied" : "requested",
          reason: str(p.reason),
        };
      }
      break;
    case "StopFailure":
      rows.sessionEvent = {
        kind: "stop_failure",
        agent_id: agentId,
        label: str(p.error_type) ?? "unknown",
        text: str(p.error_message) ?? str(p.error),
        detail: { error: p.error ?? null, error_type: p.error_type ?? null },
      };
      break;
    case "PostCompact":
      rows.sessionEvent = {
        kind: "compact",
        agent_id: agentId,
        label: str(p.trigger),
        text: str(p.compact_summary),
        detail: null,
      };
      break;
    case "PostToolBatch": {
      const calls = Array.isArray(p.tool_calls) ? p.tool_calls : [];
      rows.sessionEvent = {
        kind: "tool_batch",
        agent_id: agentId,
        label: String(calls.length),
        text: null,
        detail: { tool_calls: calls },
      };
      break;
    }
    case "TaskCreated":
    case "TaskCompleted":
      rows.sessionEvent = {
        kind: env.event === "TaskCreated" ? "task_created" : "task_completed",
        agent_id: agentId,
        label: str(p.task_id),
        text: str(p.task_subject),
        detail: {
          task_description: p.task_description ?? null,
          teammate_name: p.teammate_name ?? null,
          team_name: p.team_name ?? null,
        },
      };
      break;
  }
  return rows;
}
