/**
 * The Kafka adapter (ingest/kafka.ts) against a real broker: delivery,
 * ordering and placement, the DLQ, offsets committed after the handler,
 * re-delivery after a handler failure, a group of two, the health probe and
 * a producer riding out an outage (through a pausable TCP proxy, so the
 * shared broker keeps running for everyone else).
 *
 * Runs only when KAFKA_BROKERS is set:
 *
 *   KAFKA_BROKERS=$(tests/kafka/broker.sh start) deno test -P tests/kafka_adapter_test.ts
 *
 * Every test uses its own topics and groups and deletes them afterwards.
 *
 * @module
 */
import assert from "node:assert/strict";
import { requireSuite } from "./suite_gate.ts";
import {
  consumerLag,
  DeadLetters,
  decodeRecord,
  deleteTopics,
  dlqTopic,
  ensureTopics,
  EventConsumer,
  EventProducer,
  type KafkaRecord,
  type KafkaSettings,
  probeKafka,
} from "../ingest/kafka.ts";
import type { MarketEvent } from "../lib/contracts.ts";
import { loadKafkaSecurity } from "../ingest/kafka_client.ts";
import { parseConfig } from "../config.ts";

const SUITE = "kafka adapter";
const HOW_TO = "set KAFKA_BROKERS=127.0.0.1:9092, see tests/kafka/README.md";

/**
 * Partition of each symbol in a 3-partition topic as Kafka's Java client
 * places it (murmur2 of the UTF-8 key, made positive, mod 3), the values
 * printed by `org.apache.kafka.common.utils.Utils.murmur2` and quoted in
 * tests/kafka/smoke_test.ts. These three cover all three partitions.
 */
const JAVA_PARTITION_OF: Readonly<Record<string, number>> = {
  "BNB-USDT": 0,
  "DOGE-USDT": 1,
  "BTC-USDT": 2,
};
const SYMBOLS = Object.keys(JAVA_PARTITION_OF);
const PARTITIONS = 3;
/** Failure deadlines so a broken broker fails a test instead of hanging it; not speed checks. */
const DEADLINE_MS = 20_000;
/** Short enough that joins, rebalances and stop() are quick; long enough for a loaded 2-core box. */
const SESSION_TIMEOUT_MS = 6_000;
const MAX_WAIT_MS = 200;

/**
 * With KAFKA_SUITE_SASL=1 the whole suite runs against the SASL_SSL broker
 * of KAFKA_SASL_ENV (its settings file) instead of KAFKA_BROKERS: `.ci/run`
 * runs it both ways.
 */
const saslEnv: Record<string, string> | null = Deno.env.get("KAFKA_SUITE_SASL") === "1"
  ? Object.fromEntries(
    Deno.readTextFileSync(Deno.env.get("KAFKA_SASL_ENV")!).split("\n")
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim())).filter((m) => m !== null)
      .map((m) => [m[1], m[2]]),
  )
  : null;
const security = saslEnv ? loadKafkaSecurity(parseConfig(saslEnv)) : undefined;

function brokers(): string[] {
  return (saslEnv?.KAFKA_BROKERS ?? Deno.env.get("KAFKA_BROKERS")!).split(",")
    .map((b) => b.trim()).filter(Boolean);
}

function uniqueName(what: string): string {
  return `sentinel-adapter-${what}-${Date.now()}-${crypto.randomUUID().slice(0, 8)}`;
}

function settingsFor(topic: string): KafkaSettings {
  return { brokers: brokers(), topic, clientId: "sentinel-adapter-test", security };
}

/** `n` events round-robin over SYMBOLS; `trade_id` counts per symbol from 0, so order is checkable. */
function makeEvents(n: number): MarketEvent[] {
  const next: Record<string, number> = {};
  return Array.from({ length: n }, (_, i) => {
    const symbol = SYMBOLS[i % SYMBOLS.length];
    const seq = next[symbol] = (next[symbol] ?? -1) + 1;
    return {
      timestamp: 1710000000 + i,
      symbol,
      price: 100 + (i % 17) * 0.25,
      volume: 1 + (i % 5),
      log_return: 0,
      is_anomaly: false,
      anomaly_type: null,
      ts_ms: (1710000000 + i) * 1000,
      trade_id: seq,
      source: "test",
    };
  });
}

