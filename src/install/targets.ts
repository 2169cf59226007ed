// Where `arrakis install` may write inside a project: a repository can commit links, so a path
// is followed only while it stays inside the project, and .gitignore belongs to git work trees.
import { dirname, isAbsolute, join, relative, resolve } from "node:path";

/** The file to write for `path`: itself, or the in-project file its links lead to. */
export type Target = { write: string } | { refused: string };

/**
 * Resolves `path` (inside `projectDir`) through every link on the way. A link that leads
 * outside the project, or to nothing, is refused: install never writes where a repository
 * pointed it.
 */
export async function projectTarget(projectDir: string, path: string): Promise<Target> {
  const root = await Deno.realPath(projectDir);
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (info?.isSymlink) {
    let real: string;
    try {
      real = await Deno.realPath(path);
    } catch {
      return { refused: `${path} is a link to a missing file; nothing written` };
    }
    return inside(root, real) ? { write: real } : {
      refused: `${path} is a link to ${real}, outside the project ${root}; nothing written`,
    };
  }
  // Not a link itself (or not there yet): the directories above it may be links.
  const parent = await nearestExisting(dirname(path));
  let realParent: string;
  try {
    realParent = await Deno.realPath(parent);
  } catch {
    return { refused: `${parent} is a link to a missing place; nothing written` };
  }
  if (!inside(root, realParent)) {
    return {
      refused: `${parent} leads to ${realParent}, outside the project ${root}; nothing written`,
    };
  }
  return { write: join(realParent, relative(parent, path)) };
}

/** Whether `dir` is inside a git work tree: a `.git` entry in it or in a parent. */
export async function inGitWorkTree(dir: string): Promise<boolean> {
  for (let current = resolve(dir);; current = dirname(current)) {
    try {
      await Deno.lstat(join(current, ".git"));
      return true;
    } catch { /* not here */ }
    if (dirname(current) === current) return false;
  }
}

async function nearestExisting(dir: string): Promise<string> {
  for (let current = dir;; current = dirname(current)) {
    try {
      await Deno.lstat(current);
      return current;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || dirname(current) === current) throw error;
    }
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith("../") && !isAbsolute(rel));
}
