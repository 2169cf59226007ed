// Creates a fresh PGlite data directory in a worker: initdb's WebAssembly memory (hundreds of
// MiB, never returned while its instance lives) goes away with the worker.
import { PGlite } from "@electric-sql/pglite";

self.onmessage = async (event: MessageEvent<{ dataDir: string }>) => {
  try {
    const db = await PGlite.create(event.data.dataDir);
    await db.close();
    self.postMessage({ ok: true });
  } catch (error) {
    self.postMessage({
      ok: false,
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
