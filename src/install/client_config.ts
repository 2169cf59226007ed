// The client config file (ARRAKIS_CONFIG, default ARRAKIS_HOME/client.json, 0600): where this
// machine's hooks send and with which key. `arrakis install --api-key-stdin` writes it.
import { dirname } from "node:path";
import { ensurePrivateDir, writeFileDurable } from "../durable.ts";

/** Merges `update` into the file (other fields kept); the key never goes through argv. */
export async function writeClientConfig(
  path: string,
  update: { url?: string; apiKey?: string },
): Promise<void> {
  let current: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) current = parsed;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) && !(error instanceof SyntaxError)) throw error;
  }
  const defined = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
  await ensurePrivateDir(dirname(path));
  await writeFileDurable(path, JSON.stringify({ ...current, ...defined }, null, 2) + "\n");
}

/** The first line of stdin, trimmed: how a key reaches `install` without argv or history. */
export async function readKeyFromStdin(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.split("\n")[0].trim();
}
