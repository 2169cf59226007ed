// The group path's statements keep good plans whatever the statistics: postgres.js prepares
// them, and a generic plan made while a table was empty (or never analyzed) stays cached while
// the table grows. On a fresh, never-analyzed database forced onto generic plans, every
// statement a group sent must find its rows through an index: no sequential scan of a table,
// no index read end to end (the dedupe read once scanned the whole partial index of SUCCESS
// rows as the outer side of its join, 200-700 ms a group at 8,000 rows).
import assert from "node:assert/strict";
import { openTestStore, storeTest } from "./helpers/stores.ts";
import { sessionEnvelopes } from "./helpers/session.ts";
import { createCommitter } from "../src/server/group.ts";
import { groupItem } from "./helpers/ingest.ts";
import { uuidv7 } from "../src/ids.ts";

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

storeTest(
  "plans: every statement of a group probes its indexes under generic plans on an empty, never-analyzed database",
  async ({ db }) => {
    // One connection: the setting, the prepared statements and the EXPLAINs share a session.
    const store = await openTestStore(db, 1);
    try {
      const sql = store.sql;
      await sql`SET plan_cache_mode = force_generic_plan`;
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

      const [{ analyzed }] = await sql<{ analyzed: number }[]>`
        SELECT count(*)::int AS analyzed FROM pg_stat_user_tables
        WHERE relname = ANY(${[...TABLES]}) AND (last_analyze IS NOT NULL
          OR last_autoanalyze IS NOT NULL)`;
      assert.equal(analyzed, 0, "the tables must never have been analyzed");

      const statements = await sql<
        { name: string; statement: string; parameters: number; generic: number }[]
      >`
        SELECT name, statement, cardinality(parameter_types) AS parameters,
          generic_plans::int AS generic
        FROM pg_prepared_statements
        WHERE statement ~* ${[...TABLES].join("|")}`;
      const group = statements.filter((s) => /^\s*(SELECT|INSERT|UPDATE|WITH)/i.test(s.statement));
      // The dedupe read, the audit rows, and one statement per kind of row of the session.
      assert.ok(group.length >= 12, `only ${group.length} statements were prepared`);
      const dedupe = group.find((s) => /FROM unnest\(\$1::text\[\]\)/.test(s.statement));
      assert.ok(dedupe, "the dedupe read was not among the prepared statements");
      const problems: string[] = [];
      for (const { name, statement, parameters, generic } of group) {
        assert.ok(generic > 0, `not run on a generic plan: ${statement.slice(0, 80)}`);
        // A generic plan does not depend on the values: NULLs stand for them.
        const args = Array.from({ length: parameters }, () => "NULL").join(", ");
        const [row] = await sql.unsafe(
          `EXPLAIN (FORMAT JSON) EXECUTE "${name}"${parameters ? `(${args})` : ""}`,
        );
        const plan = (row["QUERY PLAN"] as { Plan: PlanNode }[])[0].Plan;
        for (const read of fullReads(plan)) {
          problems.push(`${read}: ${statement.replace(/\s+/g, " ").trim().slice(0, 100)}`);
        }
        if (statement === dedupe.statement) {
          // The outer side is the requestIds; webhook_events is probed once for each.
          const text = JSON.stringify(plan);
          assert.match(text, /"Function Name":"unnest"/);
          assert.match(text, /"Index Name":"webhook_events_request_id_success_key"/);
          assert.match(text, /"Index Cond":"\(request_id = r\.request_id\)"/);
        }
      }
      assert.deepEqual(problems, []);
    } finally {
      await store.close();
    }
  },
);
