// Finding the transcripts under `arrakis import`'s paths: session files
// (<project>/<session>.jsonl) and subagent files (<session>/subagents/agent-<id>.jsonl, with
// agent-<id>.meta.json beside them), at any depth, in a stable order.
import { basename, dirname, join, resolve } from "node:path";

export interface TranscriptFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** From the file name; the lines' own sessionId wins when they carry one. */
  sessionId: string;
  /** The session's main transcript (for a subagent file: <session>.jsonl beside its dir). */
  sessionPath: string;
  agent?: {
    agentId: string;
    agentType: string | null;
    description: string | null;
    parentToolUseId: string | null;
  };
}

const AGENT_FILE = /^agent-(.+)\.jsonl$/;

/** Every transcript under the paths (files or directories), main sessions before agents. */
export async function scanTranscripts(paths: string[]): Promise<TranscriptFile[]> {
  const found = new Map<string, TranscriptFile>();
  for (const path of paths) await visit(resolve(path), found);
  return [...found.values()].sort((a, b) =>
    Number(!!a.agent) - Number(!!b.agent) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  );
}

async function visit(path: string, found: Map<string, TranscriptFile>): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (info.isDirectory) {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    for (const name of names.sort()) await visit(join(path, name), found);
    return;
  }
  if (!info.isFile || !path.endsWith(".jsonl")) return;
  found.set(path, await describe(path, info));
}

async function describe(path: string, info: Deno.FileInfo): Promise<TranscriptFile> {
  const base = {
    path,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
  };
  const agentMatch = basename(path).match(AGENT_FILE);
  if (agentMatch && basename(dirname(path)) === "subagents") {
    const sessionDir = dirname(dirname(path));
    const meta = await readMeta(path.replace(/\.jsonl$/, ".meta.json"));
    return {
      ...base,
      sessionId: basename(sessionDir),
      sessionPath: `${sessionDir}.jsonl`,
      agent: {
        agentId: agentMatch[1],
        agentType: text(meta.agentType) ?? text(meta.agent_type) ?? text(meta.subagent_type),
        description: text(meta.description),
        parentToolUseId: text(meta.toolUseId) ?? text(meta.parentToolUseId) ??
          text(meta.tool_use_id),
      },
    };
  }
  return { ...base, sessionId: basename(path, ".jsonl"), sessionPath: path };
}

const text = (value: unknown): string | null =>
  typeof value === "string" && value.length > 0 ? value : null;

/** The .meta.json beside an agent file; its format is Claude Code's own: read leniently. */
async function readMeta(path: string): Promise<Record<string, unknown>> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}
