/**
 * Sentinel's entry point: reads the configuration, then starts the roles asked for.
 *
 * @module
 */
import { CliError, helpText, parseArgs } from "./cli.ts";
import { ConfigError, parseConfig } from "./config.ts";

if (import.meta.main) {
  let args;
  try {
    args = parseArgs(Deno.args);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    console.error(`sentinel: ${e.message}`);
    Deno.exit(2);
  }
  if (args.help) {
    console.log(helpText());
    Deno.exit(0);
  }
  try {
    parseConfig(Deno.env.toObject());
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    Deno.exit(2);
  }
  console.error("sentinel: the pipeline is not wired yet (see README, 'Status').");
  Deno.exit(1);
}
