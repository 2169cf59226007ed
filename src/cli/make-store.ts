// `arrakis __make-store`: not for people. The child process that makes a new embedded store for
// a compiled arrakis, which can run no module but its own main (src/store/maker.ts).
import { runStoreMaker } from "../store/initdb_child.ts";

export const usage = "Usage: arrakis __make-store (internal: run by arrakis serve)";

export function run(_args: string[]): Promise<number> {
  return runStoreMaker();
}
