// The listening address in words, and the one message for an address another process holds.

/** Says the address is taken and how to pick another; `null` when the error is something else. */
export function addressInUse(error: unknown, host: string, port: number): Error | null {
  if (!(error instanceof Deno.errors.AddrInUse)) return null;
  return new Error(
    `${host}:${port} is already in use (is another arrakis serve running?); ` +
      `choose another port with PORT=<n> or --port <n>`,
  );
}

/**
 * Fails with that message before anything is created (a first start makes a 39 MB store) when
 * the address is taken. Port 0 always has a free port to pick.
 */
export function assertAddressFree(host: string, port: number): void {
  if (port === 0) return;
  try {
    Deno.listen({ hostname: host, port }).close();
  } catch (error) {
    throw addressInUse(error, host, port) ?? error;
  }
}
