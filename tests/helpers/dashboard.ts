// The dashboard's end-to-end harness: a real `arrakis serve` child, envelopes shaped like the
// hook's, and headless Chromium through playwright-core.
import { chromium } from "npm:playwright-core@1.65.1";
import type { BrowserContext, Page } from "npm:playwright-core@1.65.1";

export type { Page };
import { arrakisCommand } from "./cli.ts";
import { freePort, waitForHttp } from "./net.ts";
import { newSpanId, newTraceId, uuidv7 } from "../../src/ids.ts";
import { tempDir } from "./temp.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const HAVE_CHROMIUM = await Deno.stat(CHROMIUM).then(() => true, () => false);
export const KEY = "ark_browser_test_key_0123456789";

export function envelope(
  event: string,
  sessionId: string,
  payload: Record<string, unknown>,
  extra = {},
) {
  return {
    requestId: uuidv7(),
    traceId: newTraceId(),
    spanId: newSpanId(),
    event,
    sessionId,
    occurredAt: new Date().toISOString(),
    attempt: 1,
    source: { host: "devbox", user: "dev", projectDir: "/home/dev/shop", cwd: "/home/dev/shop" },
    payload: {
      session_id: sessionId,
      hook_event_name: event,
      cwd: "/home/dev/shop",
      transcript_path: `/home/dev/.claude/projects/shop/${sessionId}.jsonl`,
      permission_mode: "default",
      ...payload,
    },
    ...extra,
  };
}

export interface Server {
  base: string;
  close(): Promise<void>;
}

export async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = arrakisCommand(["serve"], {
    env: { ...env, PORT: String(port), ARRAKIS_API_KEY: KEY, ARRAKIS_LOG_LEVEL: "warning" },
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  const output = child.output();
  try {
    await waitForHttp(`${base}/login`);
  } catch (error) {
    child.kill("SIGKILL");
    const { stderr } = await output;
    throw new Error(`${error}\n${new TextDecoder().decode(stderr)}`);
  }
  return {
    base,
    async close() {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      await output;
    },
  };
}

export async function post(
  base: string,
  body: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${base}/api/claude-hooks`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

export async function launch(): Promise<BrowserContext> {
  const profile = await tempDir("arrakis-chromium-");
  return await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
