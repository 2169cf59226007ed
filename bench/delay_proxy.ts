// A remote server on loopback: a TCP proxy that holds every chunk for a fixed delay each way
// (RTT = 2 × delay), in front of a TLS terminator forwarding to a plain `arrakis serve`. The
// delay sits on the encrypted stream, so a TLS handshake pays its round trips as it would over
// the internet. The certificate is made with openssl at start into a temp dir; clients trust
// it through DENO_CERT=<certFile> in their environment.
import { join } from "node:path";

export interface DelayProxy {
  /** https://127.0.0.1:<port>, no trailing slash. */
  url: string;
  /** The self-signed certificate (PEM) to put in DENO_CERT. */
  certFile: string;
  /** TCP connections clients opened (each one a TLS handshake). */
  connections(): number;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 and localhost, valid two days. */
export async function makeCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`openssl failed: ${new TextDecoder().decode(stderr)}`);
  return { certFile, keyFile };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function writeAll(to: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await to.write(bytes.subarray(written));
}

/** Copies from → to, each chunk written delayMs after it arrived, in order. */
async function delayedPipe(from: Deno.Conn, to: Deno.Conn, delayMs: number): Promise<void> {
  let chain = Promise.resolve();
  let broken = false;
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (!broken) {
      const n = await from.read(buffer);
      if (n === null) break;
      const chunk = buffer.slice(0, n);
      const due = performance.now() + delayMs;
      chain = chain.then(async () => {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        await writeAll(to, chunk);
      }).catch(() => {
        broken = true; // the receiving side went away
      });
    }
  } catch { /* the sending side went away */ }
  await chain;
  try {
    await to.closeWrite();
  } catch { /* already closed */ }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** Starts the proxy in front of http://127.0.0.1:<upstreamPort>. */
export async function startDelayProxy(
  opts: { upstreamPort: number; rttMs: number; dir?: string },
): Promise<DelayProxy> {
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "arrakis-delay-proxy-" });
  const { certFile, keyFile } = await makeCertificate(dir);
  const delayMs = opts.rttMs / 2;
  const open = new Set<Deno.Conn>();
  const track = (conn: Deno.Conn) => {
    open.add(conn);
    return () => {
      open.delete(conn);
      closeQuietly(conn);
    };
  };

  // TLS terminator → the plain server.
  const tls = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  });
  const tlsLoop = (async () => {
    for await (const conn of tls) {
      (async () => {
        const releaseClient = track(conn);
        let upstream: Deno.Conn | undefined;
        try {
          upstream = await Deno.connect({ hostname: "127.0.0.1", port: opts.upstreamPort });
          const releaseUpstream = track(upstream);
          await Promise.all([delayedPipe(conn, upstream, 0), delayedPipe(upstream, conn, 0)]);
          releaseUpstream();
        } catch { /* handshake failed or the server is down: the client sees a reset */ }
        releaseClient();
      })();
    }
  })().catch(() => {});

  // The delaying TCP front → the TLS terminator.
  const front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const frontLoop = (async () => {
    for await (const conn of front) {
      connections++;
      (async () => {
        const releaseClient = track(conn);
        try {
          const inner = await Deno.connect({
            hostname: "127.0.0.1",
            port: (tls.addr as Deno.NetAddr).port,
          });
          const releaseInner = track(inner);
          await Promise.all([delayedPipe(conn, inner, delayMs), delayedPipe(inner, conn, delayMs)]);
          releaseInner();
        } catch { /* closed */ }
        releaseClient();
      })();
    }
  })().catch(() => {});

  return {
    url: `https://127.0.0.1:${(front.addr as Deno.NetAddr).port}`,
    certFile,
    connections: () => connections,
    async close() {
      front.close();
      tls.close();
      for (const conn of open) closeQuietly(conn);
      await Promise.all([tlsLoop, frontLoop]);
      if (!opts.dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
