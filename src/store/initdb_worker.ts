// The worker that makes a new store (initdb_build.ts) where arrakis may not start a process of
// its own (no --allow-run): its memory mostly goes with it, but not all (maker.ts says why).
import { makeStore } from "./initdb_build.ts";
import type { BuildMessage, BuildRequest } from "./initdb_protocol.ts";

// The worker's global scope (this module is type-checked with the main program's globals).
const scope = self as unknown as {
  onmessage: (event: MessageEvent<BuildRequest>) => void;
  postMessage(message: BuildMessage): void;
};

scope.onmessage = (event: MessageEvent<BuildRequest>) => {
  makeStore(event.data, (message) => scope.postMessage(message));
};
