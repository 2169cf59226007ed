// Dashboard sessions and keys: sign-out revokes the session on every instance and across
// restarts, `next` never leaves the origin, sign-ins are throttled per source, the CSRF Origin
// check includes the scheme, and weak keys stop `serve` at start with one clear error.
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { startInProcessServer } from "./helpers/server.ts";
import { runArrakis } from "./helpers/cli.ts";
import { safeNext } from "../src/dashboard/app.ts";
import { FAILED_SIGN_INS_PER_MINUTE } from "../src/server/unauthorized.ts";
import { tempDir } from "./helpers/temp.ts";

const KEY = "session-key-0123456789abcdef";

async function signIn(url: string, key = KEY, next = "/events") {
  return await fetch(`${url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key, next }),
  });
}

async function cookieOf(url: string): Promise<string> {
  const response = await signIn(url);
  assert.equal(response.status, 303);
  await response.body?.cancel();
  return response.headers.get("set-cookie")!.split(";")[0];
}

async function statusWith(url: string, cookie: string): Promise<number> {
  const response = await fetch(`${url}/api/sessions`, { headers: { cookie } });
  await response.body?.cancel();
  return response.status;
}

storeTest(
  "sessions: sign-out revokes the cookie on every instance and after a restart",
  async ({ db }) => {
    const a = await startInProcessServer(db, { ARRAKIS_API_KEY: KEY });
    const b = db.kind === "postgres"
      ? await startInProcessServer(db, { ARRAKIS_API_KEY: KEY })
      : undefined;
    let restarted: Awaited<ReturnType<typeof startInProcessServer>> | undefined;
    try {
      const cookie = await cookieOf(a.url);
      const other = await cookieOf(a.url);
      assert.equal(await statusWith(a.url, cookie), 200);
      if (b) assert.equal(await statusWith(b.url, cookie), 200);
      const out = await fetch(`${a.url}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, origin: a.url },
      });
      assert.equal(out.status, 303);
      await out.body?.cancel();
      // The cookie a browser would have kept (or an attacker copied) is refused from now on.
      assert.equal(await statusWith(a.url, cookie), 401);
      if (b) assert.equal(await statusWith(b.url, cookie), 401);
      // Other sessions live on.
      assert.equal(await statusWith(a.url, other), 200);
      await a.stop();
      restarted = await startInProcessServer(db, { ARRAKIS_API_KEY: KEY });
      assert.equal(await statusWith(restarted.url, cookie), 401);
      assert.equal(await statusWith(restarted.url, other), 200);
    } finally {
      await a.stop();
      await b?.stop();
      await restarted?.stop();
    }
  },
);

Deno.test("sessions: next is a same-origin path, whatever the browser would make of it", () => {
  for (
    const bad of [
      "//evil.example",
      "/\t/evil.example",
      "/\\evil.example",
      "/\n/evil",
      "https://evil.example",
      "evil",
      "/ /x",
    ]
  ) {
    assert.equal(safeNext(bad), "/", JSON.stringify(bad));
  }
  assert.equal(safeNext("/events?status=ERROR#top"), "/events?status=ERROR#top");
  assert.equal(safeNext("/sessions/abc"), "/sessions/abc");
  assert.equal(safeNext(undefined), "/");
});

storeTest(
  "sessions: /login?next=/%09/host redirects on-site, and sign-in posts obey the same rule",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_API_KEY: KEY });
    try {
      const cookie = await cookieOf(server.url);
      const get = await fetch(`${server.url}/login?next=/%09/evil.example`, {
        redirect: "manual",
        headers: { cookie },
      });
      assert.equal(get.status, 302);
      assert.equal(get.headers.get("location"), "/");
      await get.body?.cancel();
      const posted = await signIn(server.url, KEY, "/\t/evil.example");
      assert.equal(posted.headers.get("location"), "/");
      await posted.body?.cancel();
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

storeTest(
  "sessions: failed sign-ins are throttled per source, even the right key waits it out",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_API_KEY: KEY });
    try {
      for (let i = 0; i < FAILED_SIGN_INS_PER_MINUTE; i++) {
        const wrong = await signIn(server.url, `wrong-guess-${i}-0123456789`);
        assert.equal(wrong.status, 401);
        await wrong.body?.cancel();
      }
      const blocked = await signIn(server.url);
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.headers.get("retry-after")) >= 1);
      assert.match(await blocked.text(), /Too many keys tried/);
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

storeTest(
  "sessions: a form post whose Origin differs only in scheme is refused",
  async ({ db }) => {
    const server = await startInProcessServer(db, { ARRAKIS_API_KEY: KEY });
    try {
      const https = server.url.replace("http://", "https://");
      const response = await fetch(`${server.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { origin: https, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ key: KEY }),
      });
      assert.equal(response.status, 403);
      await response.body?.cancel();
      // Behind a TLS proxy the browser's https origin matches X-Forwarded-Proto.
      const proxied = await fetch(`${server.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: {
          origin: https,
          "x-forwarded-proto": "https",
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ key: KEY }),
      });
      assert.equal(proxied.status, 303);
      await proxied.body?.cancel();
    } finally {
      await server.stop();
    }
  },
  { kinds: ["pglite"] },
);

Deno.test("keys: a short or predictable key stops serve at start, naming neither", async () => {
  const home = await tempDir("arrakis-weak-");
  try {
    for (
      const [key, reason] of [
        ["short-key-1", /11 characters; use at least 16/],
        ["aaaaaaaaaaaaaaaaaaaaaaaaaaaa", /too predictable/],
        [`${KEY},abababababababababababab`, /key 2 of 2 is too predictable/],
      ] as const
    ) {
      const result = await runArrakis(["serve"], {
        env: { ARRAKIS_HOME: home, ARRAKIS_API_KEY: key, PORT: "0" },
      });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /ARRAKIS_API_KEY/);
      assert.match(result.stderr, reason);
      for (const part of key.split(",")) assert.ok(!result.stderr.includes(part), result.stderr);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
