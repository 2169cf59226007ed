// Drain progress for people: a redrawn bar with rate and ETA on a terminal, a plain line at
// most every few seconds otherwise (logs and pipes do not want carriage returns).
import type { DrainProgress } from "./drain.ts";

const BAR_WIDTH = 30;
const PLAIN_EVERY_MS = 2_000;

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export function progressLine(progress: DrainProgress, terminal: boolean): string {
  const { done, total, elapsedMs } = progress;
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const left = Math.max(0, total - done);
  const eta = rate > 0 ? formatDuration((left / rate) * 1000) : "?";
  const counts = `${done}/${total}  ${rate.toFixed(0)}/s  ETA ${eta}`;
  if (!terminal) return `drain: ${counts}`;
  const filled = total > 0 ? Math.round((done / total) * BAR_WIDTH) : BAR_WIDTH;
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${counts}`;
}

/** A progress reporter writing to stderr; call finish() once at the end. */
export function progressReporter(terminal: boolean) {
  const encoder = new TextEncoder();
  let lastPlain = 0;
  let drew = false;
  return {
    update(progress: DrainProgress) {
      if (terminal) {
        Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${progressLine(progress, true)}`));
        drew = true;
      } else if (progress.elapsedMs - lastPlain >= PLAIN_EVERY_MS) {
        lastPlain = progress.elapsedMs;
        console.error(progressLine(progress, false));
      }
    },
    finish() {
      if (drew) Deno.stderr.writeSync(encoder.encode("\n"));
    },
  };
}
