// `deno task store-base`: makes data/store-base/pglite-<key>.tar.gz, what initdb writes in the
// installed PGlite (src/store/base.ts), and removes the bases of other PGlite builds. Run it
// after upgrading PGlite (tests/store_base_test.ts fails until then). initdb runs on an
// in-memory PGlite with PGlite's own defaults: start parameters are not written into the data
// directory, so the base serves whatever settings the store runs with.
import { PGlite } from "@electric-sql/pglite";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { baseKey, basePath, readBase, SHIPPED_BASE_DIR } from "../src/store/base.ts";
import { readEngine } from "../src/store/template.ts";

const engine = await readEngine();
if (!engine) {
  console.error("store-base: PGlite's engine files cannot be read as files");
  Deno.exit(1);
}
const db = await PGlite.create();
let tar: Uint8Array;
try {
  // Every dirty page into the files the dump reads (else they live only in the WAL).
  await db.exec("CHECKPOINT");
  tar = new Uint8Array(await (await db.dumpDataDir("none")).arrayBuffer());
} finally {
  await db.close();
}
await Deno.mkdir(SHIPPED_BASE_DIR, { recursive: true });
const path = basePath(SHIPPED_BASE_DIR, await baseKey(engine.digest));
// Level 9: the file lives in the repository, and it is read only by a store's first start.
await Deno.writeFile(path, gzipSync(tar, { level: 9 }));
await readBase(path); // what a first start checks
for (const entry of Deno.readDirSync(SHIPPED_BASE_DIR)) {
  const other = join(SHIPPED_BASE_DIR, entry.name);
  if (other !== path) await Deno.remove(other);
}
console.log(`store-base: ${path} (${(await Deno.stat(path)).size} bytes)`);
