// Group commit: concurrent money moves share one database transaction.
//
// While a batch is in flight, the moves that arrive queue up; the next batch
// takes them together (no timer: a lone move goes at once, so latency at low
// load does not grow). A batch locks the accounts of all its moves in a
// fixed order and reads them, their settings, what is recorded under every
// move's idempotency key and every price, in one round trip; then applies
// the same TypeScript rules to each move in arrival order against the
// in-memory state, where a move sees what the moves before it in the batch
// did; then writes everything in a few multi-row statements (one rollup row
// per account and period however many debits it got) and commits once.
//
// A refused move (a BillingError) is refused alone: its changes to the
// in-memory state and to the batch's writes and events are rolled back, and
// its neighbours go on. An unexpected failure (the database, a key two
// processes raced for) fails the batch; its moves then run again, each in a
// batch of its own, so one bad move never fails its neighbours.
//
// Moves queue in lanes by mandate: the moves of one mandate always share a
// lane, a lane runs one batch at a time, and so one mandate's accounts (and
// one slow or locked account) hold at most one connection, whatever the
// load. The number of lanes leaves the rest of the pool to reads.
//
// An account locked elsewhere for long (a batch that waited lock_timeout)
// must not hold up the other mandates of its lane: the moves of a batch that
// timed out run again grouped by mandate, a mandate whose moves time out
// again is refused as unavailable and put in quarantine, and the moves of a
// mandate in quarantine queue in a lane of their own until one of them
// commits.
import type { Settings } from "@prisma/client";
import { isLockTimeout, isUniqueViolation } from "../../db/executor.js";
import type { Sql, SqlRow } from "../../db/sql.js";
import { inTransaction, type BillingContext, type BillingEvent } from "../shared/context.js";
import { BillingError, notFound } from "../shared/errors.js";
import { accountKeysByModel, type LockedAccount } from "./accounts.js";
import type { Booking } from "./booking.js";
import type { LockedTarget, MoveTarget } from "./targets.js";
import { findStatement, lockMandatesShared, type AccountRef } from "./store/locks.js";
import {
  earlierEntriesStatement,
  earlierHoldsStatement,
  pricesStatement,
  readStatement,
  toEarlier,
  toPrice,
  toRead,
  type Earlier,
  type EntryKey,
  type LockedRead,
  type ReadOptions,
} from "./store/reads.js";
import { Writes } from "./store/writes.js";
import { BatchState } from "./batch-state.js";
import { rearmWarning } from "./thresholds.js";

/** What a move locks and reads before its rules run. */
export interface MovePlan {
  /** The mandate the move is for: it decides the move's lane. */
  mandateId: string;
  target: MoveTarget | { authorizationId: string };
  entryKey?: EntryKey;
  holdKey?: string;
  price?: ReadOptions["price"];
}

/** A money move: what it reads, and its rules (which record their writes in the booking). */
export interface Move<R> {
  plan: MovePlan;
  apply(b: Booking, locked: LockedTarget): Promise<R>;
}

export interface BatchOptions {
  /** Lanes running a batch at a time (PostgreSQL: some of the pool; PGlite: 1, its one connection). */
  lanes: number;
  /** The most moves one batch takes. */
  maxBatch: number;
  /** Told the size of every batch that commits (metrics). */
  observe?(size: number): void;
}

interface Queued {
  move: Move<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Lane {
  queue: Queued[];
  running: Promise<void> | null;
}

/** The queue of a billing context's money moves, in lanes. */
export class MoveQueue {
  private readonly lanes: Lane[];
  /** The lane of the mandates in quarantine (whose account waited lock_timeout). */
  private readonly quarantine: Lane = { queue: [], running: null };
  private readonly quarantined = new Set<string>();

  constructor(
    private readonly ctx: BillingContext,
    private readonly options: BatchOptions,
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => ({ queue: [], running: null }));
  }

