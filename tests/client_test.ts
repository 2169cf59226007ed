// The client against real loopback HTTP servers that answer what each case needs: headers
// sent, delivered / retryable / permanent classification, Retry-After, timeouts, batches.
import assert from "node:assert/strict";
import {
  type DeliveryOutcome,
  isRetryableStatus,
  parseRetryAfter,
  sendBatch,
  sendEnvelope,
} from "../src/client.ts";
import { VERSION } from "../src/version.ts";
import { envelope } from "./helpers/queue.ts";

interface Seen {
  path: string;
  headers: Headers;
  body: unknown;
}

/** A real HTTP server on a free loopback port answering with `answer`. */
function serve(answer: (request: Request, body: unknown) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const hung = new Set<PromiseWithResolvers<void>>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const text = await request.text();
      const body = text ? JSON.parse(text) : undefined;
      seen.push({ path: new URL(request.url).pathname, headers: request.headers, body });
      return await answer(request, body);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    /** A response that only comes when the server closes (for timeouts). */
    hang(): Promise<Response> {
      const wait = Promise.withResolvers<void>();
      hung.add(wait);
      return wait.promise.then(() => new Response(null, { status: 503 }));
    },
    async close() {
      for (const wait of hung) wait.resolve();
      await server.shutdown();
    },
  };
}

const target = (url: string) => ({ url, apiKey: "secret-key-1" });

Deno.test("sendEnvelope posts the envelope with key, request id, traceparent and user agent", async () => {
  const server = serve((_request, body) =>
    Response.json({ status: "SUCCESS", requestId: (body as { requestId: string }).requestId })
  );
  try {
    const e = envelope();
    const outcome = await sendEnvelope(target(server.url), e, { timeoutMs: 5_000 });
    assert.deepEqual(outcome, {
      kind: "delivered",
      httpStatus: 200,
      answer: { status: "SUCCESS", requestId: e.requestId },
    });
    const [request] = server.seen;
    assert.equal(request.path, "/api/claude-hooks");
    assert.equal(request.headers.get("authorization"), "Bearer secret-key-1");
    assert.equal(request.headers.get("x-request-id"), e.requestId);
    assert.equal(request.headers.get("traceparent"), `00-${e.traceId}-${e.spanId}-01`);
    assert.equal(request.headers.get("user-agent"), `arrakis/${VERSION}`);
    assert.equal(request.headers.get("content-type"), "application/json");
    assert.deepEqual(request.body, e);
  } finally {
    await server.close();
  }
});

