// arrakis: parse the command line and dispatch to one module per subcommand, nothing else.
import type { CommandModule } from "./src/cli/args.ts";
import { UsageError } from "./src/cli/usage-error.ts";
import { ConfigError } from "./src/config-core.ts";

const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<CommandModule>; hidden?: boolean }
> = {
  hook: {
    summary: "capture one Claude Code hook event from stdin (silent, always exits 0)",
    load: () => import("./src/cli/hook.ts"),
  },
  serve: {
    summary: "run the ingest API and dashboard",
    load: () => import("./src/cli/serve.ts"),
  },
  migrate: {
    summary: "apply the SQL migrations (--status lists them)",
    load: () => import("./src/cli/migrate.ts"),
  },
  queue: {
    summary: "see and move the local spool: list, stats, retry, drain, ship, purge, adopt",
    load: () => import("./src/cli/queue.ts"),
  },
  prune: {
    summary: "apply the retention policy now (--dry-run says what would go)",
    load: () => import("./src/cli/prune.ts"),
  },
  export: {
    summary: "write one session as Markdown, HTML or JSON",
    load: () => import("./src/cli/export.ts"),
  },
  keys: {
    summary: "API keys per person or machine: create, list, revoke",
    load: () => import("./src/cli/keys.ts"),
  },
  install: {
    summary: "write the hooks block into .claude/settings.json",
    load: () => import("./src/cli/install.ts"),
  },
  import: {
    summary: "import the transcripts already on disk (~/.claude/projects)",
    load: () => import("./src/cli/import.ts"),
  },
  // How a compiled arrakis runs the maker of a new embedded store (src/store/maker.ts).
  "__make-store": {
    summary: "internal",
    load: () => import("./src/cli/make-store.ts"),
    hidden: true,
  },
};

const USAGE = `arrakis: capture every Claude Code session into PostgreSQL

Usage: arrakis <command> [options]

Commands:
${
  Object.entries(COMMANDS).filter(([, { hidden }]) => !hidden)
    .map(([name, { summary }]) => `  ${name.padEnd(9)}${summary}`).join("\n")
}

Options:
  --help, -h     this text ('arrakis <command> --help' for a command's options)
  --version, -V  print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-V") {
    const { VERSION } = await import("./src/version.ts");
    console.log(VERSION);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) throw new UsageError(`unknown command '${command}' (see 'arrakis --help')`);
  const module = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(module.usage);
    return 0;
  }
  return await module.run(rest);
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`arrakis: ${error.message}`);
      code = 2;
    } else if (error instanceof ConfigError) {
      console.error(`arrakis: configuration: ${error.message}`);
      code = 2;
    } else {
      console.error(`arrakis: ${error instanceof Error ? error.message : String(error)}`);
      code = 1;
    }
  }
  // Explicit exit: a pending lock request or open handle must not keep a finished command up.
  Deno.exit(code);
}
