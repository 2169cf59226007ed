// Loopback networking for tests: a free port, and waiting for a server to answer.
export function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return Promise.resolve(port);
}

export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch { /* not up yet */ }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms`);
}

/** A request body produced piece by piece, so the client never holds all of it. */
export function streamOf(bytes: number, chunk = 1024 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  const piece = new TextEncoder().encode("z".repeat(chunk));
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(piece);
      sent += piece.length;
    },
  });
}
