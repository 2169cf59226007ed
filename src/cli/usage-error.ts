// How a command says it was called wrongly: main.ts prints the message as one line and exits
// 2. Its own module, so main.ts can catch it without loading the flag parser (node:util).
export class UsageError extends Error {
  override name = "UsageError";
}
