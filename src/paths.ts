// Path arithmetic for the hook's modules without node:path: importing any node: module starts
// Deno's Node compatibility layer, ~6 ms of every hook run (measured against a bare script),
// which is most of what the hook may cost over the floor. POSIX rules here; on Windows the
// real node:path does the work. tests/paths_test.ts holds these to node:path's answers.
type PathModule = typeof import("node:path");
type UrlModule = typeof import("node:url");

const windows: PathModule | undefined = Deno.build.os === "windows"
  ? await import("node:path")
  : undefined;
const windowsUrl: UrlModule | undefined = Deno.build.os === "windows"
  ? await import("node:url")
  : undefined;

export const sep: string = windows?.sep ?? "/";

function normalize(path: string, keepTrailingSlash = false): string {
  const absolute = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!absolute) parts.push("..");
      continue;
    }
    parts.push(part);
  }
  let joined = parts.join("/");
  if (keepTrailingSlash && path.endsWith("/") && joined !== "") joined += "/";
  return absolute ? `/${joined}` : joined || (keepTrailingSlash && path.endsWith("/") ? "./" : ".");
}

export function isAbsolute(path: string): boolean {
  return windows ? windows.isAbsolute(path) : path.startsWith("/");
}

export function join(...parts: string[]): string {
  if (windows) return windows.join(...parts);
  return normalize(parts.filter((part) => part !== "").join("/") || ".", true);
}

export function resolve(path: string): string {
  if (windows) return windows.resolve(path);
  return normalize(isAbsolute(path) ? path : `${Deno.cwd()}/${path}`);
}

export function dirname(path: string): string {
  if (windows) return windows.dirname(path);
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") || "/" : path;
  const index = trimmed.lastIndexOf("/");
  if (index < 0) return ".";
  if (index === 0) return "/";
  return trimmed.slice(0, index).replace(/\/+$/, "") || "/";
}

export function basename(path: string): string {
  if (windows) return windows.basename(path);
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

export function relative(from: string, to: string): string {
  if (windows) return windows.relative(from, to);
  const a = resolve(from).split("/").filter(Boolean);
  const b = resolve(to).split("/").filter(Boolean);
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return [...Array(a.length - common).fill(".."), ...b.slice(common)].join("/");
}

/** The path a file: URL names (node:url's fileURLToPath, POSIX rules here). */
export function fromFileUrl(url: string | URL): string {
  if (windowsUrl) return windowsUrl.fileURLToPath(url);
  const parsed = url instanceof URL ? url : new URL(url);
  if (parsed.protocol !== "file:") throw new TypeError(`${parsed.href} is not a file: URL`);
  if (parsed.hostname !== "") throw new TypeError(`${parsed.href} names a host`);
  if (/%2f/i.test(parsed.pathname)) throw new TypeError(`${parsed.href} encodes a '/'`);
  return decodeURIComponent(parsed.pathname);
}
