// One database transaction of money moves: where its writes go, its clock,
// and its events (published only after COMMIT). Every money path runs in a
// booking; the rules record what they decide in `writes`, which goes out
// with the COMMIT (store/writes.ts).
import type { SqlTransaction } from "../../db/executor.js";
import { inTransaction, type BillingContext, type BillingEvent } from "../shared/context.js";
import { Writes } from "./store/writes.js";

export interface Booking {
  ctx: BillingContext;
  /** For the rare read a rule needs beyond the lock's (a replay's first answer, opening an account). */
  t: SqlTransaction;
  writes: Writes;
  /** The billing clock, read once: every row of the booking carries the same instant. */
  now: Date;
  emit(event: BillingEvent): void;
}

/** Runs `work` in one booking: committed with its writes when it resolves, nothing written when it throws. */
export function inBooking<T>(ctx: BillingContext, work: (b: Booking) => Promise<T>): Promise<T> {
  return inTransaction(ctx, (t, emit) => {
    const now = ctx.now();
    return work({ ctx, t, writes: Writes.on(t, now), now, emit });
  });
}
