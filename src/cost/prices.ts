// The price table: data/prices.json (in the repository, each entry dated and sourced) merged
// with the file ARRAKIS_PRICES names, checked, and written into the prices table the read
// queries join. Cost itself is computed in SQL (view token_usage_costs, migrations/0003).
import { z } from "zod";
import type postgres from "postgres";
import { jsonValue } from "../store/json.ts";
import bundled from "../../data/prices.json" with { type: "json" };

const Rate = z.number().nonnegative();
const LongContext = z.object({
  threshold: z.number().int().positive(),
  input: Rate,
  output: Rate,
  cache_read: Rate,
  cache_write_5m: Rate,
  cache_write_1h: Rate,
});
export const ModelPrice = z.object({
  model: z.string().min(1).max(200),
  input: Rate,
  output: Rate,
  cache_read: Rate,
  cache_write_5m: Rate,
  cache_write_1h: Rate,
  long_context: LongContext.optional(),
  effective_date: z.string().min(1),
  source: z.string().min(1),
  note: z.string().optional(),
});
export type ModelPrice = z.infer<typeof ModelPrice>;
export const PriceFile = z.object({ models: z.array(ModelPrice) });

export class PriceFileError extends Error {
  override name = "PriceFileError";
}

/** The bundled table with the override file's models replacing or adding to it, by model id. */
export async function loadPrices(overrideFile: string | undefined): Promise<ModelPrice[]> {
  const table = new Map(PriceFile.parse(bundled).models.map((m) => [m.model, m]));
  if (overrideFile) {
    let text: string;
    try {
      text = await Deno.readTextFile(overrideFile);
    } catch (error) {
      throw new PriceFileError(`ARRAKIS_PRICES: cannot read ${overrideFile}: ${String(error)}`);
    }
    let parsed;
    try {
      parsed = PriceFile.safeParse(JSON.parse(text));
    } catch (error) {
      throw new PriceFileError(`ARRAKIS_PRICES: ${overrideFile} is not JSON: ${String(error)}`);
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new PriceFileError(
        `ARRAKIS_PRICES: ${overrideFile}: ${issue.path.join(".")}: ${issue.message}`,
      );
    }
    for (const model of parsed.data.models) table.set(model.model, model);
  }
  return [...table.values()];
}

/**
 * Replaces the prices table in one transaction, under a lock: several servers sharing a
 * database each load at start, and the last one's file is the table.
 */
export async function storePrices(sql: postgres.Sql, prices: ModelPrice[]): Promise<void> {
  const rows = prices.map((p) => ({
    model: p.model,
    input: p.input,
    output: p.output,
    cache_read: p.cache_read,
    cache_write_5m: p.cache_write_5m,
    cache_write_1h: p.cache_write_1h,
    long_context_threshold: p.long_context?.threshold ?? null,
    long_input: p.long_context?.input ?? null,
    long_output: p.long_context?.output ?? null,
    long_cache_read: p.long_context?.cache_read ?? null,
    long_cache_write_5m: p.long_context?.cache_write_5m ?? null,
    long_cache_write_1h: p.long_context?.cache_write_1h ?? null,
    effective_date: p.effective_date,
    source: p.source,
  }));
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended('arrakis.prices', 0))`;
    await tx`DELETE FROM prices`;
    await tx`
      INSERT INTO prices
      SELECT * FROM jsonb_to_recordset(${jsonValue(rows)}::jsonb) AS x(
        model text, input numeric, output numeric, cache_read numeric, cache_write_5m numeric,
        cache_write_1h numeric, long_context_threshold bigint, long_input numeric,
        long_output numeric, long_cache_read numeric, long_cache_write_5m numeric,
        long_cache_write_1h numeric, effective_date text, source text)`;
  });
}
