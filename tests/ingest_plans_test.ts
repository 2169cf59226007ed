// The group path's statements keep good plans whatever the statistics: postgres.js prepares
// the dedupe read, PostgreSQL caches the plans of the group's one function
// (migrations/0010_row_arrays.sql), and a generic plan made while a table was empty (or never
// analyzed) stays cached while the table grows. On a fresh, never-analyzed database forced onto
// generic plans, every statement a group ran must find its rows through an index: no
// sequential scan of a table, no index read end to end (the dedupe read once scanned the whole
// partial index of SUCCESS rows as the outer side of its join, 200-700 ms a group at 8,000
// rows). The function's own statements are seen through auto_explain, which logs the plan each
// one ran with.
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { sessionEnvelopes } from "./helpers/session.ts";
import { createCommitter } from "../src/server/group.ts";
import { groupItem } from "./helpers/ingest.ts";
import { uuidv7 } from "../src/ids.ts";
import { auto_explain } from "@electric-sql/pglite/contrib/auto_explain";

/** The tables a group writes or reads: none may be read end to end. */
const TABLES = new Set([
  "webhook_events",
  "conversations",
  "messages",
  "tool_uses",
  "agents",
  "session_events",
  "token_usage",
]);

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}

/** Every table read of a plan that does not probe an index with a condition. */
function fullReads(node: PlanNode, out: string[] = []): string[] {
  const table = node["Relation Name"];
  if (table && TABLES.has(table)) {
    const type = node["Node Type"];
    if (type === "Seq Scan") out.push(`${type} on ${table}`);
    if ((type === "Index Scan" || type === "Index Only Scan") && !node["Index Cond"]) {
      out.push(`${type} on ${node["Index Name"]} without a condition`);
    }
  }
  for (const child of node.Plans ?? []) fullReads(child, out);
  return out;
}

/** The plans auto_explain sent as notices: "duration: ... plan:" and the plan as JSON. */
function loggedPlans(notices: string[]): { text: string; plan: PlanNode }[] {
  return notices.filter((n) => n.includes(" plan:\n")).map((n) => {
    const logged = JSON.parse(n.slice(n.indexOf(" plan:\n") + 7));
    return { text: logged["Query Text"] as string, plan: logged.Plan as PlanNode };
  });
}

storeTest(
  "plans: every statement of a group probes its indexes under generic plans on an empty, never-analyzed database",
  async ({ db }) => {
    const notices: string[] = [];
    // One connection: the settings, the prepared statements and the EXPLAINs share a session.
    const store = await openTestStore(db, 1, {
      onNotice: (notice) => notices.push(notice.message),
      pgliteExtensions: { auto_explain },
    });
    try {
      const sql = store.sql;
      await sql`SET plan_cache_mode = force_generic_plan`;
      const [{ config }] = await sql<{ config: string[] }[]>`
        SELECT proconfig AS config FROM pg_proc WHERE proname = 'arrakis_write_group'`;
      assert.deepEqual(config, ["plan_cache_mode=force_generic_plan"]);
      await sql.unsafe(`LOAD 'auto_explain'`);
      await sql.unsafe(`SET auto_explain.log_min_duration = 0`);
      await sql.unsafe(`SET auto_explain.log_nested_statements = on`);
      await sql.unsafe(`SET auto_explain.log_format = json`);
      await sql.unsafe(`SET client_min_messages = log`);
      const committer = createCommitter(sql);
      const submit = async (raw: unknown) =>
        (await committer.submit([groupItem(raw, "plans-test")]))[0];
      // A whole session (every kind of row), then its redelivery (the dedupe read finds them),
      // then a second session: each statement is planned on the empty tables and run again.
      const envelopes = sessionEnvelopes();
      const first = await Promise.all(envelopes.map(submit));
      assert.ok(first.every((s) => s.final.status === "SUCCESS"), JSON.stringify(first[0]));
      const again = await Promise.all(envelopes.map(submit));
      assert.ok(again.every((s) => s.final.status === "DUPLICATE"));
      const other = envelopes.map((e) => {
        const payload = { ...e.payload as Record<string, unknown>, session_id: "plans-other" };
        return { ...e, requestId: uuidv7(), sessionId: "plans-other", payload };
      });
      assert.ok((await Promise.all(other.map(submit))).every((s) => s.final.status === "SUCCESS"));
      await sql.unsafe(`SET client_min_messages = notice`);

      const [{ analyzed }] = await sql<{ analyzed: number }[]>`
        SELECT count(*)::int AS analyzed FROM pg_stat_user_tables
        WHERE relname = ANY(${[...TABLES]}) AND (last_analyze IS NOT NULL
          OR last_autoanalyze IS NOT NULL)`;
      assert.equal(analyzed, 0, "the tables must never have been analyzed");

      const problems: string[] = [];
      const touching = new RegExp([...TABLES].join("|"), "i");
      const ran = loggedPlans(notices).filter(({ text }) =>
        touching.test(text) && /^\s*(SELECT|INSERT|UPDATE|WITH)/i.test(text)
      );
      for (const { text, plan } of ran) {
        for (const read of fullReads(plan)) {
          problems.push(`${read}: ${text.replace(/\s+/g, " ").trim().slice(0, 100)}`);
        }
      }
      // The dedupe read, the audit rows, and one statement per kind of row of the session.
      const statements = new Set(ran.map(({ text }) => text));
      assert.ok(statements.size >= 12, `only ${statements.size} statements ran`);

      // The dedupe read, prepared by postgres.js: run on a generic plan, the requestIds its
      // outer side, webhook_events probed once for each.
      const [dedupe] = await sql<{ name: string; generic: number }[]>`
        SELECT name, generic_plans::int AS generic FROM pg_prepared_statements
        WHERE statement ~ 'FROM unnest\\(\\$1::text\\[\\]\\)'`;
      assert.ok(dedupe, "the dedupe read was not among the prepared statements");
      assert.ok(dedupe.generic > 0, "the dedupe read did not run on a generic plan");
      const [row] = await sql.unsafe(`EXPLAIN (FORMAT JSON) EXECUTE "${dedupe.name}"(NULL)`);
      const plan = JSON.stringify((row["QUERY PLAN"] as { Plan: PlanNode }[])[0].Plan);
      assert.match(plan, /"Function Name":"unnest"/);
      assert.match(plan, /"Index Name":"webhook_events_request_id_success_key"/);
      assert.match(plan, /"Index Cond":"\(request_id = r\.request_id\)"/);
      assert.deepEqual(problems, []);
    } finally {
      await store.close();
    }
  },
);
