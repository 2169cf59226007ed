// Temporary directories and files of a test process, every one removed when the process ends:
// a run of the suite used to leave ~80 MB of homes, spools and embedded stores in the system's
// temp directory each time. Each is made where Deno puts it, its path no longer than before
// (an embedded store's socket path has a length limit).
const made = new Set<string>();

globalThis.addEventListener("unload", () => {
  for (const path of made) {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch { /* already removed by its test */ }
  }
});

const DEFAULT_PREFIX = "arrakis-test-";

export async function tempDir(prefix = DEFAULT_PREFIX): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  made.add(dir);
  return dir;
}

export function tempDirSync(prefix = DEFAULT_PREFIX): string {
  const dir = Deno.makeTempDirSync({ prefix });
  made.add(dir);
  return dir;
}

export async function tempFile(prefix = DEFAULT_PREFIX): Promise<string> {
  const file = await Deno.makeTempFile({ prefix });
  made.add(file);
  return file;
}
