// The HTTP listener: a bounded accept loop on Deno.listen feeding node:http's parser, with
// header, request and idle timeouts, a connection cap and a shutdown deadline. Deno.serve has
// none of these and stops for good on one accept error (EMFILE); node:http alone also stops
// accepting after EMFILE. Here no connection past the cap is ever accepted (the kernel's queue
// holds it), and a failed accept is retried after a pause.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import { getRequestListener } from "@hono/node-server";
import { log } from "../log.ts";
import { answer } from "./respond.ts";

const logger = log("server", "listener");

export interface ListenerLimits {
  /** Time a new connection has to send its request line and headers. */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request, body included. */
  requestTimeoutMs: number;
  /** How long a kept-alive connection may sit idle between requests. */
  idleTimeoutMs: number;
  /** Open connections at most; past it new ones wait in the kernel's accept queue. */
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

/** One warning per interval at most: a flood must not become a flood of log lines. */
const CAP_LOG_INTERVAL_MS = 10_000;
const ACCEPT_RETRY_MS = 100;
/** How long a closing connection keeps reading (and dropping) what its client still sends. */
const LINGER_MS = 5_000;
/**
 * How often the connections' deadlines are checked: one sweep for all of them instead of a
 * timer set and cleared per request (node:timers, several times per request, cost more than
 * the listener's own reads). A deadline is kept to within this much.
 */
const SWEEP_MS = 100;
/** Bytes asked of the socket per read: one such buffer per connection, reused for every read. */
const READ_BYTES = 16 * 1024;

/** One accepted connection as the stream node:http parses, with its own deadline timer. */
class Connection extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Requests whose response has not finished yet. */
  active = 0;
  /** When the listener's sweep cuts this connection (performance.now() ms), unless re-armed. */
  deadlineAt = Infinity;
  #reading = false;
  #lingering = false;
  #answerPending = false;
  #closeAfterAnswer = false;
  #buffer: Uint8Array | undefined;

  constructor(readonly conn: Deno.Conn) {
    super();
    const address = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = address.hostname;
    this.remotePort = address.port;
    (conn as Deno.TcpConn).setNoDelay?.(true);
  }

  /** Closes the connection unless cleared or re-armed within ms. */
  deadline(ms: number | undefined): void {
    this.deadlineAt = ms === undefined ? Infinity : performance.now() + ms;
  }

  /** Closes now, whatever is in flight (deadlines, shutdown). */
  kill(): void {
    this.#answerPending = false;
    super.destroy();
  }

