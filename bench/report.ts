// The shape every benchmark returns, and the one table `deno task bench` prints.
export interface BenchRow {
  /** Which benchmark, e.g. "hook". */
  benchmark: string;
  /** What was measured, e.g. "wall time p50 (server up)". */
  metric: string;
  value: number;
  unit: string;
  /** The reference measured in the same run, when the figure is a ratio against it. */
  reference?: { metric: string; value: number };
}

/** value / reference, or "" when the row has no usable reference. */
function ratio(row: BenchRow): string {
  if (!row.reference || row.reference.value === 0) return "";
  return `${(row.value / row.reference.value).toFixed(2)}x`;
}

function format(value: number): string {
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A Markdown table of the rows (stdout of every bench script and BENCHMARKS.md). */
export function table(rows: BenchRow[]): string {
  const lines = [
    "| benchmark | metric | value | reference (same run) | ratio |",
    "|---|---|---:|---|---:|",
  ];
  for (const row of rows) {
    const reference = row.reference
      ? `${row.reference.metric}: ${format(row.reference.value)} ${row.unit}`
      : "";
    lines.push(
      `| ${row.benchmark} | ${row.metric} | ${format(row.value)} ${row.unit} | ${reference} | ${
        ratio(row)
      } |`,
    );
  }
  return lines.join("\n");
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}
