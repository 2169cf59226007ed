// Runs the maker of a new store (initdb_build.ts) away from the serving process, which opens the
// store once it is written. A child process where arrakis may run one: all it allocated goes
// back to the system at its exit. A worker otherwise (the container image grants no
// --allow-run): its WebAssembly memory goes when it ends, but not all the rest (malloc arenas of
// its threads, V8 pages): idle RSS after a first start 259-265 MiB against ~200 after a restart,
// 194-198 with the child (medians, docs/DESIGN.md).
import { lockWithin } from "../durable.ts";
import { fromFileUrl } from "../paths.ts";
import { PERMISSIONS } from "../permissions.ts";
import { configBeside, isCompiled, selfCommand } from "../self_command.ts";
import {
  type BuildMessage,
  type BuildRequest,
  MAKER_LINE_PREFIX,
  makersLockPath,
} from "./initdb_protocol.ts";
import { errorMessage } from "../error_message.ts";

/** The hidden command by which a compiled arrakis runs initdb_child.ts (main.ts). */
export const MAKE_STORE_COMMAND = "__make-store";

/** A maker of a new store: `built` once the store is written, `saved` once it ended. */
export interface Build {
  built: Promise<void>;
  /** Why the template could not be saved, if it could not; never rejects. */
  saved: Promise<string | undefined>;
}

/** How long a start waits for a maker that outlived its parent (initdb alone takes seconds). */
const MAKERS_WAIT_MS = 60_000;

/**
 * Waits until no maker process of the store whose run directory is `runDir` is at work (one
 * whose parent was killed ends at its next step, or finishes the store), so that what is beside
 * the data directory is no one's work in progress. The caller holds the store's lock: no new
 * maker can start meanwhile.
 */
export async function waitForMakers(runDir: string): Promise<void> {
  const path = makersLockPath(runDir);
  const file = await Deno.open(path, {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  try {
    if (!(await lockWithin(file, MAKERS_WAIT_MS))) {
      throw new Error(
        `a process making an embedded store is still running after ` +
          `${MAKERS_WAIT_MS / 1000} s (it holds ${path})`,
      );
    }
  } finally {
    file.close();
  }
}

/** Whether this process may start the maker process (Deno.execPath() is deno or arrakis). */
function mayRunProcess(): boolean {
  try {
    return Deno.permissions.querySync({ name: "run", command: Deno.execPath() }).state ===
      "granted";
  } catch {
    return false;
  }
}

/**
 * The argv of the maker process: a compiled arrakis runs itself with the hidden command, else
 * deno runs initdb_child.ts with this checkout's config (and no --allow-run: it starts nothing).
 */
function makerCommand(): { command: string; args: string[] } {
  const here = import.meta.url;
  if (isCompiled(here)) return selfCommand([MAKE_STORE_COMMAND]);
  // The checkout's deno.json, beside main.ts (a copy without one resolves as the main program).
  const configArgs = configBeside(fromFileUrl(new URL("../../main.ts", here)));
  return {
    command: Deno.execPath(),
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--v8-flags=--liftoff-only",
      ...configArgs,
      ...PERMISSIONS.filter((flag) => flag !== "--allow-run"),
      fromFileUrl(new URL("./initdb_child.ts", here)),
    ],
  };
}

/**
 * Settles a Build from the maker's messages. The store is usable at `built`, while the maker
 * goes on to compress and save the template: the caller opens the store meanwhile. A request
 * of undefined (no store to make after all) settles both at once.
 */
function tracker(request: Promise<BuildRequest | undefined>, end: () => void) {
  let isBuilt = false;
  let built!: { resolve: () => void; reject: (error: Error) => void };
  let saved!: (error: string | undefined) => void;
  const build: Build = {
    built: new Promise((resolve, reject) => built = { resolve, reject }),
    saved: new Promise((resolve) => saved = resolve),
  };
  // Whatever befalls the maker once the store is written concerns only the template.
  const fail = (error: unknown) => {
    const text = errorMessage(error);
    if (!isBuilt) built.reject(new Error(`could not create the embedded store: ${text}`));
    saved(text);
    end();
  };
  const receive = async (message: BuildMessage) => {
    if (message.kind === "failed") return fail(message.message);
    if (message.kind === "saved") {
      saved(message.error);
      return end();
    }
    if (message.baseError !== undefined) {
      console.error(`arrakis: ${message.baseError}; ran initdb instead`);
    }
    isBuilt = true;
    built.resolve();
    if ((await request)?.templatePath === undefined) {
      saved(undefined);
      end();
    }
  };
  request.then((wanted) => {
    if (wanted !== undefined) return;
    built.resolve();
    saved(undefined);
    end();
  }, () => {});
  return { build, fail, receive };
}

/** The maker in a worker (initdb_worker.ts), given the compiled engine; ended once done. */
function makeInWorker(
  requested: Promise<BuildRequest | undefined>,
  compiling: Promise<WebAssembly.Module | undefined>,
): Build {
  // Started before the request is ready: the worker loads its modules meanwhile.
  const worker = new Worker(new URL("./initdb_worker.ts", import.meta.url), { type: "module" });
  const { build, fail, receive } = tracker(requested, () => worker.terminate());
  Promise.all([requested, compiling]).then(([request, pgliteWasmModule]) => {
    if (request === undefined) return;
    worker.onmessage = (event: MessageEvent<BuildMessage>) => receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      fail(`the worker failed: ${event.message}`);
    };
    worker.postMessage({ ...request, ...(pgliteWasmModule ? { pgliteWasmModule } : {}) });
  }, (error) => fail(error));
  return build;
}

/**
 * The maker in a child process (initdb_child.ts), which compiles its own engine: a module
 * cannot cross a process. Its stdin stays open while it runs, so it ends if this process dies.
 */
function makeInProcess(requested: Promise<BuildRequest | undefined>): Build {
  const { command, args } = makerCommand();
  // Started before the request is ready: the child loads its modules meanwhile.
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const { build, fail, receive } = tracker(requested, () => {});
  requested.then(async (request) => {
    // Without a request the child ends at once, having done nothing.
    if (request === undefined) return await stdin.close();
    await stdin.write(new TextEncoder().encode(`${JSON.stringify(request)}\n`));
  }).catch((error) => {
    fail(error);
    child.kill("SIGKILL");
  });
  (async () => {
    let pending = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let end: number;
      while ((end = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line.startsWith(MAKER_LINE_PREFIX)) {
          await receive(JSON.parse(line.slice(MAKER_LINE_PREFIX.length)));
        } else if (line !== "") console.error(line); // stdout is the server's own
      }
    }
    const status = await child.status;
    // Settles nothing already settled: a maker that said all it had to exits 0.
    fail(`the store maker exited with code ${status.code}`);
    await stdin.close().catch(() => {});
  })().catch((error) => fail(error));
  return build;
}

/**
 * Starts the maker of a new store: a child process where allowed, else a worker, which gets
 * `compiling` (pglite.wasm as this process compiles it for itself). Started before the request
 * is known, so that it loads meanwhile: `requested` resolves to undefined if no store is to be
 * made after all (a template was found), and the maker ends.
 */
export function startMaker(
  requested: Promise<BuildRequest | undefined>,
  compiling: Promise<WebAssembly.Module | undefined>,
): Build {
  return mayRunProcess() ? makeInProcess(requested) : makeInWorker(requested, compiling);
}
