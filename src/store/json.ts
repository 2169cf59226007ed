// Passing a value as a jsonb parameter of a postgres.js query.

/**
 * A jsonb parameter: postgres.js learns the type from the `::jsonb` cast and serialises the
 * value with JSON.stringify itself (a pre-stringified value would be stored as a JSON string).
 */
// deno-lint-ignore no-explicit-any
export function jsonValue(value: unknown): any {
  return value === undefined ? null : value;
}
