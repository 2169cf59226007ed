// A loopback load balancer for tests: each HTTP request goes to the next backend in turn, like
// a platform's router in front of several instances. A backend that refuses the connection is
// skipped for that request; when none answers, the client gets a 502 (and retries).
export interface RoundRobinProxy {
  url: string;
  /** Requests forwarded to each backend URL. */
  counts: Map<string, number>;
  close(): Promise<void>;
}

const HOP_HEADERS = ["connection", "keep-alive", "transfer-encoding", "host", "content-length"];

export function startRoundRobinProxy(backends: () => string[]): RoundRobinProxy {
  let next = 0;
  const counts = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const incoming = new URL(request.url);
    const headers = new Headers(request.headers);
    for (const name of HOP_HEADERS) headers.delete(name);
    // Buffered once so a refused connection can be retried on the next backend.
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
    const list = backends();
    for (let tried = 0; tried < list.length; tried++) {
      const backend = list[next++ % list.length];
      try {
        const upstream = await fetch(`${backend}${incoming.pathname}${incoming.search}`, {
          method: request.method,
          headers,
          body,
          redirect: "manual",
        });
        counts.set(backend, (counts.get(backend) ?? 0) + 1);
        const out = new Headers(upstream.headers);
        for (const name of HOP_HEADERS) out.delete(name);
        return new Response(upstream.body, { status: upstream.status, headers: out });
      } catch {
        // Connection refused or reset: this instance is down; the next one may answer.
      }
    }
    return Response.json({ status: "ERROR", message: "no backend answered" }, { status: 502 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    counts,
    close: () => server.shutdown(),
  };
}
