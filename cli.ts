/**
 * Command-line arguments of `main.ts`: which roles to run, and `--help`.
 *
 * @module
 */
import { CONFIG_VARS } from "./config.ts";

/** The roles one process can play (DESIGN.md section 2). */
export const ROLES = ["source", "worker", "web", "trainer"] as const;
/** One of {@linkcode ROLES}. */
export type Role = typeof ROLES[number];

/** Parsed command line. */
export type CliArgs = { help: true } | { help: false; roles: Role[] };

/** Thrown for an unknown flag or role. */
export class CliError extends Error {}

/**
 * Parses `--help`, `--role=a,b` / `--role a` (repeatable); no role means all.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./cli.ts";
 * console.log(parseArgs(["--role=worker"])); // { help: false, roles: ["worker"] }
 * ```
 */
export function parseArgs(argv: readonly string[]): CliArgs {
  const roles: Role[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") return { help: true };
    let value: string | undefined;
    if (a.startsWith("--role=")) value = a.slice("--role=".length);
    else if (a === "--role") value = argv[++i];
    else throw new CliError(`unknown argument "${a}" (try --help)`);
    if (!value) throw new CliError(`--role needs a value: ${ROLES.join(", ")} or all`);
    for (const r of value.split(",").map((x) => x.trim())) {
      if (r === "all") roles.push(...ROLES);
      else if ((ROLES as readonly string[]).includes(r)) roles.push(r as Role);
      else throw new CliError(`unknown role "${r}": expected ${ROLES.join(", ")} or all`);
    }
  }
  return { help: false, roles: roles.length ? [...new Set(roles)] : [...ROLES] };
}

/** The text of `--help`: roles, then every config variable with its default. */
export function helpText(): string {
  const width = Math.max(...CONFIG_VARS.map((v) => v.name.length));
  const vars = CONFIG_VARS.map((v) =>
    `  ${v.name.padEnd(width)}  ${v.doc}\n  ${
      "".padEnd(width)
    }  accepts ${v.accepts}; default ${v.default}`
  ).join("\n");
  return `Sentinel: real-time anomaly detection on cryptocurrency market streams.

Usage:
  deno task start                      every role in one process (embedded mode)
  deno run -P main.ts --role=ROLE[,ROLE]   only the roles named

Roles:
  source    reads the market (simulated, binance or replay) and publishes MarketEvents
  worker    turns events into rolling-window features and scores them with the active model
  web       the HTTP API and dashboard on PORT
  trainer   fits the Isolation Forest on recent feature rows and activates it
  all       every role (the default)

Configuration (environment variables):
${vars}
`;
}
