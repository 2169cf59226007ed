// Small, consistent formatting of times, durations and counts for the pages.

export function fmtTime(value: Date | string | number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "—";
  return date.toISOString().replace("T", " ").slice(0, 19);
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function fmtAgo(value: Date | null | undefined, now: number): string {
  if (!value) return "never";
  return `${fmtDuration(Math.max(0, now - value.getTime()))} ago`;
}

export function fmtInt(value: number | string | bigint | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const n = typeof value === "string" ? Number(value) : Number(value);
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—";
}

/** 1.2k, 3.4M: for token counts in tight columns. */
export function fmtCompact(value: number | string | null | undefined): string {
  const n = Number(value ?? 0);
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export function fmtRate(value: number): string {
  if (value === 0) return "0";
  if (value < 0.01) return value.toFixed(4);
  if (value < 10) return value.toFixed(2);
  return value.toFixed(1);
}

export function fmtPercent(value: number | null): string {
  if (value === null) return "—";
  const pct = value * 100;
  return `${pct === 100 || pct === 0 ? pct.toFixed(0) : pct.toFixed(pct > 99 ? 2 : 1)}%`;
}

export function shortId(id: string | null | undefined, length = 8): string {
  if (!id) return "—";
  return id.length > length + 1 ? `${id.slice(0, length)}…` : id;
}

export function truncate(text: string | null | undefined, length: number): string {
  if (!text) return "";
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

export function basename(path: string | null | undefined): string {
  if (!path) return "—";
  const parts = path.replace(/\/+$/, "").split("/");
  return parts[parts.length - 1] || path;
}

/** Dollars: cents from a dollar up, four decimals below (one reply often costs under a cent). */
export function fmtUsd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value >= 1 ? `$${value.toFixed(2)}` : `$${value.toFixed(4)}`;
}
