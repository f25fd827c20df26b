/**
 * `Deno.bench` of the simulator's hot path (`deno task bench`): one trade
 * from `Market.next()`, and one trade generated and serialised as a JSONL
 * line, per profile. The file-writing throughput is `deno task bench:simulate`.
 *
 * @module
 */
import { Market } from "../ingest/market.ts";
import type { MarketProfile } from "../ingest/profiles.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const N = 10_000;

for (const profile of ["realistic", "busy", "thin"] as const satisfies MarketProfile[]) {
  const market = new Market({
    profile,
    seed: 1,
    symbols: SYMBOLS,
    startMs: Date.UTC(2024, 0, 1),
    anomalyProbability: 0.01,
  });
  Deno.bench(`simulator ${profile}: ${N} trades`, { group: "generate", n: 50 }, () => {
    for (let i = 0; i < N; i++) market.next();
  });
  Deno.bench(`simulator ${profile}: ${N} trades as JSONL`, { group: "jsonl", n: 50 }, () => {
    let bytes = 0;
    for (let i = 0; i < N; i++) bytes += JSON.stringify(market.next()).length + 1;
    if (bytes === 0) throw new Error("nothing written");
  });
}
