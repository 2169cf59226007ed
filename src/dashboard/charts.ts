// Inline SVG charts: no script, no external resource, nothing the CSP has to allow. Sizes
// are SVG attributes (style attributes would need 'unsafe-inline').
import { h, type Html } from "./html.ts";
import type { Bucket } from "../read/overview.ts";
import { fmtMs, fmtTime } from "./format.ts";

const W = 600;
const H = 120;

/** Stacked bars per time bucket: stored (ok) under failed. */
export function throughputChart(buckets: Bucket[]): Html {
  const max = Math.max(1, ...buckets.map((b) => b.ok + b.failed));
  const step = W / Math.max(1, buckets.length);
  const bar = Math.max(1, step - 1);
  const bars = buckets.map((b, i) => {
    const x = (i * step).toFixed(1);
    const okH = (b.ok / max) * (H - 4);
    const failH = (b.failed / max) * (H - 4);
    return h`<g><title>${fmtTime(b.start)} UTC: ${b.ok} ok, ${b.failed} failed</title>${
      okH > 0
        ? h`<rect class="ok" x="${x}" y="${(H - okH).toFixed(1)}" width="${
          bar.toFixed(1)
        }" height="${okH.toFixed(1)}"/>`
        : ""
    }${
      failH > 0
        ? h`<rect class="bad" x="${x}" y="${(H - okH - failH).toFixed(1)}" width="${
          bar.toFixed(1)
        }" height="${failH.toFixed(1)}"/>`
        : ""
    }<rect class="hit" x="${x}" y="0" width="${bar.toFixed(1)}" height="${H}"/></g>`;
  });
  return h`<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img"
    aria-label="requests per interval"><line class="axis" x1="0" y1="${H - 0.5}" x2="${W}" y2="${
    H - 0.5
  }"/>${bars}</svg><div class="chart-scale"><span>${
    fmtTime(buckets[0]?.start)
  }</span><span>max ${max} / bucket</span><span>now</span></div>`;
}

/** p95 processing time per bucket as a line; gaps where a bucket had no requests. */
export function latencyChart(buckets: Bucket[]): Html {
  const values = buckets.map((b) => b.p95);
  const max = Math.max(1, ...values.filter((v): v is number => v !== null));
  const step = W / Math.max(1, buckets.length - 1);
  const segments: string[][] = [];
  let current: string[] = [];
  values.forEach((value, i) => {
    if (value === null) {
      if (current.length) segments.push(current);
      current = [];
      return;
    }
    current.push(`${(i * step).toFixed(1)},${(H - 2 - (value / max) * (H - 8)).toFixed(1)}`);
  });
  if (current.length) segments.push(current);
  const lines = segments.map((points) =>
    points.length === 1
      ? h`<circle class="line-dot" cx="${points[0].split(",")[0]}" cy="${
        points[0].split(",")[1]
      }" r="2.5"/>`
      : h`<polyline class="line" points="${points.join(" ")}"/>`
  );
  return h`<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img"
    aria-label="p95 processing time"><line class="axis" x1="0" y1="${H - 0.5}" x2="${W}" y2="${
    H - 0.5
  }"/>${lines}</svg><div class="chart-scale"><span>${fmtTime(buckets[0]?.start)}</span><span>max ${
    fmtMs(max)
  }</span><span>now</span></div>`;
}

/** A thin horizontal bar for tables (value of max). */
export function meter(value: number, max: number, tone = "ok"): Html {
  const width = max > 0 ? Math.max(value > 0 ? 1 : 0, (value / max) * 100) : 0;
  return h`<svg class="meter" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true"><rect class="track" width="100" height="6"/><rect class="${tone}" width="${
    width.toFixed(1)
  }" height="6"/></svg>`;
}
