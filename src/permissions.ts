/**
 * The Deno permissions arrakis runs with: what `deno task install` and `deno task compile`
 * grant (deno.json cannot import this list, so keep the two in step), and what a re-executed
 * arrakis (the detached drain) and the tests pass.
 */
export const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
  "--allow-run",
];
