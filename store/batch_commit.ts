/**
 * What one worker batch commits (DESIGN.md section 7): its durable effects,
 * the atomic built ahead of the commit, and the error of a lost partition.
 * Apart from store/kv.ts, which commits them, to keep that file about KV
 * access; store/kv.ts re-exports all three.
 *
 * @module
 */
import type { Incident } from "../model/incidents.ts";
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
import type { OutboxEntry } from "./kv.ts";

/** One batch's durable effects, committed in one atomic. */
export interface BatchCommit {
  stream: string;
  partition: number;
  /** the offset after the last record of the batch */
  nextOffset: number;
  /** a deterministic id for the batch's pages (same batch → same keys) */
  pageId: string;
  states: readonly (readonly [symbol: string, state: unknown])[];
  rows: readonly FeatureRow[];
  predictions: readonly Prediction[];
  /**
   * Each prediction's index in `rows` (it is that row's prediction): the
   * prediction pages then refer to the row pages instead of repeating the
   * features. Absent: self-contained prediction pages.
   */
  predictedRows?: readonly number[];
  /** `Deno.KvU64` increments */
  counters: readonly (readonly [key: readonly string[], n: number])[];
  /** extra sets in the same atomic (e.g. a source's state) */
  extra?: readonly (readonly [key: Deno.KvKey, value: unknown])[];
  /** minutes of per-second bars the batch changed: `[symbol, minute, packed bars]` */
  bars?: readonly (readonly [symbol: string, minute: number, bytes: Uint8Array])[];
  /** incidents opened, updated or closed by the batch (latest version of each) */
  incidents?: readonly Incident[];
  /** webhook notifications of the incidents the batch opened or closed */
  outbox?: readonly OutboxEntry[];
  /**
   * The versionstamp the offset key had when this writer took the partition
   * over (null: it did not exist). The commit fails with
   * {@linkcode PartitionLostError} if another writer committed since: a worker
   * that lost its partition in a rebalance can never overwrite the new owner's
   * state. Undefined: no check.
   */
  expectOffsetVersion?: string | null;
}

/** A batch's atomic built ahead of its commit ({@linkcode Store.stageBatch}). */
export interface StagedBatch {
  readonly op: Deno.AtomicOperation;
  readonly stream: string;
  readonly partition: number;
}

/** A batch commit found that another writer owns the partition now. */
export class PartitionLostError extends Error {
  constructor(stream: string, partition: number) {
    super(`partition ${stream}/${partition} was committed by another writer`);
    this.name = "PartitionLostError";
  }
}
