// Flag parsing for every subcommand: node:util parseArgs, strict, with errors that name the
// bad flag and exit 2.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

import { UsageError } from "./usage-error.ts";
import { errorMessage } from "../error_message.ts";

export { UsageError };

export interface CommandModule {
  usage: string;
  run(args: string[]): Promise<number>;
}

export function parseFlags<T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals,
    });
  } catch (error) {
    const message = errorMessage(error);
    throw new UsageError(`${command}: ${message.replace(/\. To specify a positional.*$/s, "")}`);
  }
}
