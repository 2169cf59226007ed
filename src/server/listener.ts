// The HTTP listener: node:http under Hono's fetch handler, because Deno.serve has no header or
// idle timeouts, no connection cap, and ends for good on one accept error (EMFILE).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { log } from "../log.ts";

const logger = log("server", "listener");

export interface ListenerLimits {
  /** Time a client has to send the request line and headers (slow-header clients). */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request, body included. */
  requestTimeoutMs: number;
  /** How long a kept-alive connection may sit idle between requests. */
  idleTimeoutMs: number;
  /** Open connections at most; past it a new connection is closed at once. */
  maxConnections: number;
  /** How long shutdown waits for in-flight requests before cutting connections. */
  shutdownTimeoutMs: number;
}

export interface Listener {
  hostname: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish until the deadline, then cuts the rest. */
  close(): Promise<void>;
}

type Fetch = (request: Request, env: { incoming: IncomingMessage }) => Response | Promise<Response>;

/** One warning per interval at most: a flood must not turn into a flood of log lines. */
const CAP_LOG_INTERVAL_MS = 10_000;

export async function listen(
  options: { hostname: string; port: number; limits: ListenerLimits; fetch: Fetch },
): Promise<Listener> {
  const { limits } = options;
  const server: Server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    // How often node:http looks for connections past headersTimeout/requestTimeout.
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 4)),
  }, getRequestListener(options.fetch as never, { overrideGlobalObjects: false }));

  const open = new Set<Socket>();
  let refused = 0;
  let lastCapLog = -Infinity;
  // Runs before node:http's own listener: a refused socket is destroyed before it is parsed.
  server.prependListener("connection", (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      refused++;
      socket.destroy();
      const now = performance.now();
      if (now - lastCapLog >= CAP_LOG_INTERVAL_MS) {
        lastCapLog = now;
        logger.warn(
          "connection limit reached: {open} open (ARRAKIS_MAX_CONNECTIONS={max}); " +
            "closing new connections ({refused} so far)",
          { open: open.size, max: limits.maxConnections, refused },
        );
      }
      return;
    }
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  // A malformed request or a timeout: answer nothing more, free the socket.
  server.on("clientError", (_error: Error, socket: Socket) => socket.destroy());
  // Accept failures (EMFILE, ENFILE) are reported here; the listener keeps accepting.
  server.on("error", (error: Error) => {
    logger.warn("listener error (still accepting): {error}", { error: error.message });
  });

  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once("error", failed);
    server.listen(options.port, options.hostname, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("listener has no address");

  let closing: Promise<void> | undefined;
  return {
    hostname: address.address,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          if (open.size > 0) {
            logger.warn("shutdown deadline passed: closing {n} connections", { n: open.size });
          }
          for (const socket of open) socket.destroy();
        }, limits.shutdownTimeoutMs);
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
