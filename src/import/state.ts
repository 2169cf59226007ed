// The import's progress on disk: per transcript file, the byte offset up to which every line
// was committed by the server. A re-run (after Ctrl-C, a crash, or new lines) starts there.
import { dirname } from "node:path";
import { ensurePrivateDir, writeFileDurable } from "../durable.ts";

export interface FileProgress {
  offset: number;
  ino: number | null;
}

export interface ImportState {
  version: 1;
  files: Record<string, FileProgress>;
}

export async function readState(path: string): Promise<ImportState> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    if (value?.version === 1 && value.files && typeof value.files === "object") return value;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) && !(error instanceof SyntaxError)) throw error;
  }
  // A missing or unreadable state costs only time: the server dedupes what is sent again.
  return { version: 1, files: {} };
}

export async function writeState(path: string, state: ImportState): Promise<void> {
  await ensurePrivateDir(dirname(path));
  await writeFileDurable(path, JSON.stringify(state));
}