/** Events per partition under Java's placement: the log's expected high watermarks. */
function expectedPerPartition(events: readonly MarketEvent[]): Record<number, number> {
  const out: Record<number, number> = { 0: 0, 1: 0, 2: 0 };
  for (const e of events) out[JAVA_PARTITION_OF[e.symbol]]++;
  return out;
}

const idOf = (e: Pick<MarketEvent, "symbol" | "trade_id">) => `${e.symbol}#${e.trade_id}`;

function eventOf(r: KafkaRecord): MarketEvent {
  const d = decodeRecord(r);
  if (!d.ok) throw new Error(`record ${r.partition}@${r.offset} did not decode: ${d.reason}`);
  return d.value;
}

async function waitFor(what: string, done: () => boolean, ms = DEADLINE_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Stops consumers and producers, then deletes topics and groups, whatever happened. */
class Cleanup {
  #steps: (() => Promise<unknown>)[] = [];
  add(step: () => Promise<unknown>): void {
    this.#steps.unshift(step);
  }
  async run(): Promise<void> {
    for (const step of this.#steps) await step().catch(() => {});
  }
}

/**
 * A stand-in for Deno KV: per partition the next offset, written together
 * with the records it covers (one "atomic" per batch, as the worker does).
 * Records below the stored offset are skipped, as DESIGN.md section 7 says.
 */
class FakeKv {
  readonly next = new Map<number, number>();
  readonly processed: KafkaRecord[] = [];
  commit(partition: number, records: readonly KafkaRecord[], nextOffset: number): void {
    this.processed.push(...records);
    this.next.set(partition, nextOffset);
  }
  fresh(partition: number, records: readonly KafkaRecord[]): KafkaRecord[] {
    const from = this.next.get(partition) ?? 0;
    return records.filter((r) => r.offset >= from);
  }
}

/**
 * A TCP proxy that can drop every connection and refuse new ones (pause),
 * then listen again on the same port (resume): a broker outage as the client
 * sees it, without stopping the shared broker.
 */
class PausableProxy {
  readonly port: number;
  #listener: Deno.Listener | null = null;
  #accepting: Promise<void> = Promise.resolve();
  #conns = new Set<Deno.Conn>();
  #pumps = new Set<Promise<void>>();

  constructor(readonly target: { hostname: string; port: number }) {
    this.port = this.#listen(0);
  }

  #listen(port: number): number {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#listener = listener;
    this.#accepting = this.#acceptLoop(listener);
    return (listener.addr as Deno.NetAddr).port;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    try {
      for await (const client of listener) {
        this.#conns.add(client);
        let upstream: Deno.Conn;
        try {
          upstream = await Deno.connect(this.target);
        } catch {
          this.#close(client);
          continue;
        }
        this.#conns.add(upstream);
        this.#track(this.#pump(client, upstream));
        this.#track(this.#pump(upstream, client));
      }
    } catch {
      // the listener was closed by pause()/close()
    }
  }

  #track(p: Promise<void>): void {
    this.#pumps.add(p);
    p.finally(() => this.#pumps.delete(p));
  }

  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // a side went away
    } finally {
      this.#close(from);
      this.#close(to);
    }
  }

  #close(c: Deno.Conn): void {
    if (!this.#conns.delete(c)) return;
    try {
      c.close();
    } catch {
      // already closed
    }
  }

  /** Refuses new connections and drops the open ones. */
  async pause(): Promise<void> {
    this.#listener?.close();
    this.#listener = null;
    await this.#accepting;
    for (const c of [...this.#conns]) this.#close(c);
    await Promise.all([...this.#pumps]);
  }

  /** Listens again on the same port. */
  resume(): void {
    this.#listen(this.port);
  }

  close(): Promise<void> {
    return this.pause();
  }
}

if (requireSuite(SUITE, "KAFKA_BROKERS", HOW_TO)) {
  Deno.test(`${SUITE}: 1000 events for 3 symbols arrive exactly once, in per-symbol order, each symbol on its Java partition`, async () => {
    const topic = uniqueName("order");
    const groupId = uniqueName("order-group");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: [groupId] }));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      const events = makeEvents(1000);
      await producer.connect();
      for (let i = 0; i < events.length; i += 100) await producer.send(events.slice(i, i + 100));
      assert.deepEqual(
        { ...producer.status(), lastSendAt: null },
        { state: "connected", sent: 1000, retries: 0, lastError: null, lastSendAt: null },
      );

      // Before anyone consumed, the group's lag is the whole log of each partition.
      const perPartition = expectedPerPartition(events);
      assert.deepEqual(await consumerLag(settings, groupId), perPartition);

      const received: KafkaRecord[] = [];
      const assignments: number[][] = [];
      // onAssignment is slow on purpose: no batch may reach the handler before it settled.
      let assignmentSettled = false;
      const handledBeforeSettled: number[] = [];
      const consumer = new EventConsumer({
        ...settings,
        groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
      });
      cleanup.add(() => consumer.stop());
      const running = consumer.run({
        handleBatch: (records) => {
          if (!assignmentSettled) handledBeforeSettled.push(records[0].offset);
          received.push(...records);
          return Promise.resolve();
        },
        onAssignment: async (partitions) => {
          assignments.push(partitions);
          await new Promise((r) => setTimeout(r, 200));
          assignmentSettled = true;
        },
      });
      await waitFor(`consuming ${events.length}`, () => received.length >= events.length);

      const got = received.map(eventOf);
      assert.deepEqual(got.map(idOf).sort(), events.map(idOf).sort(), "exactly once");
      const sentById = new Map(events.map((e) => [idOf(e), e]));
      for (const e of got) assert.deepEqual(e, sentById.get(idOf(e)), "value round trip");
      for (const r of received) assert.equal(r.key, eventOf(r).symbol, "key = symbol");
      for (const symbol of SYMBOLS) {
        const mine = received.filter((r) => r.key === symbol);
        assert.deepEqual(
          mine.map((r) => eventOf(r).trade_id),
          Array.from({ length: mine.length }, (_, i) => i),
          `order of ${symbol}`,
        );
        assert.deepEqual([...new Set(mine.map((r) => r.partition))], [JAVA_PARTITION_OF[symbol]]);
        // Offsets of a symbol's records are consecutive: nothing else sits in its partition.
        assert.deepEqual(
          mine.map((r) => r.offset),
          Array.from({ length: mine.length }, (_, i) => i),
        );
      }
      assert.deepEqual(assignments, [[0, 1, 2]]);
      assert.deepEqual(handledBeforeSettled, [], "batches waited for onAssignment");
      const status = consumer.status();
      assert.equal(status.state, "running");
      assert.deepEqual(status.assigned, [0, 1, 2]);
      assert.equal(status.records, 1000);
      assert.deepEqual(status.lag, { 0: 0, 1: 0, 2: 0 });

      await consumer.stop();
      await running;
      assert.equal(consumer.status().state, "stopped");
      // Everything handled was committed to Kafka too.
      assert.deepEqual(await consumerLag(settings, groupId), { 0: 0, 1: 0, 2: 0 });
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: invalid records are rejected with their reason and land in the DLQ with headers and original bytes`, async () => {
    const topic = uniqueName("dlq");
    const groups = [uniqueName("dlq-group"), uniqueName("dlq-reader")];
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: groups }));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      const valid = makeEvents(1)[0];
      const injected: { key: string | null; value: string | Uint8Array; reason: RegExp }[] = [
        { key: "BTC-USDT", value: "not json", reason: /^invalid JSON: / },
        {
          key: "BTC-USDT",
          value: JSON.stringify({ ...valid, symbol: "BTC-USDT", price: -1 }),
          reason: /^price: price must be positive$/,
        },
        { key: "DOGE-USDT", value: "", reason: /^empty value$/ },
        {
          key: "BNB-USDT",
          value: new Uint8Array([0xff, 0xfe, 0x00, 0x7b]),
          reason: /^invalid UTF-8: /,
        },
        { key: null, value: JSON.stringify(valid), reason: /^key: missing/ },
      ];
      await producer.sendRaw(injected);
      await producer.send([valid]);

      const dlq = new DeadLetters(producer);
      const accepted: MarketEvent[] = [];
      const rejected: { record: KafkaRecord; reason: string }[] = [];
      let handled = 0;
      const consumer = new EventConsumer({
        ...settings,
        groupId: groups[0],
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
      });
      cleanup.add(() => consumer.stop());
      const running = consumer.run({
        async handleBatch(records) {
          const bad: { record: KafkaRecord; reason: string }[] = [];
          for (const record of records) {
            const d = decodeRecord(record);
            if (d.ok) accepted.push(d.value);
            else bad.push({ record, reason: d.reason });
          }
          await dlq.publish(bad); // before the batch counts as done
          rejected.push(...bad);
          handled += records.length;
        },
      });
      await waitFor("handling 6 records", () => handled >= injected.length + 1);
      await consumer.stop();
      await running;

      assert.deepEqual(accepted, [valid]);
      assert.equal(rejected.length, injected.length);
      assert.equal(dlq.published, injected.length);
      const originalOf = (r: KafkaRecord) => {
        const text = r.value ? new TextDecoder().decode(r.value) : "";
        const i = injected.findIndex((x) =>
          x.key === r.key &&
          (typeof x.value === "string" ? x.value === text : sameBytes(x.value, r.value))
        );
        assert.ok(i >= 0, `record ${r.key} ${text} is one of the injected`);
        return injected[i];
      };
      for (const { record, reason } of rejected) assert.match(reason, originalOf(record).reason);

      // Read the DLQ back.
      const letters: KafkaRecord[] = [];
      const reader = new EventConsumer({
        ...settings,
        topic: dlqTopic(topic),
        groupId: groups[1],
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
      });
      cleanup.add(() => reader.stop());
      const reading = reader.run({
        handleBatch: collectInto(letters),
      });
      await waitFor("reading the DLQ", () => letters.length >= injected.length);
      await reader.stop();
      await reading;

      assert.equal(letters.length, injected.length);
      for (const letter of letters) {
        assert.equal(letter.topic, `${topic}.dlq`);
        const source = rejected.find((x) =>
          String(x.record.partition) === letter.headers?.["x-sentinel-source-partition"] &&
          String(x.record.offset) === letter.headers?.["x-sentinel-source-offset"]
        );
        assert.ok(source, `DLQ record ${JSON.stringify(letter.headers)} names its source`);
        assert.deepEqual(letter.headers, {
          "x-sentinel-error": source.reason,
          "x-sentinel-source-topic": topic,
          "x-sentinel-source-partition": String(source.record.partition),
          "x-sentinel-source-offset": String(source.record.offset),
        });
        assert.equal(letter.key, source.record.key);
        const original = originalOf(source.record).value;
        const originalBytes = typeof original === "string"
          ? new TextEncoder().encode(original)
          : original;
        assert.deepEqual([...(letter.value ?? [])], [...originalBytes], "original bytes");
      }
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: a consumer stopped half way hands over at the committed offset, nothing skipped or redelivered`, async () => {
    const topic = uniqueName("resume");
    const groupId = uniqueName("resume-group");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: [groupId] }));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      const events = makeEvents(600);
      await producer.send(events);
      const HALF = 300;

      // First member: processes records until it has done HALF, then covers nothing more.
      const kv = new FakeKv();
      const first = new EventConsumer({
        ...settings,
        groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
      });
      cleanup.add(() => first.stop());
      const firstRun = first.run({
        handleBatch(records, ctx) {
          const fresh = kv.fresh(ctx.partition, records);
          const room = HALF - kv.processed.length;
          const take = fresh.slice(0, Math.max(0, room));
          const next = take.length ? take[take.length - 1].offset + 1 : records[0].offset;
          if (take.length) kv.commit(ctx.partition, take, next);
          return Promise.resolve(take.length === records.length ? undefined : next);
        },
      });
      await waitFor("first half", () => kv.processed.length >= HALF);
      await first.stop();
      await firstRun;
      assert.equal(kv.processed.length, HALF);
      assert.equal(first.status().records, HALF);

      // Kafka's committed offsets equal the "KV" offsets after a clean stop.
      const ends = expectedPerPartition(events);
      const lag = await consumerLag(settings, groupId);
      for (const p of [0, 1, 2]) {
        assert.equal(lag[p], ends[p] - (kv.next.get(p) ?? 0), `lag of ${p}`);
      }

      // Second member, same group: records everything kafkajs delivers (no KV skip).
      const delivered: KafkaRecord[] = [];
      const second = new EventConsumer({
        ...settings,
        groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
      });
      cleanup.add(() => second.stop());
      const secondRun = second.run({
        handleBatch: collectInto(delivered),
      });
      await waitFor("second half", () => delivered.length >= events.length - HALF);
      // Both members' lag reached 0: nothing more is on its way.
      await waitFor("lag 0", () => Object.values(second.status().lag).every((l) => l === 0));
      await second.stop();
      await secondRun;

      for (const r of delivered) {
        assert.ok(
          r.offset >= (kv.next.get(r.partition) ?? 0),
          `offset ${r.offset} of partition ${r.partition} was committed before, yet redelivered`,
        );
      }
      const all = [...kv.processed, ...delivered].map(eventOf).map(idOf).sort();
      assert.deepEqual(all, events.map(idOf).sort(), "the two halves are the whole, once");
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: a batch whose handler throws is not committed and is delivered again`, async () => {
    const topic = uniqueName("retry");
    const groupId = uniqueName("retry-group");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: [groupId] }));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      const events = makeEvents(300);
      await producer.send(events);

      const warnings: string[] = [];
      const kv = new FakeKv();
      const succeeded: KafkaRecord[] = [];
      let failed: { partition: number; offsets: number[] } | null = null;
      const consumer = new EventConsumer({
        ...settings,
        groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
        logger: { info: () => {}, warn: (m) => void warnings.push(m) },
      });
      cleanup.add(() => consumer.stop());
      const running = consumer.run({
        handleBatch(records, ctx) {
          if (failed === null) {
            failed = { partition: ctx.partition, offsets: records.map((r) => r.offset) };
            // A TypeError on purpose: kafkajs would treat it as fatal, the adapter must not.
            return Promise.reject(new TypeError("disk full (simulated)"));
          }
          succeeded.push(...records);
          const fresh = kv.fresh(ctx.partition, records);
          kv.commit(ctx.partition, fresh, records[records.length - 1].offset + 1);
          return Promise.resolve();
        },
      });
      await waitFor("all processed", () => kv.processed.length >= events.length);
      await consumer.stop();
      await running;

      assert.ok(failed, "the handler failed once");
      const { partition, offsets } = failed as { partition: number; offsets: number[] };
      const again = succeeded.filter((r) => r.partition === partition).map((r) => r.offset);
      for (const o of offsets) assert.ok(again.includes(o), `offset ${o} re-delivered`);
      // Successful deliveries never repeat a record: the failure re-fetched only the failed batch.
      const keys = succeeded.map((r) => `${r.partition}@${r.offset}`);
      assert.equal(new Set(keys).size, keys.length, "no duplicates among successful batches");
      assert.deepEqual(kv.processed.map(eventOf).map(idOf).sort(), events.map(idOf).sort());
      assert.match(consumer.status().lastError ?? "", /disk full \(simulated\)/);
      assert.ok(warnings.some((w) => w.includes("handleBatch failed") && w.includes("disk full")));
      assert.equal(consumer.status().state, "stopped");
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: a handler that keeps failing makes kafkajs restart the consumer, which resumes without loss`, async () => {
    const topic = uniqueName("restart");
    const groupId = uniqueName("restart-group");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: [groupId] }));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      const events = makeEvents(300);
      await producer.send(events);

      const warnings: string[] = [];
      const kv = new FakeKv();
      const FAILURES = 4; // retries: 2 means the third failure exhausts kafkajs' retries
      let failures = 0;
      let joins = 0;
      const consumer = new EventConsumer({
        ...settings,
        groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
        retry: { retries: 2, initialMs: 50, maxMs: 200 },
        logger: { info: () => {}, warn: (m) => void warnings.push(m) },
      });
      cleanup.add(() => consumer.stop());
      const running = consumer.run({
        handleBatch(records, ctx) {
          if (ctx.partition === 2 && failures < FAILURES) {
            failures++;
            return Promise.reject(new Error(`KV unavailable (simulated) #${failures}`));
          }
          const fresh = kv.fresh(ctx.partition, records);
          kv.commit(ctx.partition, fresh, records[records.length - 1].offset + 1);
          return Promise.resolve();
        },
        onAssignment: () => void joins++,
      });
      await waitFor("all processed", () => kv.processed.length >= events.length);
      await consumer.stop();
      await running;

      assert.equal(failures, FAILURES);
      assert.ok(joins >= 2, `the consumer rejoined after its restart (joins: ${joins})`);
      assert.ok(warnings.some((w) => /Crash|Restarting/.test(w)), "kafkajs reported the restart");
      assert.deepEqual(kv.processed.map(eventOf).map(idOf).sort(), events.map(idOf).sort());
      assert.equal(consumer.status().state, "stopped");
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: a handler that claims offsets outside its batch crashes the consumer for good`, async () => {
    const topic = uniqueName("crash");
    const groupId = uniqueName("crash-group");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: [groupId] }));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      await producer.send(makeEvents(3));
      const consumer = new EventConsumer({
        ...settings,
        groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
      });
      cleanup.add(() => consumer.stop());
      // A bug, not an outage: retrying cannot fix it, so run() must fail loudly.
      const running = consumer.run({ handleBatch: () => Promise.resolve(1_000_000) });
      await assert.rejects(running, /next offset must lie in/);
      assert.equal(consumer.status().state, "crashed");
      assert.match(consumer.status().lastError ?? "", /next offset must lie in/);
      // Nothing was committed for the bad batch.
      assert.deepEqual(await consumerLag(settings, groupId), expectedPerPartition(makeEvents(3)));
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: two members split the partitions and together get every record once`, async () => {
    const topic = uniqueName("pair");
    const groupId = uniqueName("pair-group");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: [groupId] }));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const members = [0, 1].map(() =>
        new EventConsumer({
          ...settings,
          groupId,
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
          maxWaitTimeMs: MAX_WAIT_MS,
        })
      );
      const got: KafkaRecord[][] = [[], []];
      const runs: Promise<void>[] = [];
      for (const [i, m] of members.entries()) {
        cleanup.add(() => m.stop());
        runs.push(m.run({ handleBatch: collectInto(got[i]) }));
        if (i === 0) await waitFor("first member owns all", () => m.status().assigned.length === 3);
      }
      const split = () => {
        const [a, b] = members.map((m) => m.status());
        return a.state === "running" && b.state === "running" && a.assigned.length > 0 &&
          b.assigned.length > 0 && a.assigned.length + b.assigned.length === PARTITIONS &&
          new Set([...a.assigned, ...b.assigned]).size === PARTITIONS;
      };
      await waitFor("the split", split);
      const [a, b] = members.map((m) => m.status().assigned);

      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      const events = makeEvents(600);
      await producer.send(events);
      await waitFor("all delivered", () => got[0].length + got[1].length >= events.length);
      for (const m of members) await m.stop();
      await Promise.all(runs);

      for (const r of got[0]) {
        assert.ok(a.includes(r.partition), `member 0 got partition ${r.partition}`);
      }
      for (const r of got[1]) {
        assert.ok(b.includes(r.partition), `member 1 got partition ${r.partition}`);
      }
      assert.ok(got[0].length > 0 && got[1].length > 0, "both members did work");
      const ids = [...got[0], ...got[1]].map(eventOf).map(idOf).sort();
      assert.deepEqual(ids, events.map(idOf).sort(), "every record once");
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: probeKafka answers with sane values, and throws for a closed port and a silent one`, async () => {
    const topic = uniqueName("probe");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings));
    // A port that accepts TCP connections but never says a word.
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const holding = (async () => {
      try {
        for await (const c of silent) held.push(c);
      } catch {
        // closed below
      }
    })();
    cleanup.add(async () => {
      silent.close();
      await holding;
      for (const c of held) c.close();
    });
    try {
      const before = await probeKafka(settings, 5_000);
      assert.equal(before.brokers, 1);
      assert.equal(before.partitions, 0, "no topic yet");
      assert.ok(Number.isFinite(before.latencyMs) && before.latencyMs >= 0);

      await ensureTopics(settings, { partitions: PARTITIONS });
      const after = await probeKafka(settings, 5_000);
      assert.equal(after.brokers, 1);
      assert.equal(after.partitions, PARTITIONS);

      for (const port of [1, (silent.addr as Deno.NetAddr).port]) {
        const dead = { ...settings, brokers: [`127.0.0.1:${port}`] };
        // The guard is 5x the probe's timeout: it catches a hang, it does not time the probe.
        let guard: ReturnType<typeof setTimeout> | undefined;
        const outcome = await Promise.race([
          probeKafka(dead, 1_000).then(() => "answered", (e: Error) => e.message),
          new Promise<string>((r) => guard = setTimeout(() => r("hung"), 5_000)),
        ]);
        clearTimeout(guard);
        assert.match(outcome, /^Kafka probe failed: /, `port ${port}`);
      }
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: a producer throws at once for a refused record, and for no broker only once closed`, async () => {
    const topic = uniqueName("refuse");
    const settings = settingsFor(topic);
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings));
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      const producer = new EventProducer(settings);
      cleanup.add(() => producer.close());
      // The broker's message.max.bytes is 1 MiB + 12 bytes (Kafka's default): 2 MB is refused
      // (MESSAGE_TOO_LARGE), and waiting would not change that.
      const huge = { key: "BTC-USDT", value: "x".repeat(2_000_000) };
      await assert.rejects(
        producer.sendRaw([huge]),
        /^Error: Kafka refused send to .*MESSAGE_TOO_LARGE/,
      );
      assert.match(producer.status().lastError ?? "", /MESSAGE_TOO_LARGE/);
      assert.equal(producer.status().retries, 0, "a refusal is not retried");
      // The producer is still usable: its idempotent sequence numbers were not consumed.
      await producer.send(makeEvents(3));
      assert.equal(producer.status().sent, 3);

      const nowhere = new EventProducer({
        ...settings,
        brokers: ["127.0.0.1:1"],
        connectionTimeoutMs: 200,
      });
      let settled = false;
      const connecting = nowhere.connect().finally(() => void (settled = true));
      connecting.catch(() => {}); // inspected below
      await waitFor("retrying", () => nowhere.status().retries >= 2);
      assert.equal(nowhere.status().state, "retrying");
      assert.equal(settled, false, "connect() waits while there is no broker");
      await nowhere.close();
      await assert.rejects(connecting, /closed/);
      assert.equal(nowhere.status().state, "closed");
      await assert.rejects(nowhere.send(makeEvents(1)), /closed/);
    } finally {
      await cleanup.run();
    }
  });

  Deno.test(`${SUITE}: a producer waits out an outage (proxy paused), says "retrying", then delivers once`, async () => {
    const topic = uniqueName("outage");
    const groupId = uniqueName("outage-group");
    const settings = settingsFor(topic);
    const [host, port] = brokers()[0].split(":");
    const proxy = new PausableProxy({ hostname: host, port: Number(port) });
    const cleanup = new Cleanup();
    cleanup.add(() => deleteTopics(settings, { groupIds: [groupId] }));
    cleanup.add(() => proxy.close());
    try {
      await ensureTopics(settings, { partitions: PARTITIONS });
      // Every connection, including those to the advertised 127.0.0.1:9092, goes through the proxy.
      const producer = new EventProducer({
        ...settings,
        brokers: [`127.0.0.1:${proxy.port}`],
        brokerRoute: () => ({ host: "127.0.0.1", port: proxy.port }),
        connectionTimeoutMs: 500,
      });
      cleanup.add(() => producer.close());
      const events = makeEvents(200);
      await producer.send(events.slice(0, 100));

      await proxy.pause();
      let done = false;
      const sending = producer.send(events.slice(100)).then(() => void (done = true));
      await waitFor('status "retrying"', () => producer.status().state === "retrying");
      assert.equal(done, false, "send waits while the broker is unreachable");
      assert.ok(producer.status().retries >= 1);
      assert.ok(producer.status().lastError);
      proxy.resume();
      await sending;
      const status = producer.status();
      assert.equal(status.state, "connected");
      assert.equal(status.sent, 200);

      // The log holds each event once, in per-symbol order (idempotent producer, one retry loop).
      const got: KafkaRecord[] = [];
      const consumer = new EventConsumer({
        ...settings,
        groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        maxWaitTimeMs: MAX_WAIT_MS,
      });
      cleanup.add(() => consumer.stop());
      const running = consumer.run({ handleBatch: collectInto(got) });
      await waitFor("reading back", () => got.length >= events.length);
      await waitFor("lag 0", () => Object.values(consumer.status().lag).every((l) => l === 0));
      await consumer.stop();
      await running;
      assert.deepEqual(got.map(eventOf).map(idOf).sort(), events.map(idOf).sort());
      for (const symbol of SYMBOLS) {
        const seqs = got.filter((r) => r.key === symbol).map((r) => eventOf(r).trade_id);
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x! - y!), `order of ${symbol}`);
      }
      assert.deepEqual(await consumerLag(settings, groupId), { 0: 0, 1: 0, 2: 0 });
    } finally {
      await cleanup.run();
    }
  });
}

/** A batch handler that only keeps what it is given. */
function collectInto(into: KafkaRecord[]): (records: KafkaRecord[]) => Promise<void> {
  return (records) => {
    into.push(...records);
    return Promise.resolve();
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array | null): boolean {
  return b !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}
