// Shared by the hook tests: a project directory as Claude Code would have it, the fixture
// events, and loopback servers that are down, hang, or answer what a test wants.
import { join } from "node:path";
import { localPaths } from "../../src/config-core.ts";
import { freePort } from "./net.ts";
import { FIXTURES_DIR } from "./fixtures.ts";
import { tempDir } from "./temp.ts";

export { FIXTURES_DIR };

export async function fixtureEvents(): Promise<Map<string, Record<string, unknown>>> {
  const events = new Map<string, Record<string, unknown>>();
  for await (const entry of Deno.readDir(join(FIXTURES_DIR, "hook-input"))) {
    if (!entry.name.endsWith(".json")) continue;
    const value = JSON.parse(await Deno.readTextFile(join(FIXTURES_DIR, "hook-input", entry.name)));
    events.set(value.hook_event_name, value);
  }
  return events;
}

export interface HookProject {
  dir: string;
  /** The test's ARRAKIS_HOME. */
  home: string;
  /** The project's spool in that home (what the hook and the queue commands use). */
  queueDir: string;
  logDir: string;
  /** Environment for `arrakis hook` pointed at url with key. */
  env(url: string, extra?: Record<string, string>): Record<string, string>;
  files(sub: "pending" | "processing" | "failed"): Promise<string[]>;
  cleanup(): Promise<void>;
}

export const TEST_KEY = "test-key-0123456789abcdef";

export async function hookProject(): Promise<HookProject> {
  const dir = await tempDir("arrakis-hook-");
  // Nothing from the developer's own ~/.arrakis may leak into a test.
  const home = join(dir, "home");
  const { queueDir, logDir } = localPaths({ ARRAKIS_HOME: home, CLAUDE_PROJECT_DIR: dir });
  return {
    dir,
    home,
    queueDir,
    logDir,
    env: (url, extra = {}) => ({
      CLAUDE_PROJECT_DIR: dir,
      ARRAKIS_URL: url,
      ARRAKIS_API_KEY: TEST_KEY,
      ARRAKIS_HOME: home,
      ARRAKIS_CONFIG: join(home, "client.json"),
      ...extra,
    }),
    async files(sub) {
      const names: string[] = [];
      try {
        for await (const entry of Deno.readDir(join(queueDir, sub))) {
          if (entry.name.endsWith(".json")) names.push(entry.name);
        }
      } catch { /* directory not made yet */ }
      return names.sort();
    },
    // A detached drain a hook started may still be writing here: try a few times.
    async cleanup() {
      for (let tries = 0;; tries++) {
        try {
          return await Deno.remove(dir, { recursive: true });
        } catch (error) {
          if (tries >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}

export interface FakeServer {
  url: string;
  /** Parsed bodies of every request received. */
  received: unknown[];
  headers: Headers[];
  close(): Promise<void>;
}

/** A loopback HTTP server answering every POST with the given status and body. */
export function answeringServer(status: number, body: unknown): FakeServer {
  const received: unknown[] = [];
  const headers: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    headers.push(req.headers);
    const text = await req.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch { /* keep text */ }
    received.push(parsed);
    const answer = typeof body === "function" ? body(parsed) : body;
    return Response.json(answer, { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received,
    headers,
    close: () => server.shutdown(),
  };
}

/** Accepts connections and never answers (a hung server). */
export function hangingServer(): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const received: unknown[] = [];
  (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        received.push("connection");
      }
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    received,
    headers: [],
    close: () => {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      return Promise.resolve();
    },
  };
}

/** A URL nobody listens on (connection refused). */
export async function downUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}
