// The key `serve` generates on the embedded default when none is configured: written once,
// 0600 under ARRAKIS_HOME, where `arrakis hook` on the same machine finds it.
import { dirname } from "node:path";
import type { Config } from "../config.ts";
import { ConfigError } from "../config.ts";
import { ensurePrivateDir, writeFileDurable } from "../durable.ts";
import { assertStrongKeys } from "./key_strength.ts";
import { newApiKey } from "./keys.ts";

export interface ResolvedKeys {
  keys: string[];
  /** Set when the key came from (or was just written to) the key file. */
  file?: string;
  generated: boolean;
}

export async function resolveServerKeys(config: Config): Promise<ResolvedKeys> {
  if (config.apiKeys.length > 0) {
    assertStrongKeys(config.apiKeys, "ARRAKIS_API_KEY");
    return { keys: config.apiKeys, generated: false };
  }
  if (config.databaseUrl) {
    throw new ConfigError(
      "ARRAKIS_API_KEY: required with DATABASE_URL (a shared server never runs without a key); " +
        "set one or more comma-separated keys",
    );
  }
  try {
    const text = (await Deno.readTextFile(config.apiKeyFile)).trim();
    if (text) {
      assertStrongKeys([text], config.apiKeyFile);
      return { keys: [text], file: config.apiKeyFile, generated: false };
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const key = newApiKey();
  await ensurePrivateDir(dirname(config.apiKeyFile));
  await writeFileDurable(config.apiKeyFile, key + "\n");
  return { keys: [key], file: config.apiKeyFile, generated: true };
}
