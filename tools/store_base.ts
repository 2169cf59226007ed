// `deno task store-base`: makes data/store-base/pglite-<key>.tar.gz, a new store as the
// installed PGlite's initdb writes it with this checkout's migrations applied
// (src/store/base.ts), and removes the bases of other PGlite builds. Run it after upgrading
// PGlite or adding a migration (tests/store_base_test.ts fails until then). It runs on an
// in-memory PGlite with PGlite's own defaults: start parameters are not written into the data
// directory, so the base serves whatever settings the store runs with.
import { PGlite } from "@electric-sql/pglite";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { baseKey, basePath, readBase, SHIPPED_BASE_DIR } from "../src/store/base.ts";
import { buildDataDir } from "../src/store/initdb_build.ts";
import { loadMigrations } from "../src/store/migrate.ts";
import { readEngine } from "../src/store/template.ts";
import { writeTar } from "../src/store/tar.ts";

const engine = await readEngine();
if (!engine) {
  console.error("store-base: PGlite's engine files cannot be read as files");
  Deno.exit(1);
}
const socketDir = await Deno.makeTempDir({ prefix: "arrakis-store-base-" }); // 0700
let tar: Uint8Array;
try {
  const entries = await buildDataDir({
    migrations: await loadMigrations(),
    socketPath: join(socketDir, "base.sock"),
    startParams: PGlite.defaultStartParams,
  }, undefined);
  tar = writeTar(entries);
} finally {
  await Deno.remove(socketDir, { recursive: true });
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