Deno.test("statuses: 408, 429 and 5xx are retryable, other 4xx permanent with the answer", async () => {
  let status = 500;
  const server = serve(() =>
    Response.json({ status: status >= 500 ? "ERROR" : "INVALID", message: `answer ${status}` }, {
      status,
      headers: status === 429 ? { "retry-after": "7" } : {},
    })
  );
  try {
    const results: Record<number, DeliveryOutcome> = {};
    for (const code of [500, 502, 503, 408, 429, 400, 401, 404, 409, 413, 422]) {
      status = code;
      results[code] = await sendEnvelope(target(server.url), envelope(), { timeoutMs: 5_000 });
    }
    for (const code of [500, 502, 503, 408, 429]) {
      assert.equal(results[code].kind, "retryable", String(code));
      assert.equal(results[code].httpStatus, code);
    }
    assert.equal((results[429] as { retryAfterMs?: number }).retryAfterMs, 7_000);
    for (const code of [400, 401, 404, 409, 413, 422]) {
      const outcome = results[code];
      assert.equal(outcome.kind, "permanent", String(code));
      assert.deepEqual((outcome as { answer: unknown }).answer, {
        status: "INVALID",
        message: `answer ${code}`,
      });
      assert.equal((outcome as { error: string }).error, `HTTP ${code}: answer ${code}`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("a server that does not answer in time is a retryable timeout, not a hang", async () => {
  let server: ReturnType<typeof serve> | undefined = undefined;
  server = serve(() => server!.hang());
  try {
    const outcome = await sendEnvelope(target(server.url), envelope(), { timeoutMs: 200 });
    assert.deepEqual(outcome, {
      kind: "retryable",
      httpStatus: null,
      error: `no answer from ${server.url} within 200 ms`,
    });
  } finally {
    await server.close();
  }
});

Deno.test("a refused connection is retryable, and its message names the URL and the cause", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const outcome = await sendEnvelope(target(url), envelope(), { timeoutMs: 2_000 });
  assert.deepEqual(outcome, {
    kind: "retryable",
    httpStatus: null,
    error: `connection refused to ${url}`,
  });
});

Deno.test("a host that does not resolve and a TLS failure are named as such", async () => {
  const dns = await sendEnvelope(target("http://arrakis-no-such-host.invalid"), envelope(), {
    timeoutMs: 5_000,
  });
  assert.deepEqual(dns, {
    kind: "retryable",
    httpStatus: null,
    error: "cannot resolve the host of http://arrakis-no-such-host.invalid",
  });
  // A plain-HTTP listener spoken to over TLS.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("plain"),
  );
  try {
    const url = `https://127.0.0.1:${server.addr.port}`;
    const tls = await sendEnvelope(target(url), envelope(), { timeoutMs: 5_000 });
    assert.equal(tls.kind, "retryable");
    assert.match(
      tls.kind === "retryable" ? tls.error : "",
      new RegExp(`^TLS failed with ${url}: `),
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("sendBatch maps each item's own status, in order", async () => {
  const server = serve((_request, body) => {
    const items = body as { requestId: string }[];
    return Response.json({
      results: items.map((item, index) =>
        [
          { status: "SUCCESS", requestId: item.requestId, httpStatus: 200 },
          { status: "DUPLICATE", requestId: item.requestId, httpStatus: 200 },
          { status: "INVALID", requestId: item.requestId, httpStatus: 400, message: "bad" },
          { status: "ERROR", requestId: item.requestId, httpStatus: 500, message: "db down" },
        ][index % 4]
      ),
    });
  });
  try {
    const envelopes = [envelope(), envelope(), envelope(), envelope()];
    const outcomes = await sendBatch(target(server.url), envelopes, { timeoutMs: 5_000 });
    assert.equal(server.seen[0].path, "/api/claude-hooks/batch");
    assert.deepEqual(server.seen[0].body, envelopes);
    assert.deepEqual(outcomes.map((o) => [o.kind, o.httpStatus]), [
      ["delivered", 200],
      ["delivered", 200],
      ["permanent", 400],
      ["retryable", 500],
    ]);
    assert.equal((outcomes[1] as { answer: { status: string } }).answer.status, "DUPLICATE");
    assert.equal((outcomes[2] as { error: string }).error, "HTTP 400: bad");
  } finally {
    await server.close();
  }
});

Deno.test("sendBatch: a whole-request failure is every item's outcome; an unreadable 200 is retried", async () => {
  let mode = "503";
  const server = serve(() =>
    mode === "503"
      ? new Response("busy", { status: 503, headers: { "retry-after": "30" } })
      : new Response("<html>ok</html>", { status: 200 })
  );
  try {
    const envelopes = [envelope(), envelope()];
    const busy = await sendBatch(target(server.url), envelopes, { timeoutMs: 5_000 });
    assert.deepEqual(
      busy,
      [0, 1].map(() => ({
        kind: "retryable",
        httpStatus: 503,
        error: "HTTP 503: busy",
        retryAfterMs: 30_000,
      })),
    );
    mode = "html";
    const odd = await sendBatch(target(server.url), envelopes, { timeoutMs: 5_000 });
    assert.deepEqual(odd.map((o) => o.kind), ["retryable", "retryable"]);
  } finally {
    await server.close();
  }
});

Deno.test("sendBatch falls back to one request per envelope on a server without /batch", async () => {
  const server = serve((request, body) =>
    new URL(request.url).pathname.endsWith("/batch")
      ? new Response("not found", { status: 404 })
      : Response.json({ status: "SUCCESS", requestId: (body as { requestId: string }).requestId })
  );
  try {
    const envelopes = [envelope(), envelope()];
    const outcomes = await sendBatch(target(server.url), envelopes, { timeoutMs: 5_000 });
    assert.deepEqual(outcomes.map((o) => o.kind), ["delivered", "delivered"]);
    assert.deepEqual(server.seen.map((s) => s.path), [
      "/api/claude-hooks/batch",
      "/api/claude-hooks",
      "/api/claude-hooks",
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("Retry-After parses seconds and HTTP dates; retryable statuses are exactly 408, 429, 5xx", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", now), 60_000);
  assert.equal(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
  const retryable = [400, 401, 404, 408, 409, 413, 429, 500, 503, 599].filter(isRetryableStatus);
  assert.deepEqual(retryable, [408, 429, 500, 503, 599]);
});
