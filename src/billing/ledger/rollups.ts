// Usage rollups: every DEBIT adds itself to its account's DAY, MONTH and YEAR
// rows in the same database transaction, so charts read a handful of rows
// instead of scanning the ledger, and always agree with it.
import type { Decimal } from "../shared/money.js";
import { periodStarts, type PeriodStarts } from "../shared/periods.js";
import type { Writes } from "./store/writes.js";

/** Key under which a debit without a provider or feature is counted. */
export const UNATTRIBUTED = "unknown";

export interface DebitForRollup {
  accountId: string;
  mandateId: string;
  amount: Decimal;
  provider: string | null;
  featureCode: string | null;
  at: Date;
}

/** Queues the debit's additions to its DAY, MONTH and YEAR rows (written with the debit, store/writes.ts). */
export function addDebitToRollups(writes: Writes, debit: DebitForRollup, timeZone: string): void {
  writes.rollup({
    accountId: debit.accountId,
    mandateId: debit.mandateId,
    cost: debit.amount,
    provider: debit.provider || UNATTRIBUTED,
    feature: debit.featureCode || UNATTRIBUTED,
    starts: startsOf(debit.at, timeZone),
  });
}

// Formatting a date in a time zone costs tens of microseconds; debits come
// many per second, and within one second (time zone offsets are whole
// seconds) the periods are the same.
let last: { second: number; timeZone: string; starts: PeriodStarts } | undefined;

function startsOf(at: Date, timeZone: string): PeriodStarts {
  const second = Math.floor(at.getTime() / 1000);
  if (last?.second !== second || last.timeZone !== timeZone) last = { second, timeZone, starts: periodStarts(at, timeZone) };
  return last.starts;
}
