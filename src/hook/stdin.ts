// Reads the hook event from stdin with a size cap. Past the cap the rest is still read and
// thrown away, so Claude Code never blocks on a full pipe or sees EPIPE.

/** Larger events are cut down to their identity (see stubForOversizedInput). */
export const MAX_STDIN_BYTES = 16 * 1024 * 1024;

export interface StdinRead {
  /** The bytes kept (at most the cap). */
  bytes: Uint8Array;
  /** All bytes received, kept or not. */
  total: number;
  truncated: boolean;
}

export async function readStdin(
  stream?: ReadableStream<Uint8Array>,
  maxBytes = MAX_STDIN_BYTES,
): Promise<StdinRead> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of stream ?? readChunks(Deno.stdin)) {
    total += chunk.length;
    if (kept >= maxBytes) continue;
    const room = maxBytes - kept;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    chunks.push(part);
    kept += part.length;
  }
  const bytes = new Uint8Array(kept);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { bytes, total, truncated: total > kept };
}

/**
 * Plain synchronous reads. The hook has nothing else to do until stdin is in (the spool's
 * directories and key are made ready before it starts reading), and an async read is a hop to
 * Deno's blocking thread pool and back: 0.4-6 ms for one small event on a loaded machine (its
 * first use starts the pool), against 0.1 ms for readSync (measured). `Deno.stdin.readable`
 * costs more still. readSync waits for data on a pipe its writer made non-blocking too
 * (tests/hook_stdin_test.ts).
 */
function* readChunks(
  reader: { readSync(buffer: Uint8Array): number | null },
): Generator<Uint8Array> {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = reader.readSync(buffer);
    if (n === null) return;
    yield buffer.slice(0, n);
  }
}

/**
 * What an event too large to keep still tells: its session, event name and the ids its event
 * requires, found in the bytes kept, so the server records that it happened.
 */
export function stubForOversizedInput(head: string, total: number): Record<string, unknown> {
  const field = (name: string): string | undefined => {
    const raw = new RegExp(`"${name}"\\s*:\\s*"((?:[^"\\\\]|\\\\.){1,256})"`).exec(head)?.[1];
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(`"${raw}"`);
    } catch {
      return undefined;
    }
  };
  const stub: Record<string, unknown> = {
    session_id: field("session_id") ?? "unknown",
    hook_event_name: field("hook_event_name") ?? "Unknown",
    arrakis_truncated: { reason: "stdin larger than the hook keeps", bytes: total },
  };
  for (const name of ["transcript_path", "cwd", "tool_use_id", "tool_name", "prompt_id"]) {
    const value = field(name);
    if (value !== undefined) stub[name] = value;
  }
  return stub;
}
