// Full-text search: words in prompts, replies, tool output and errors; the exact phrase ranked
// first; -exclusions; filters; keyset paging that neither skips nor repeats; safe snippets.
import assert from "node:assert/strict";
import { storeTest } from "./helpers/stores.ts";
import { post, startInProcessServer } from "./helpers/server.ts";
import { sessionEvents } from "./helpers/conversation.ts";
import { envelope } from "./helpers/dashboard.ts";
import { CANDIDATES } from "../src/read/search.ts";

interface Hit {
  kind: string;
  id: string;
  session_id: string;
  anchor: string;
  rank: number;
  snippet: { text: string; mark: boolean }[];
}

storeTest("search: finds, ranks, excludes, filters and pages", async ({ db }) => {
  const server = await startInProcessServer(db);
  const search = async (query: string) => {
    const response = await fetch(`${server.url}/api/search?${query}`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    return { status: response.status, body: await response.json() };
  };
  const sessions = (hits: Hit[]) => [...new Set(hits.map((h) => h.session_id))].sort();
  try {
    const specs = [
      {
        sessionId: "s-cart",
        prompt: "Add a unit test for the cart total <script>alert(1)</script>",
        reply: "The cart total test passes now.",
        stdout: "PASS src/cart.test.ts quokka",
        error: "File does not exist: nope.ts",
        projectDir: "/home/dev/shop",
      },
      {
        sessionId: "s-words",
        prompt: "The total of the shopping cart is wrong",
        reply: "I fixed the rounding in payment totals.",
        stdout: "PASS src/payment.test.ts",
        error: "Permission denied: secrets.txt",
        projectDir: "/home/dev/bank",
      },
    ];
    for (const spec of specs) {
      const events = sessionEvents(spec);
      assert.equal((await post(server, "/api/claude-hooks/batch", events)).status, 200);
    }

    // Words in a prompt, a reply, a tool's output, a failed tool's error.
    const prompt = await search("q=shopping");
    assert.equal(prompt.status, 200);
    assert.deepEqual(prompt.body.hits.map((h: Hit) => [h.session_id, h.kind]), [[
      "s-words",
      "prompt",
    ]]);
    assert.deepEqual(
      (await search("q=rounding")).body.hits.map((h: Hit) => h.kind),
      ["reply"],
      "Stop's copy of the reply is a message too, but the transcript's is the one shown",
    );
    const tool = (await search("q=quokka")).body.hits;
    assert.deepEqual(tool.map((h: Hit) => h.kind), ["tool"]);
    assert.match(tool[0].anchor, /^t-\d+$/);
    assert.deepEqual((await search("q=denied")).body.hits.map((h: Hit) => h.kind), ["error"]);

    // The exact phrase first: both sessions hold "cart" and "total", only s-cart as a phrase.
    const both = (await search("q=cart+total&kind=prompt")).body.hits;
    assert.deepEqual(both.map((h: Hit) => h.session_id), ["s-cart", "s-words"]);
    assert.ok(both[0].rank > both[1].rank);
    const phrase = (await search(`q=${encodeURIComponent('"cart total"')}&kind=prompt`)).body;
    assert.deepEqual(phrase.hits.map((h: Hit) => h.session_id), ["s-cart"]);
    // -exclusions
    const excluded = (await search("q=cart+-shopping&kind=prompt")).body.hits;
    assert.deepEqual(excluded.map((h: Hit) => h.session_id), ["s-cart"]);
    // Filters: project, session, kind, time.
    assert.deepEqual(sessions((await search("q=pass&project=/home/dev/bank")).body.hits), [
      "s-words",
    ]);
    assert.deepEqual(sessions((await search("q=pass&session=s-cart")).body.hits), ["s-cart"]);
    assert.equal((await search("q=pass&until=2000-01-01T00:00:00Z")).body.hits.length, 0);
    assert.equal((await search("q=pass&since=1h")).body.hits.length > 0, true);

    // Snippets: matched words marked, text as data (renderers escape it).
    const snippet = (await search("q=alert&kind=prompt")).body.hits[0].snippet;
    assert.ok(snippet.some((p: Hit["snippet"][0]) => p.mark && /alert/i.test(p.text)));
    assert.ok(snippet.map((p: Hit["snippet"][0]) => p.text).join("").includes("<script>"));

    // Bad input: 400 with the reason, never a 500.
    for (const query of ["q=", "q=%20", "kind=nope&q=x", "q=x&cursor=nope", "q=x&since=soon"]) {
      const bad = await search(query);
      assert.equal(bad.status, 400, query);
      assert.equal(bad.body.status, "INVALID");
    }
    // Only stop words: a query that matches nothing, not an error.
    assert.deepEqual((await search("q=the")).body.hits, []);
    assert.equal((await search("q=pass")).body.capped, false);

    // A word in more messages than are ranked: the newest are ranked, and the answer says so.
    const [{ id }] = await server.sql`SELECT id FROM conversations WHERE session_id = 's-cart'`;
    await server.sql`
      INSERT INTO messages (conversation_id, session_id, role, source, dedupe_key, content)
      SELECT ${id}, 's-cart', 'user', 'prompt', 'many-' || g, 'walrus number ' || g
      FROM generate_series(1, ${CANDIDATES + 10}) g`;
    const many = (await search("q=walrus&limit=100")).body;
    assert.equal(many.capped, true);
    assert.equal(many.hits.length, 100);
    assert.equal((await search(`q=walrus+${CANDIDATES + 10}`)).body.capped, false);
  } finally {
    await server.stop();
  }
});

storeTest(
  "search: keyset paging neither skips nor repeats a hit, ties included",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    try {
      // 23 prompts with the same rank (one word, once each) and 4 that hold it twice.
      const events = [
        ...Array.from(
          { length: 23 },
          (_, i) =>
            envelope("UserPromptSubmit", `s-page-${i % 3}`, { prompt: `zebra number ${i}` }),
        ),
        ...Array.from(
          { length: 4 },
          (_, i) => envelope("UserPromptSubmit", "s-page-x", { prompt: `zebra zebra ${i}` }),
        ),
      ];
      assert.equal((await post(server, "/api/claude-hooks/batch", events)).status, 200);
      const seen: Hit[] = [];
      let cursor = "";
      for (let pageNo = 0; pageNo < 20; pageNo++) {
        const response = await fetch(
          `${server.url}/api/search?q=zebra&limit=5${cursor ? `&cursor=${cursor}` : ""}`,
          { headers: { authorization: `Bearer ${server.apiKey}` } },
        );
        const body = await response.json();
        seen.push(...body.hits);
        if (!body.nextCursor) {
          break;
        }
        cursor = body.nextCursor;
      }
      assert.equal(seen.length, 27);
      assert.equal(
        new Set(seen.map((h) => h.anchor)).size,
        27,
      );
      const ranks = seen.map((h) => h.rank);
      assert.deepEqual(ranks, [...ranks].sort((a, b) => b - a), "best first across pages");
      assert.ok(seen.slice(0, 4).every((h) => h.session_id === "s-page-x"));
    } finally {
      await server.stop();
    }
  },
);