  submit<R>(move: Move<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const { mandateId } = move.plan;
      const lane = this.quarantined.has(mandateId) ? this.quarantine : this.lanes[laneOf(mandateId, this.lanes.length)];
      lane.queue.push({ move: move as Move<unknown>, resolve: resolve as (value: unknown) => void, reject });
      if (!lane.running) lane.running = this.drain(lane);
    });
  }

  /** Resolves when no move is queued or in flight. */
  async idle(): Promise<void> {
    const all = [...this.lanes, this.quarantine];
    while (all.some((lane) => lane.running)) await Promise.all(all.map((lane) => lane.running));
  }

  private async drain(lane: Lane): Promise<void> {
    // Moves submitted in the same tick as the first form its batch with it (no timer: a lone move goes at once).
    await null;
    try {
      while (lane.queue.length > 0) {
        const batch = lane.queue.splice(0, this.options.maxBatch);
        const runnable = lane === this.quarantine ? batch : batch.filter((queued) => !this.divertIfQuarantined(queued));
        if (runnable.length > 0) await this.run(runnable);
      }
    } finally {
      lane.running = null;
    }
  }

  /** Moves a move queued before its mandate went into quarantine to the quarantine's lane. */
  private divertIfQuarantined(queued: Queued): boolean {
    if (!this.quarantined.has(queued.move.plan.mandateId)) return false;
    this.quarantine.queue.push(queued);
    this.quarantine.running ??= this.drain(this.quarantine);
    return true;
  }

  /** Runs a batch; when it fails as a whole, each move again on its own (or, after a lock timeout, each mandate's moves). */
  private async run(batch: Queued[], attempt = 1): Promise<void> {
    try {
      const outcomes = await runBatch(
        this.ctx,
        batch.map((q) => q.move),
      );
      this.options.observe?.(batch.length);
      for (const queued of batch) this.quarantined.delete(queued.move.plan.mandateId);
      outcomes.forEach((outcome, i) => ("error" in outcome ? batch[i].reject(outcome.error) : batch[i].resolve(outcome.value)));
    } catch (error) {
      if (isLockTimeout(error)) {
        // Not one move's fault: an account is held elsewhere. Retrying its
        // moves one by one would wait lock_timeout for each of them.
        const byMandate = new Map<string, Queued[]>();
        for (const queued of batch) {
          const group = byMandate.get(queued.move.plan.mandateId);
          if (group) group.push(queued);
          else byMandate.set(queued.move.plan.mandateId, [queued]);
        }
        if (byMandate.size === 1) {
          this.quarantined.add(batch[0].move.plan.mandateId);
          for (const queued of batch) queued.reject(error);
        } else {
          for (const group of byMandate.values()) await this.run(group);
        }
      } else if (batch.length > 1) {
        for (const queued of batch) await this.run([queued]);
      } else if (isUniqueViolation(error) && attempt < 3) {
        // A move alone that lost a race on a key (or on opening an account)
        // runs again: it then finds what the winner committed.
        await this.run(batch, attempt + 1);
      } else {
        batch[0].reject(error);
      }
    }
  }
}

function laneOf(mandateId: string, lanes: number): number {
  if (lanes === 1) return 0;
  let hash = 0;
  for (let i = 0; i < mandateId.length; i++) hash = (hash * 31 + mandateId.charCodeAt(i)) | 0;
  return Math.abs(hash) % lanes;
}

type Outcome = { value: unknown } | { error: BillingError };

function refOf(target: MovePlan["target"], mandateId: string): AccountRef {
  if ("payer" in target) return { mandateId, accountKeys: accountKeysByModel(target.payer.userId) };
  return target;
}

function targetKey(target: MovePlan["target"]): string {
  if ("payer" in target) return `${target.payer.mandateId}|payer|${target.payer.userId ?? ""}`;
  if ("accountKey" in target) return `${target.mandateId}|key|${target.accountKey}`;
  if ("accountId" in target) return `~account|${target.accountId}`;
  return `~authorization|${target.authorizationId}`;
}

const entryKeyOf = (mandateId: string, key: EntryKey) => `${mandateId}|${key.scope}|${key.key}`;
const priceKeyOf = (call: { provider: string; model: string | null }) => `${call.provider}|${call.model ?? ""}`;

/** Runs the moves in one transaction; each move's outcome, in order. Throws when the batch as a whole fails. */
export async function runBatch(ctx: BillingContext, moves: Move<unknown>[]): Promise<Outcome[]> {
  return inTransaction(ctx, async (t, publish) => {
    const now = ctx.now();
    const writes = Writes.on(t, now);
    const events: BillingEvent[] = [];
    const state = new BatchState();
    const b: Booking = { ctx, t, writes, now, emit: (event) => events.push(event), batch: state };
    await lockAndReadAll(
      b,
      moves.map((m) => m.plan),
    );
    const outcomes: Outcome[] = [];
    for (const move of moves) {
      const snapshot = state.snapshot();
      const mark = writes.mark();
      const published = events.length;
      try {
        outcomes.push({ value: await move.apply(b, lockedFor(b, move.plan)) });
      } catch (error) {
        if (!(error instanceof BillingError)) throw error;
        state.restore(snapshot);
        writes.rollback(mark);
        events.length = published;
        outcomes.push({ error });
      }
    }
    for (const event of events) publish(event);
    return outcomes;
  });
}

/**
 * One round trip: the mandates' shared locks (moves that pick their account
 * by the billing model), each distinct account's queue and row lock and its
 * read (settings, holds, the authorization a settle names), in a fixed
 * order; then what is recorded under every key and every price.
 */
