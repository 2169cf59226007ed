// What a caught value says, for a log line, an audit row or a CLI message: JavaScript lets
// anything be thrown, and only an Error has a message.
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
