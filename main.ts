/**
 * Sentinel's entry point: reads the configuration, then starts the roles
 * asked for (`--role=…`, all by default). Ctrl-C stops cleanly: the source
 * stops, the last batch is committed, KV is closed.
 *
 * @module
 */
import { CliError, helpText, parseArgs } from "./cli.ts";
import { ConfigError, parseConfig } from "./config.ts";
import { RoleError, Sentinel } from "./sentinel.ts";
import { mountDashboard } from "./routes/dashboard.tsx";
import { KvOpenError } from "./store/open.ts";
import { KafkaSetupError } from "./ingest/kafka_client.ts";

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
  let config;
  try {
    config = parseConfig(Deno.env.toObject());
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    Deno.exit(2);
  }
  let sentinel: Sentinel;
  try {
    sentinel = await Sentinel.start(config, args.roles, { mountPages: mountDashboard });
  } catch (e) {
    if (
      !(e instanceof RoleError) && !(e instanceof KvOpenError) && !(e instanceof KafkaSetupError)
    ) throw e;
    console.error(`sentinel: ${e.message}`);
    Deno.exit(2);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) Deno.exit(130); // a second Ctrl-C does not wait
    stopping = true;
    console.error("sentinel: stopping (flushing the last batch)…");
    await sentinel.stop();
    console.error("sentinel: stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await sentinel.done;
  if (config.dataSource === "replay" && !stopping) {
    console.error("sentinel: replay finished; still serving (Ctrl-C to stop)");
  }
}
