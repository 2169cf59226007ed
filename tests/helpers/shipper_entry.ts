// Test entry point: the real resident shipper with a step callback that stops it for good at
// the n-th time it reaches a step ("claimed": batch claimed, not sent; "answered": batch
// committed by the server, not yet recorded in the spool), so a test can SIGKILL it right there.
// Usage: deno run ... shipper_entry.ts <claimed|answered> <n>
import { loadConfig } from "../../src/config.ts";
import { runShipper } from "../../src/cli/queue.ts";

const [step, nth] = Deno.args;
let reached = 0;
const pauseAt = (name: string) => async () => {
  if (name !== step || ++reached !== Number(nth)) return;
  console.error(`shipper-paused:${step}:${nth}`);
  await new Promise(() => {});
};

await runShipper(loadConfig(), {
  notice: (line) => console.error(line),
  onClaimed: pauseAt("claimed"),
  onAnswered: pauseAt("answered"),
});
