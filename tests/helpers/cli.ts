// Runs the real arrakis program as a child process, the way Claude Code and users do.
import { fileURLToPath as fromFileUrl } from "node:url";
import { PERMISSIONS } from "../../src/permissions.ts";
import { tempDirSync } from "./temp.ts";

export const MAIN = fromFileUrl(new URL("../../main.ts", import.meta.url));
export const CONFIG = fromFileUrl(new URL("../../deno.json", import.meta.url));

export interface RunOptions {
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
  cwd?: string;
  signal?: AbortSignal;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A clean environment: only what the test passes, plus PATH, HOME and the Deno cache. */
export function childEnv(env: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  return { ...base, NO_COLOR: "1", ...env };
}

/**
 * Where a child runs unless the test says otherwise: the default project directory is the
 * working directory, and spools and logs must not land in the repository.
 */
const SCRATCH_CWD = tempDirSync("arrakis-cwd-");

/** deno's arguments that run `arrakis <args>` from this checkout. */
export function arrakisArgs(args: string[]): string[] {
  return ["run", "--quiet", "--config", CONFIG, ...PERMISSIONS, MAIN, ...args];
}

export function arrakisCommand(args: string[], options: RunOptions = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: arrakisArgs(args),
    env: childEnv(options.env),
    clearEnv: true,
    cwd: options.cwd ?? SCRATCH_CWD,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  });
}

export async function runArrakis(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = arrakisCommand(args, options).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(
      typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    );
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}
