// The one LIKE escape every read uses.

/** A LIKE pattern matching `text` literally: as a prefix, or anywhere. */
export function likePattern(text: string, where: "prefix" | "contains"): string {
  const literal = text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
  return where === "prefix" ? `${literal}%` : `%${literal}%`;
}
