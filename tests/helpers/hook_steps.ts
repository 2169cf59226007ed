// A test entry point: the real capture (src/hook/capture.ts) on this process's stdin and
// environment, which stops at the step named in its first argument, says so on stderr
// ("arrakis-step:<step>") and waits there to be killed. With no argument it runs through. It
// starts no shipper: crash tests look at the spool exactly as the hook left it.
import { type CaptureStep, captureWith } from "../../src/hook/capture.ts";

const stopAt = Deno.args[0] as CaptureStep | undefined;

await captureWith({
  async onStep(step) {
    if (step !== stopAt) return;
    await Deno.stderr.write(new TextEncoder().encode(`arrakis-step:${step}\n`));
    await new Promise((resolve) => setTimeout(resolve, 120_000));
  },
  spawnShipper: () => {},
});
Deno.exit(0);
