// The listener on its own, over real loopback TCP: the deadlines its sweep enforces (headers,
// idle), the connection cap, an early answer read by a client still uploading, and shutdown.
import assert from "node:assert/strict";
import { listen, type ListenerLimits } from "../src/server/listener.ts";

const LIMITS: ListenerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  maxConnections: 100,
  shutdownTimeoutMs: 5_000,
};

const encoder = new TextEncoder();

/** What the server sends until it closes the connection (EOF or reset). */
async function readUntilClosed(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  try {
    for (let n; (n = await conn.read(buffer)) !== null;) {
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } catch { /* reset: closed too */ }
  return text;
}

function serve(limits: Partial<ListenerLimits>, handler?: (request: Request) => Promise<Response>) {
  return listen({
    hostname: "127.0.0.1",
    port: 0,
    limits: { ...LIMITS, ...limits },
    fetch: handler ?? (() => Promise.resolve(new Response("ok"))),
  });
}

Deno.test("listener: a connection that never ends its headers is closed at the deadline", async () => {
  const listener = serve({ headersTimeoutMs: 300 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    assert.equal(await readUntilClosed(conn), "");
    conn.close();
  } finally {
    await listener.close();
  }
});

Deno.test("listener: a kept-alive connection is answered, then closed once idle", async () => {
  const listener = serve({ idleTimeoutMs: 300 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const text = await readUntilClosed(conn);
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /\r\n\r\nok$/);
    conn.close();
  } finally {
    await listener.close();
  }
});

Deno.test("listener: past the cap a connection waits, and is served once another closes", async () => {
  const listener = serve({ maxConnections: 2 });
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: listener.port }));
    }
    const waiting = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
    await waiting.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const answer = readUntilClosed(waiting);
    let answered = false;
    answer.then(() => (answered = true));
    // Both held connections must be open on the server's side before the wait means anything:
    // a request on each is answered.
    for (const conn of held) {
      await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const buffer = new Uint8Array(4096);
      assert.ok((await conn.read(buffer))! > 0);
    }
    assert.equal(answered, false, "a connection past the cap was served");
    held.shift()!.close();
    assert.match(await answer, /^HTTP\/1\.1 200/);
    waiting.close();
  } finally {
    for (const conn of held) conn.close();
    await listener.close();
  }
});

Deno.test("listener: an early answer reaches a client that is still uploading", async () => {
  const listener = serve({}, async (request) => {
    await request.body?.cancel();
    return new Response("too large", { status: 413 });
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
    await conn.write(
      encoder.encode("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"),
    );
    const chunk = encoder.encode("x".repeat(64 * 1024));
    const uploading = (async () => {
      try {
        for (let i = 0; i < 16; i++) await conn.write(chunk);
      } catch { /* the server closed: expected once it answered */ }
    })();
    assert.match(await readUntilClosed(conn), /^HTTP\/1\.1 413/);
    await uploading;
    conn.close();
  } finally {
    await listener.close();
  }
});

Deno.test("listener: shutdown lets a request finish within the deadline, then cuts the rest", async () => {
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  let entered = 0;
  let bothIn!: () => void;
  const inHandler = new Promise<void>((resolve) => (bothIn = resolve));
  const listener = serve({ shutdownTimeoutMs: 300 }, async (request) => {
    if (++entered === 2) bothIn();
    if (new URL(request.url).pathname === "/stuck") await new Promise(() => {});
    await slow;
    return new Response("finished");
  });
  const port = listener.port;
  const finishing = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.text());
  const stuck = fetch(`http://127.0.0.1:${port}/stuck`).then((r) => r.text(), (e) => e);
  await inHandler;
  const closing = listener.close();
  release();
  assert.equal(await finishing, "finished");
  await closing;
  assert.ok((await stuck) instanceof Error, "the stuck request was cut at the deadline");
});

Deno.test("listener: whole bodies are answered with their length, cookies and status as given", async () => {
  const listener = serve({}, (request) => {
    if (request.method === "HEAD" || new URL(request.url).pathname === "/json") {
      const headers = new Headers({ "content-type": "application/json" });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/");
      return Promise.resolve(
        new Response(JSON.stringify({ ünï: "cödé" }), { status: 201, headers }),
      );
    }
    return Promise.resolve(new Response(null, { status: 204 }));
  });
  try {
    const json = await fetch(`http://127.0.0.1:${listener.port}/json`);
    assert.equal(json.status, 201);
    assert.deepEqual(json.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
    const bytes = new TextEncoder().encode(JSON.stringify({ ünï: "cödé" })).byteLength;
    assert.equal(json.headers.get("content-length"), String(bytes));
    assert.equal(json.headers.get("transfer-encoding"), null);
    assert.deepEqual(await json.json(), { ünï: "cödé" });

    const empty = await fetch(`http://127.0.0.1:${listener.port}/nothing`);
    assert.equal(empty.status, 204);
    assert.equal(empty.headers.get("content-length"), null);
    assert.equal(await empty.text(), "");

    // HEAD: the GET answer's headers, its length, and no body.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
    await conn.write(encoder.encode("HEAD /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const head = await readUntilClosed(conn);
    conn.close();
    assert.match(head, /^HTTP\/1\.1 201/);
    assert.match(head, new RegExp(`content-length: ${bytes}\\r\\n`, "i"));
    assert.match(head, /\r\n\r\n$/);
  } finally {
    await listener.close();
  }
});

Deno.test("listener: a chunked (streamed) answer goes out as it is produced", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const listener = serve({}, () => {
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode("data: first\n\n"));
        await released;
        controller.enqueue(encoder.encode("data: second\n\n"));
        controller.close();
      },
    });
    return Promise.resolve(
      new Response(body, {
        headers: { "content-type": "text/event-stream", "transfer-encoding": "chunked" },
      }),
    );
  });
  try {
    const response = await fetch(`http://127.0.0.1:${listener.port}/stream`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    // The first event arrives while the handler still holds the second back.
    assert.equal((await reader.read()).value, "data: first\n\n");
    release();
    let rest = "";
    for (let part; !(part = await reader.read()).done;) rest += part.value;
    assert.equal(rest, "data: second\n\n");
  } finally {
    await listener.close();
  }
});
