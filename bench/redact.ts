// Redaction cost: the pass the hook runs on every event and the server on every request,
// createRedactor().value, on the fixture events (all ten plus the transcript) and on one
// PostToolUse with a 256 KB tool output, each next to JSON.parse of the same text measured in
// the same run (the hook and the server parse every event anyway).
import { join } from "node:path";
import { createRedactor } from "../src/redact.ts";
import { HOOK_INPUT_DIR, TRANSCRIPT_PATH } from "../tests/helpers/fixtures.ts";
import { type BenchRow, percentile, table } from "./report.ts";

const ROUNDS = Number(Deno.env.get("BENCH_REDACT_ROUNDS") ?? 200);

function fixtureTexts(): string[] {
  const events = [...Deno.readDirSync(HOOK_INPUT_DIR)]
    .filter((entry) => entry.name.endsWith(".json"))
    .map((entry) => Deno.readTextFileSync(join(HOOK_INPUT_DIR, entry.name)));
  const transcript = Deno.readTextFileSync(TRANSCRIPT_PATH).split("\n")
    .filter((line) => line.trim() !== "");
  return [...events, ...transcript];
}

/** A PostToolUse whose output is 256 KB of source-like text (the transcript, repeated). */
function largeOutput(texts: string[]): string[] {
  const event = JSON.parse(Deno.readTextFileSync(join(HOOK_INPUT_DIR, "PostToolUse.json")));
  let stdout = "";
  while (stdout.length < 256 * 1024) stdout += texts.join("\n") + "\n";
  event.tool_response = { stdout, stderr: "", interrupted: false };
  return [JSON.stringify(event)];
}

/** Microseconds per pass over all texts, one sample per round, sorted. */
function time(pass: (text: string, value: unknown) => unknown, texts: string[]): number[] {
  const values = texts.map((text) => JSON.parse(text));
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < texts.length; i++) pass(texts[i], values[i]);
    samples.push((performance.now() - start) * 1000);
  }
  return samples.sort((a, b) => a - b);
}

export function run(): Promise<BenchRow[]> {
  const redactor = createRedactor();
  const fixtures = fixtureTexts();
  const rows: BenchRow[] = [];
  for (
    const [label, texts] of [
      [`${fixtures.length} fixture events and transcript lines`, fixtures],
      ["one PostToolUse with a 256 KB output", largeOutput(fixtures)],
    ] as [string, string[]][]
  ) {
    // Warm both paths so the JIT does not count against the first one measured.
    time((_, value) => redactor.value(value), texts);
    time((text) => JSON.parse(text), texts);
    const redact = time((_, value) => redactor.value(value), texts);
    const parse = time((text) => JSON.parse(text), texts);
    for (const p of [50, 99]) {
      rows.push({
        benchmark: "redact",
        metric: `${label} p${p}`,
        value: percentile(redact, p),
        unit: "µs",
        reference: { metric: `JSON.parse p${p}`, value: percentile(parse, p) },
      });
    }
  }
  return Promise.resolve(rows);
}

if (import.meta.main) console.log(table(await run()));
