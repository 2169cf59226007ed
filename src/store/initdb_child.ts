// The process that makes a new store (initdb_build.ts) for `arrakis serve`: everything it
// allocates goes back to the system when it exits, which a worker's memory does not all do
// (maker.ts). The request comes as one JSON line on stdin, the messages go out as marked JSON
// lines on stdout. Its parent holds the store's lock; when the parent dies (its end of stdin
// closes) this ends too, and while it runs it holds the makers' lock, which a later start waits
// for before it touches the data directory, so a maker that outlived its parent never writes
// beside a new one.
import { makeStore } from "./initdb_build.ts";
import type { BuildMessage, BuildRequest } from "./initdb_protocol.ts";
import { MAKER_LINE_PREFIX } from "./initdb_protocol.ts";
import { compileEngine, readEngineFile } from "./template.ts";

function say(message: BuildMessage): void {
  const line = new TextEncoder().encode(`${MAKER_LINE_PREFIX}${JSON.stringify(message)}\n`);
  for (let written = 0; written < line.length;) {
    written += Deno.stdout.writeSync(line.subarray(written));
  }
}

/** Reads the request line, then waits for stdin to close: the parent ended. */
async function readRequest(onClosed: () => void): Promise<BuildRequest> {
  const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* the parent writes nothing more */ }
  })().catch(() => {}).finally(onClosed);
  // No request: the parent needed no new store after all (or died).
  if (!text.includes("\n")) Deno.exit(0);
  return JSON.parse(text.slice(0, text.indexOf("\n")));
}

/** Makes the store stdin asks for; the exit code is 0 once every message is out. */
export async function runStoreMaker(): Promise<number> {
  let finished = false;
  const request = await readRequest(() => {
    if (!finished) Deno.exit(1);
  });
  // Not before the request: a start that finds the template dismisses this unasked. Compiled
  // while the base is read (the parent compiles its own: a module cannot cross a process).
  const compiling = readEngineFile("pglite.wasm").then(compileEngine, () => undefined);
  const lock = await Deno.open(request.makersLock, {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  await lock.lock(true);
  await makeStore(request, say, compiling);
  finished = true;
  lock.close();
  return 0;
}

if (import.meta.main) Deno.exit(await runStoreMaker());
