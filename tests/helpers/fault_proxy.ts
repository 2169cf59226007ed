// A loopback HTTP proxy in front of the server that can pass requests through, answer 500,
// hang (accept and never answer until the mode changes), or refuse connections.
export type FaultMode = "pass" | "error500" | "hang" | "refuse";

export interface FaultProxy {
  url: string;
  port: number;
  mode: FaultMode;
  setMode(mode: FaultMode): Promise<void>;
  /** Requests answered per mode, for the test's fault counts. */
  counts: Record<FaultMode, number>;
  close(): Promise<void>;
}

export function startFaultProxy(target: () => string): FaultProxy {
  let mode: FaultMode = "pass";
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let port = 0;
  let releaseHung = Promise.withResolvers<void>();
  const counts: Record<FaultMode, number> = { pass: 0, error500: 0, hang: 0, refuse: 0 };

  const handler = async (request: Request): Promise<Response> => {
    const current = mode;
    counts[current]++;
    if (current === "error500") {
      await request.body?.cancel();
      return Response.json({ status: "ERROR", message: "injected fault" }, { status: 500 });
    }
    if (current === "hang") {
      // Held until the mode changes; then the client has long given up.
      await releaseHung.promise;
      return new Response(null, { status: 503, headers: { "retry-after": "1" } });
    }
    const incoming = new URL(request.url);
    const url = `${target()}${incoming.pathname}${incoming.search}`;
    try {
      const upstream = await fetch(url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
      });
      return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
    } catch {
      return new Response("bad gateway", { status: 502 });
    }
  };

  const listen = () => {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
    port = (server.addr as Deno.NetAddr).port;
  };
  listen();

  const proxy: FaultProxy = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get mode() {
      return mode;
    },
    counts,
    async setMode(next: FaultMode) {
      if (mode === "hang" && next !== "hang") {
        releaseHung.resolve();
        releaseHung = Promise.withResolvers<void>();
      }
      if (next === "refuse" && mode !== "refuse") {
        counts.refuse++;
        await server?.shutdown();
        server = undefined;
      }
      if (mode === "refuse" && next !== "refuse") listen();
      mode = next;
    },
    async close() {
      releaseHung.resolve();
      await server?.shutdown();
    },
  };
  return proxy;
}
