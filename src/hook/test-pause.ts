// Crash tests need to SIGKILL the hook at an exact step. With ARRAKIS_TEST_PAUSE_AT=<point> the
// hook announces "arrakis-test-paused:<point>" on stderr and sleeps there for a minute; the test
// kills it. Points: before-spool, after-spool, before-send, after-send. Unset in real use: then
// this is one string comparison per point.

export async function pauseForTest(
  point: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  if (env.ARRAKIS_TEST_PAUSE_AT !== point) return;
  await Deno.stderr.write(new TextEncoder().encode(`arrakis-test-paused:${point}\n`));
  await new Promise((resolve) => setTimeout(resolve, 60_000));
}
