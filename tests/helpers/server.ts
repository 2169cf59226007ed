// A real `arrakis serve` for tests, on loopback against a test database: as a child process
// (startTestServer: the program exactly as users run it, SIGKILL-able) or in this process
// (startInProcessServer: faster, and its `sql` is the store's own connection, the only way to
// read a PGlite store while the server holds it).
import { join } from "node:path";
import { arrakisCommand } from "./cli.ts";
import { freePort, waitForHttp } from "./net.ts";
import type { TestDatabase } from "./stores.ts";
import { loadConfig } from "../../src/config.ts";
import type { Sql } from "../../src/store/open.ts";
import type { RunningServer } from "../../src/server/start.ts";
import { newSpanId, newTraceId, uuidv7 } from "../../src/ids.ts";
import { FIXTURES_URL as FIXTURES } from "./fixtures.ts";

export interface TestServer {
  /** Base URL, no trailing slash. */
  url: string;
  /** A key the server accepts. */
  apiKey: string;
  /** SIGTERM (graceful) and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** The exit code once the process ended, else null. */
  exitCode(): number | null;
  pid: number;
}

function randomKey(): string {
  return "test_" + crypto.randomUUID().replaceAll("-", "");
}

/**
 * Starts `arrakis serve` as a child process on a free loopback port and waits for /health.
 * `env` overrides (e.g. ARRAKIS_API_KEY, ARRAKIS_MAX_BODY_BYTES); ARRAKIS_HOME is the
 * database's home (so a PGlite store is the test's own copy).
 */
export async function startTestServer(
  db: TestDatabase,
  env: Record<string, string> = {},
): Promise<TestServer> {
  const port = await freePort();
  const apiKey = env.ARRAKIS_API_KEY?.split(",")[0] ?? randomKey();
  const child = arrakisCommand(["serve"], {
    env: {
      ...db.env,
      ARRAKIS_LOG_LEVEL: "warning",
      ...env,
      ARRAKIS_API_KEY: env.ARRAKIS_API_KEY ?? apiKey,
      PORT: String(port),
      ARRAKIS_HOST: "127.0.0.1",
    },
  }).spawn();
  let text = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length > 1_000_000) text = text.slice(-500_000);
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]).catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  let code: number | null = null;
  const status = child.status.then((s) => {
    exited = true;
    code = s.code;
    return s;
  });
  const ended = async () => {
    await status;
    await drained;
  };
  try {
    await Promise.race([
      waitForHttp(`${url}/health`, 60_000),
      status.then((s) => {
        throw new Error(`arrakis serve exited with ${s.code} before listening`);
      }),
    ]);
  } catch (error) {
    if (!exited) child.kill("SIGKILL");
    await ended();
    throw new Error(`${error instanceof Error ? error.message : error}\n${text}`);
  }
  return {
    url,
    apiKey,
    pid: child.pid,
    output: () => text,
    exitCode: () => code,
    async stop() {
      if (!exited) child.kill("SIGTERM");
      await ended();
    },
    async kill() {
      if (!exited) child.kill("SIGKILL");
      await ended();
    },
  };
}

export interface InProcessServer extends Omit<TestServer, "pid" | "output" | "exitCode"> {
  /** The server's own store connection. */
  sql: Sql;
  server: RunningServer;
}

/** The same server inside the test process (see the file comment for when to use which). */
export async function startInProcessServer(
  db: TestDatabase,
  env: Record<string, string> = {},
): Promise<InProcessServer> {
  const { startArrakis } = await import("../../src/compose.ts");
  const apiKey = env.ARRAKIS_API_KEY?.split(",")[0] ?? randomKey();
  const config = loadConfig({
    HOME: db.home,
    ARRAKIS_LOG_DIR: join(db.home, "logs"),
    ...db.env,
    ...env,
    ARRAKIS_API_KEY: env.ARRAKIS_API_KEY ?? apiKey,
    PORT: "0",
    ARRAKIS_HOST: "127.0.0.1",
  });
  const server = await startArrakis(config, { alerts: false });
  await server.prepared;
  await waitForHttp(`${server.url}/health`);
  return {
    url: server.url,
    apiKey,
    sql: server.deps.sql,
    server,
    stop: () => server.shutdown(),
    kill: () => server.shutdown(),
  };
}

// ---------------------------------------------------------------------------------------------
// Envelopes from the shared fixtures, and posting them
// ---------------------------------------------------------------------------------------------

/** The hook input of one fixture event (hook-input/<event>.json). */
export function fixturePayload(event: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(new URL(`hook-input/${event}.json`, FIXTURES)));
}

/** The fixture transcript, one parsed object per line. */
export function fixtureTranscript(): Record<string, unknown>[] {
  return Deno.readTextFileSync(new URL("transcript.jsonl", FIXTURES)).split("\n")
    .filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

export interface EnvelopeOptions {
  requestId?: string;
  occurredAt?: string;
  attempt?: number;
  transcript?: unknown[];
}

/** A valid envelope around a hook payload, as `arrakis hook` would send it. */
export function makeEnvelope(
  payload: Record<string, unknown>,
  options: EnvelopeOptions = {},
): Record<string, unknown> {
  return {
    requestId: options.requestId ?? uuidv7(),
    traceId: newTraceId(),
    spanId: newSpanId(),
    event: payload.hook_event_name,
    sessionId: payload.session_id,
    occurredAt: options.occurredAt ?? new Date().toISOString(),
    attempt: options.attempt ?? 1,
    source: { host: "test-host", user: "dev", projectDir: "/home/dev/shop", version: "test" },
    payload,
    ...(options.transcript ? { transcript: options.transcript } : {}),
  };
}

export interface Posted {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** POSTs a body (JSON-encoded unless a string) to a server path with the server's key. */
export async function post(
  server: { url: string; apiKey: string },
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Posted> {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${server.apiKey}`,
      "content-type": "application/json",
      ...headers,
    },
    body: typeof body === "string" || body instanceof ReadableStream || body instanceof Uint8Array
      ? body as BodyInit
      : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}
