// Opaque keyset cursors: the last row's sort key, base64url JSON, checked on the way back in.
import type { Sql } from "../store/open.ts";
import { ReadInputError } from "./errors.ts";

export function encodeCursor(key: readonly (string | number)[]): string {
  return btoa(JSON.stringify(key)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The key a cursor holds, when each part has the shape `parts` describes ("id": a row id,
 * "micros": microseconds since 1970, "number": a finite number, "text": a short string); else a
 * ReadInputError, so a tampered or stale cursor is a 400 and never reaches SQL.
 */
export function decodeCursor(
  text: string | undefined,
  parts: readonly ("id" | "micros" | "number" | "text")[],
): (string | number)[] | null {
  if (!text) return null;
  let value: unknown;
  try {
    value = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    value = undefined;
  }
  const fits = Array.isArray(value) && value.length === parts.length &&
    parts.every((part, i) => {
      const v = value[i];
      switch (part) {
        case "id":
          return typeof v === "string" && /^\d{1,18}$/.test(v);
        case "micros":
          return typeof v === "string" && /^-?\d{1,17}$/.test(v);
        case "number":
          return typeof v === "number" && Number.isFinite(v);
        case "text":
          return typeof v === "string" && v.length <= 40;
      }
    });
  if (!fits) throw new ReadInputError("cursor is not one this server issued");
  return value as (string | number)[];
}

/**
 * A timestamptz as exact microseconds, for a cursor: a JS Date keeps milliseconds only, and a
 * cursor that rounds would skip rows that differ below a millisecond.
 */
export function microsOf(sql: Sql, column: string) {
  return sql`(extract(epoch FROM ${sql.unsafe(column)}) * 1000000)::bigint::text`;
}

export function timeOfMicros(sql: Sql, micros: string | number) {
  return sql`(timestamptz 'epoch' + ${String(micros)}::bigint * interval '1 microsecond')`;
}