storeTest(
  "search: the newest candidates are found past newer rows without the words, and later pages rank the first page's rows",
  async ({ db }) => {
    const server = await startInProcessServer(db);
    const page = async (q: string, cursor: string) => {
      const response = await fetch(
        `${server.url}/api/search?q=${q}&limit=100${cursor ? `&cursor=${cursor}` : ""}`,
        { headers: { authorization: `Bearer ${server.apiKey}` } },
      );
      assert.equal(response.status, 200);
      return await response.json();
    };
    try {
      const events = [envelope("UserPromptSubmit", "s-old", { prompt: "start" })];
      assert.equal((await post(server, "/api/claude-hooks/batch", events)).status, 200);
      const [{ id }] = await server.sql`SELECT id FROM conversations WHERE session_id = 's-old'`;
      const insert = (word: string, from: number, to: number) =>
        server.sql`
          INSERT INTO messages (conversation_id, session_id, role, source, dedupe_key, content)
          SELECT ${id}, 's-old', 'user', 'prompt', ${word} || '-' || g, ${word} || ' number ' || g
          FROM generate_series(${from}::int, ${to}::int) g`;
      // More matches than are ranked, nearly all older than many rows without the word: the
      // first window the estimate sizes holds only the few newest, the next one the rest.
      const matches = CANDIDATES * 2 + CANDIDATES / 2;
      await insert("walrus", 1, matches);
      await insert("filler", 1, CANDIDATES * 10);
      await insert("walrus", matches + 1, matches + 10);
      await server.sql`ANALYZE messages`;
      const [{ newest }] = await server.sql`
        SELECT max(id)::text AS newest FROM messages WHERE content LIKE 'walrus %'`;

      const seen: { id: string; kind: string; snippet: { text: string }[] }[] = [];
      let cursor = "";
      for (let pageNo = 0; pageNo < 20; pageNo++) {
        const body = await page("walrus", cursor);
        assert.equal(body.capped, true);
        seen.push(...body.hits);
        // Rows that arrive while a person pages on are not among the ranked ones.
        if (pageNo === 0) await insert("walrus", matches + 11, matches + 15);
        if (!body.nextCursor) break;
        cursor = body.nextCursor;
      }
      assert.equal(seen.length, CANDIDATES, "the newest CANDIDATES matches, each once");
      assert.equal(new Set(seen.map((hit) => hit.id)).size, CANDIDATES);
      assert.equal(seen[0].id, newest, "equal ranks: newest first");
      assert.ok(seen.every((hit) => hit.snippet.map((p) => p.text).join("").includes("walrus")));
      const oldest = Math.min(...seen.map((hit) => Number(hit.id)));
      const [{ older }] = await server.sql`
        SELECT count(*)::int AS older FROM messages
        WHERE content LIKE 'walrus %' AND id >= ${oldest} AND id <= ${newest}`;
      assert.equal(older, CANDIDATES, "no match between the oldest and newest ranked is left out");

      // A phrase is checked on the rows that hold its words: a phrase of two words found in
      // more rows than are ranked says so, and its hits are the rows with the phrase.
      await server.sql`
        INSERT INTO messages (conversation_id, session_id, role, source, dedupe_key, content)
        SELECT ${id}, 's-old', 'user', 'prompt', 'pair-' || g,
          CASE WHEN g % 10 = 0 THEN 'narwhal tusk ' || g ELSE 'tusk of the narwhal ' || g END
        FROM generate_series(1, ${CANDIDATES + 100}) g`;
      const phrase = await page(encodeURIComponent('"narwhal tusk"'), "");
      assert.equal(phrase.capped, true);
      assert.ok(phrase.hits.length > 0);
      assert.ok(
        phrase.hits.every((hit: Hit) =>
          /narwhal tusk/i.test(hit.snippet.map((p) => p.text).join(""))
        ),
      );
    } finally {
      await server.stop();
    }
  },
);