async function lockAndReadAll(b: Booking, plans: MovePlan[]): Promise<void> {
  const state = b.batch!;
  const targets = new Map<string, MovePlan>();
  for (const plan of plans) if (!targets.has(targetKey(plan.target))) targets.set(targetKey(plan.target), plan);
  const ordered = [...targets.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const mandates = [...new Set(plans.filter((p) => "payer" in p.target).map((p) => p.mandateId))];
  const entryKeys = plans
    .filter((p) => p.entryKey)
    .map((p) => ({ mandateId: p.mandateId, scope: p.entryKey!.scope, key: p.entryKey!.key }));
  const holdKeys = plans.filter((p) => p.holdKey !== undefined).map((p) => ({ mandateId: p.mandateId, key: p.holdKey! }));
  const calls = plans.flatMap((p) => (p.price && p.price !== "ofAuthorization" ? [p.price] : []));

  const statements: Sql[] = [];
  if (mandates.length > 0) statements.push(lockMandatesShared(mandates));
  for (const [, plan] of ordered) {
    const ref = refOf(plan.target, plan.mandateId);
    statements.push(
      findStatement(ref, true),
      readStatement(ref, b.now, { price: plan.price === "ofAuthorization" ? "ofAuthorization" : undefined }),
    );
  }
  const extra: ("entries" | "holds" | "prices")[] = [];
  if (entryKeys.length > 0) (statements.push(earlierEntriesStatement(entryKeys)), extra.push("entries"));
  if (holdKeys.length > 0) (statements.push(earlierHoldsStatement(holdKeys)), extra.push("holds"));
  if (calls.length > 0) (statements.push(pricesStatement(calls)), extra.push("prices"));

  const rows = await b.t.query(...statements);
  let at = mandates.length > 0 ? 1 : 0;
  for (const [key] of ordered) {
    const read = toRead(rows[at + 1][0]);
    if (read.account) read.account = state.account(read.account);
    state.reads.set(key, read);
    at += 2;
  }
  for (const kind of extra) {
    for (const row of rows[at++] as SqlRow[]) {
      if (kind === "entries") state.entries.set(`${row.mandateId}|${row.scope}|${row.key}`, toEarlier(row));
      else if (kind === "holds") state.holds.set(`${row.mandateId}|${row.key}`, toEarlier(row));
      else state.prices.set(priceKeyOf(toPrice(row)), toPrice(row));
    }
  }
  // A warning that an expired hold re-armed since is re-armed before any move judges.
  for (const read of state.reads.values()) if (read.account && read.settings) rearmWarning(b, read.account, read.settings);
}

/** What one move of the batch decides on: the batch's state, as the moves before it left it. */
function lockedFor(b: Booking, plan: MovePlan): LockedTarget {
  const state = b.batch!;
  const read = state.reads.get(targetKey(plan.target))!;
  if (!read.settings) {
    if ("payer" in plan.target) throw notFound(`Mandate "${plan.mandateId}"`, ["input", "mandateId"]);
    if ("authorizationId" in plan.target) throw notFound("Authorization", ["input", "authorizationId"]);
    throw notFound("Billing account", ["input", "accountId"]);
  }
  const settings: Settings = read.settings;
  const authorization = read.authorization && closedOrAsRead(b, read.authorization);
  const entryKey = plan.entryKey;
  const booked = entryKey && b.writes.entryUnder(plan.mandateId, entryKey.scope, entryKey.key);
  const held = plan.holdKey !== undefined ? b.writes.holdUnder(plan.mandateId, plan.holdKey) : undefined;
  const price = plan.price === "ofAuthorization" ? read.price : plan.price ? (state.prices.get(priceKeyOf(plan.price)) ?? null) : null;
  return {
    settings,
    // An account opened by an earlier move of the batch is found by its key.
    account: read.account ?? accountOpenedInBatch(b, plan, settings),
    entry: booked
      ? { id: booked.id, requestHash: booked.requestHash, accountId: booked.accountId, row: booked }
      : entryKey
        ? (state.entries.get(entryKeyOf(plan.mandateId, entryKey)) ?? null)
        : null,
    hold: held
      ? { id: held.id, requestHash: held.requestHash, accountId: held.accountId, row: held }
      : plan.holdKey !== undefined
        ? (state.holds.get(`${plan.mandateId}|${plan.holdKey}`) ?? null)
        : null,
    authorization,
    price,
    target: plan.target as MoveTarget,
    readKeys: { entryKey: plan.entryKey, holdKey: plan.holdKey },
  };
}

function accountOpenedInBatch(b: Booking, plan: MovePlan, settings: Settings): LockedAccount | null {
  const target = plan.target;
  if ("accountKey" in target) return b.batch!.accountsByKey.get(`${target.mandateId}|${target.accountKey}`) ?? null;
  if (!("payer" in target)) return null;
  const key = accountKeysByModel(target.payer.userId)[settings.billingModel];
  return key ? (b.batch!.accountsByKey.get(`${plan.mandateId}|${key}`) ?? null) : null;
}

/** An authorization as a move sees it: closed if an earlier move of the batch closed it. */
function closedOrAsRead(b: Booking, authorization: NonNullable<LockedRead["authorization"]>): NonNullable<LockedRead["authorization"]> {
  const closing = b.writes.closing(authorization.id);
  return closing
    ? { ...authorization, status: closing.status, transactionId: closing.transactionId, closedAt: closing.closedAt }
    : authorization;
}
