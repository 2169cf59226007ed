/**
 * The Deno permissions arrakis runs with: what `deno task compile` grants (deno.json cannot
 * import this list, so keep the two in step), and what a re-executed arrakis (the detached
 * drain) and the tests pass.
 */
export const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
  "--allow-run",
];

/**
 * What the installed launcher grants: the same, except that the only program arrakis may run
 * is the deno binary it runs on (it re-executes itself, nothing else), and the hook, which does
 * only local work, gets no network at all.
 */
export function launcherPermissions(deno: string, options: { net?: boolean } = {}): string[] {
  return PERMISSIONS.filter((flag) => options.net !== false || flag !== "--allow-net")
    .map((flag) => flag === "--allow-run" ? `--allow-run=${deno}` : flag);
}