  /**
   * A handler that stops reading a body (an early 413) destroys the request, which in node:http
   * destroys the socket before the answer is written. While an answer is pending, that becomes
   * a lingering close after the answer instead.
   */
  override destroy(error?: Error): this {
    if (!this.#answerPending) return super.destroy(error);
    this.#closeAfterAnswer = true;
    return this;
  }

  get lingering(): boolean {
    return this.#lingering;
  }

  /** Called by the listener around each request's answer. */
  answering(pending: boolean): void {
    this.#answerPending = pending;
    if (!pending && this.#closeAfterAnswer) this.destroySoon();
  }

  // The Deno.Conn's own read and write, not its web streams: a reader and a writer add a
  // promise chain per chunk through the streams machinery for nothing node:http uses.
  // One read buffer per connection, and what arrived copied out of it as a Buffer (small ones
  // from Buffer's pool): a fresh zeroed 16 KiB buffer per read was most of the listener's
  // garbage, and a Uint8Array pushed is converted to a Buffer by the stream anyway.
  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    const buffer = this.#buffer ??= new Uint8Array(READ_BYTES);
    this.conn.read(buffer).then((n) => {
      this.#reading = false;
      if (n === null) this.push(null);
      else if (this.#closeAfterAnswer) this._read(); // the body nobody reads: dropped
      else if (this.push(Buffer.from(buffer.subarray(0, n)))) this._read();
    }, () => this.kill());
  }

  override _write(chunk: Uint8Array, _encoding: string, done: (error?: Error) => void): void {
    this.#writeAll(chunk).then(() => done(), (error) => done(error));
  }

  async #writeAll(chunk: Uint8Array): Promise<void> {
    let written = await this.conn.write(chunk);
    while (written < chunk.byteLength) written += await this.conn.write(chunk.subarray(written));
  }

  /** Headers and body in one write (node:http corks them together). */
  override _writev(
    chunks: { chunk: Uint8Array }[],
    done: (error?: Error) => void,
  ): void {
    const total = chunks.reduce((n, { chunk }) => n + chunk.byteLength, 0);
    const joined = new Uint8Array(total);
    let offset = 0;
    for (const { chunk } of chunks) {
      joined.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this._write(joined, "buffer", done);
  }

  override _final(done: () => void): void {
    // Every write has completed by now (each _write waited for its own): send FIN.
    Promise.resolve().then(() => (this.conn as Deno.TcpConn).closeWrite())
      .catch(() => {/* closed already */}).finally(done);
  }

  /**
   * The close node:http asks for after a final response (an early 413, Connection: close): a
   * lingering close. The answer is sent and the write half shut, then whatever the client is
   * still uploading is read and dropped, so its TCP stack does not reset the connection
   * before the client has read the answer.
   */
  destroySoon(): void {
    if (this.#lingering) return;
    this.#lingering = true;
    this.deadline(LINGER_MS);
    this.end();
    this.on("data", () => {});
    this.resume();
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.deadlineAt = Infinity;
    try {
      this.conn.close();
    } catch { /* closed already */ }
    done(error);
  }

  // node:http sets socket timeouts and options; the deadlines here stand in for them.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

export function listen(
  options: { hostname: string; port: number; limits: ListenerLimits; fetch: Fetch },
): Listener {
  const { limits } = options;
  const server = createServer(
    getRequestListener(
      // node:http's bindings, as this server is HTTP/1.1 only.
      async (request, env) => {
        const bindings = env as { incoming: IncomingMessage; outgoing: ServerResponse };
        return answer(await options.fetch(request, bindings), bindings.outgoing);
      },
      { overrideGlobalObjects: false },
    ),
  );
  // A malformed request: answer nothing more, free the connection.
  server.on("clientError", (_error: Error, socket: Duplex) => (socket as Connection).kill());

  const open = new Set<Connection>();
  let closing = false;
  // node:http closes a connection after each response unless its server is "listening"; this
  // one never listens itself (the accept loop below feeds it), so it says so until shutdown.
  Object.defineProperty(server, "listening", { get: () => !closing });
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const connection = request.socket as unknown as Connection;
    connection.active++;
    connection.answering(true);
    connection.deadline(limits.requestTimeoutMs);
    let answered = false;
    // The request timeout covers receiving the request, not a long response (live streams).
    request.once("end", () => answered || connection.deadline(undefined));
    response.once("close", () => {
      answered = true;
      connection.active--;
      if (connection.active > 0) return;
      connection.answering(false);
      if (closing) connection.kill();
      else if (!connection.lingering) connection.deadline(limits.idleTimeoutMs);
    });
  });

  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const connection of open) if (connection.deadlineAt <= now) connection.kill();
  }, SWEEP_MS);
  const address = listener.addr as Deno.NetAddr;
  let wake: (() => void) | undefined;
  let lastCapLog = -Infinity;
  let lastAcceptLog = -Infinity;
  const accepting = (async () => {
    while (!closing) {
      if (open.size >= limits.maxConnections) {
        const now = performance.now();
        if (now - lastCapLog >= CAP_LOG_INTERVAL_MS) {
          lastCapLog = now;
          logger.warn(
            "connection limit reached: {open} open (ARRAKIS_MAX_CONNECTIONS={max}); " +
              "new connections wait until one closes",
            { open: open.size, max: limits.maxConnections },
          );
        }
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing) break;
        if (performance.now() - lastAcceptLog >= CAP_LOG_INTERVAL_MS) {
          lastAcceptLog = performance.now();
          logger.warn("accept failed (retrying): {error}", { error: String(error) });
        }
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      const connection = new Connection(conn);
      open.add(connection);
      connection.once("close", () => {
        open.delete(connection);
        wake?.();
        wake = undefined;
      });
      connection.on("error", () => connection.kill());
      connection.deadline(limits.headersTimeoutMs);
      server.emit("connection", connection);
    }
  })();

  let closed: Promise<void> | undefined;
  return {
    hostname: address.hostname,
    port: address.port,
    close() {
      closed ??= (async () => {
        closing = true;
        listener.close();
        wake?.();
        await accepting;
        for (const connection of open) if (connection.active === 0) connection.kill();
        const deadline = Date.now() + limits.shutdownTimeoutMs;
        while (open.size > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        if (open.size > 0) {
          logger.warn("shutdown deadline passed: closing {n} connections", { n: open.size });
          for (const connection of open) connection.kill();
        }
        clearInterval(sweep);
      })();
      return closed;
    },
  };
}
