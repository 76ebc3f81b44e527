// The reference model: Saldo's money rules as /work/shared/spec/billing.md and
// the rules of issue 11 state them, in plain TypeScript over decimal.js,
// written without looking at src/billing's rules (and importing nothing
// from it). Given the model's state and a command, `expectations` returns
// what Saldo must answer and what its ledger must look like afterwards.
//
// Where the rules leave Saldo a choice (reject a client key that looks like
// a system key, or keep it apart; re-evaluate the warning when an admin
// changes a setting, or only at the next move), it returns one alternative
// per choice, and the runner keeps the one Saldo's answer and ledger match.
import { Decimal as DecimalJs } from "decimal.js";
import { PRICES, REFUNDS_RAPPEN, type BillingModel, type Charge, type Key, type MandateNo, type Op, type Usage } from "./ops.js";

/** Exact: no product of prices and token counts is ever rounded implicitly. */
export const D = DecimalJs.clone({ precision: 80, rounding: DecimalJs.ROUND_HALF_UP });
type Dec = InstanceType<typeof D>;
const ZERO = new D(0);

export const USD_TO_CHF = new D("0.80");
export const MARKUP_PERCENT = new D(50);
export const MAX_AMOUNT = new D("1000000000");
export const MAX_BALANCE = new D("100000000000");
export const MIN_TOP_UP = new D(5);
export const MAX_TOP_UP = new D(10_000);
export const DEFAULT_HOLD_SECONDS = 3600;
export const DESCRIPTION = { credit: "model credit", adjust: "model adjustment" };

/** Money in the state is canonical decimal text, so the state is plain data (structuredClone). */
type Money = string;
const money = (d: Dec): Money => d.toString();
const dec = (m: Money | number) => new D(m);

export type EntryType = "CREDIT" | "DEBIT" | "ADJUSTMENT";
export interface Entry {
  type: EntryType;
  delta: Money;
  provider: string | null;
  feature: string | null;
  causedBy: string | null;
}

export interface Account {
  m: MandateNo;
  key: string;
  entries: Entry[];
  balance: Money;
  enabled: boolean;
  creditLimit: Money | null;
  warningThreshold: Money | null;
  /** Balance right after the latest CREDIT: the default threshold's base on prepaid accounts. */
  lastCreditBalance: Money | null;
  /** The warning has fired and was not re-armed since; null: either (Saldo had a choice). */
  warned: boolean | null;
}

export type HoldStatus = "ACTIVE" | "SETTLED" | "RELEASED" | "EXPIRED";
export interface Hold {
  no: number;
  m: MandateNo;
  account: string;
  userId: string | null;
  provider: string;
  model: string;
  amount: Money;
  expiresAt: number;
  /** As recorded: an ACTIVE hold past expiresAt is expired all the same (see effectiveStatus). */
  status: HoldStatus;
  /** Its expiry was noticed (sweep, move or read), which re-arms the warning. */
  noticed: boolean;
  settlement: { content: string; entry: EntryRef } | null;
}

export interface EntryRef {
  account: string;
  index: number;
}

interface Earlier {
  content: string;
  entry?: EntryRef;
  hold?: number;
}

type WriteKind = "credit" | "adjust" | "recordUsage" | "authorize";

export interface Mandate {
  billingModel: BillingModel;
  defaultUserCredit: Money;
  warningThresholdPercent: Money;
  blockOnZeroBalance: boolean;
  allowedProviders: string[] | null;
  hasAddress: boolean;
  hasNotifyEmails: boolean;
  notifyOnWarning: boolean;
  /** Idempotency keys: unique per mandate and kind of write. */
  keys: Record<WriteKind, Record<string, Earlier>>;
}

export interface Session {
  m: MandateNo;
  account: string;
  amount: Money;
  paid: boolean;
  refunded: boolean[];
}

export interface AutoTopUp {
  m: MandateNo;
  account: string;
  amount: Money;
  succeeded: boolean;
}

export interface State {
  now: number;
  mandates: [Mandate, Mandate];
  /** Opened accounts by accountId(m, key). */
  accounts: Record<string, Account>;
  holds: Hold[];
  prices: Record<string, number>;
  sessions: (Session | null)[];
  autoTopUps: (AutoTopUp | null)[];
  /** Stripe events sent so far (their ids are numbered). */
  stripeEvents: number;
  /** Client requests sent so far, as sent: what `retry` sends again. */
  history: Op[];
}

export const accountId = (m: MandateNo, key: string) => `${m}|${key}`;

export function initialState(now: number, initialPrices: { provider: string; model: string; price: number }[]): State {
  const mandate = (billingModel: BillingModel, hasNotifyEmails: boolean): Mandate => ({
    billingModel,
    defaultUserCredit: "10",
    warningThresholdPercent: "10",
    blockOnZeroBalance: true,
    allowedProviders: null,
    hasAddress: false,
    hasNotifyEmails,
    notifyOnWarning: true,
    keys: { credit: {}, adjust: {}, recordUsage: {}, authorize: {} },
  });
  return {
    now,
    // Mandate 0 starts shared and has warning emails; mandate 1 starts per user, without.
    mandates: [mandate("PREPAY_MANDATE", true), mandate("PREPAY_USER", false)],
    accounts: {},
    holds: [],
    prices: Object.fromEntries(initialPrices.map((p) => [`${p.provider}/${p.model}`, p.price])),
    sessions: [null, null, null],
    autoTopUps: [null, null],
    stripeEvents: 0,
    history: [],
  };
}

// ------------------------------------------------------------ expectations

export type DenialReason = "INSUFFICIENT_BALANCE" | "PROVIDER_NOT_ALLOWED" | "ACCOUNT_DISABLED";

export type Expected =
  | { kind: "error"; codes: string[] }
  | { kind: "booked"; entry: EntryRef }
  | { kind: "replayed"; entry: EntryRef }
  | { kind: "held"; hold: number }
  | { kind: "holdReplayed"; hold: number; status: HoldStatus }
  | { kind: "denied"; reason: DenialReason }
  | { kind: "released"; status: HoldStatus }
  | { kind: "ok" }
  | { kind: "topUp"; account: string }
  | { kind: "stripe" }
  | { kind: "balance"; balance: Money; held: Money; available: Money | null; isWarning: boolean | null }
  | { kind: "check"; allowed: boolean; reason: DenialReason | null; available: Money | null; currentBalance: Money }
  | { kind: "statistics"; totalCost: Money; count: number; byProvider: Record<string, Money>; byFeature: Record<string, Money> }
  | { kind: "many"; each: Expected[] };

/** One way Saldo may answer: the answer, the state after it, and the warnings it fires. */
export class Alternative {
  expected: Expected = { kind: "ok" };
  /** balanceWarning events per account: [at least, at most]. */
  fires: Record<string, [number, number]> = {};
  /** Warning emails per mandate: [at least, at most]. */
  emails: [number, number][] = [
    [0, 0],
    [0, 0],
  ];
  /** Warnings that may or may not fire: the warned flag to keep in either case. */
  optional: Record<string, { ifFired: boolean | null; ifNot: boolean | null } | "several"> = {};
  constructor(
    public state: State,
    public label: string[] = [],
  ) {}

  fork(label: string): Alternative {
    const copy = new Alternative(structuredClone(this.state), [...this.label, label]);
    copy.expected = structuredClone(this.expected);
    copy.fires = structuredClone(this.fires);
    copy.emails = structuredClone(this.emails);
    copy.optional = structuredClone(this.optional);
    return copy;
  }

  /** After the answer was seen: a warning that might have fired did or did not. */
  settleOptional(firedByAccount: Record<string, number>): void {
    for (const [id, option] of Object.entries(this.optional)) {
      const account = this.state.accounts[id];
      if (!account) continue;
      if (option === "several") account.warned = null;
      else account.warned = (firedByAccount[id] ?? 0) > 0 ? option.ifFired : option.ifNot;
    }
  }
}

/** Time passes between two commands (and warning emails of two crossings never share an instant). */
export const TICK_MS = 1000;

/** What Saldo may answer to `op` (the concrete op: see concreteOp), one alternative per choice it has. */
export function expectations(state: State, op: Op): Alternative[] {
  const next = structuredClone(state);
  next.now += TICK_MS;
  return step(new Alternative(next), op);
}

/** The command as sent: a retry becomes the earlier request it sends again. */
export function concreteOp(state: State, op: Op): Op {
  if (op.kind === "retry") return resolveRetry(state, op);
  if (op.kind === "concurrent") return { ...op, op: concreteOp(state, op.op) };
  return op;
}

function step(alt: Alternative, op: Op): Alternative[] {
  switch (op.kind) {
    case "credit":
    case "adjust":
      alt.state.history.push(op);
      return withClientKey(alt, op.key, (a) => creditOrAdjust(a, op));
    case "recordUsage":
      alt.state.history.push(op);
      return withClientKey(alt, op.key, (a) => recordUsage(a, op));
    case "authorize":
      alt.state.history.push(op);
      return withClientKey(alt, op.key, (a) => authorize(a, op));
    case "settle":
      // Remembered by the hold it named, so that a retry settles the same hold.
      alt.state.history.push({ ...op, holdNo: holdOf(alt.state, op).no });
      return [settle(alt, op)];
    case "release":
      return [release(alt, op)];
    case "retry":
      return step(alt, resolveRetry(alt.state, op));
    case "concurrent":
      return concurrent(alt, op.op, op.times);
    case "advanceClock":
      alt.state.now += op.seconds * 1000;
      return [ok(alt)];
    case "expireHolds":
      return [expireHolds(alt)];
    case "upsertPrice":
      alt.state.prices[`${op.provider}/${op.model}`] = op.price;
      return [ok(alt)];
    case "switchModel":
      return [switchModel(alt, op)];
    case "updateSettings":
      return [updateSettings(alt, op)];
    case "updateAccount":
      return [updateAccount(alt, op)];
    case "startTopUp":
      return startTopUp(alt, op);
    case "checkoutEvent":
      return [checkoutEvent(alt, op)];
    case "refundEvent":
      return [refundEvent(alt, op)];
    case "claimAutoTopUp": {
      const mandate = alt.state.mandates[op.m];
      alt.state.autoTopUps[op.slot] = { m: op.m, account: payingKey(mandate, op.user)!, amount: money(dec(op.amount)), succeeded: false };
      return [ok(alt)];
    }
    case "autoTopUpSucceeded":
      return [autoTopUpSucceeded(alt, op)];
    case "redeliver":
      // Stripe sends an event again: it was handled (booked) the first time.
      alt.expected = { kind: "stripe" };
      return [alt];
    case "balance":
      return [balance(alt, op)];
    case "checkBilling":
      return [checkBilling(alt, op)];
    case "statistics":
      return [statistics(alt, op)];
  }
}

/** Whether the command can run in this state (fast-check skips it otherwise). */
export function applicable(state: State, op: Op): boolean {
  const mandate = (m: MandateNo) => state.mandates[m];
  switch (op.kind) {
    case "settle":
    case "release":
      return state.holds.length > 0;
    case "retry":
      return state.history.length > 0;
    case "concurrent":
      return applicable(state, op.op);
    case "switchModel":
      return mandate(op.m).billingModel !== op.to;
    case "updateAccount":
      return !!state.accounts[accountId(op.m, op.account)];
    case "startTopUp":
      // Topping up an UNLIMITED mandate makes no sense; not exercised.
      return !state.sessions[op.slot] && mandate(op.m).billingModel !== "UNLIMITED";
    case "checkoutEvent":
      return !!state.sessions[op.slot];
    case "refundEvent":
      return !!state.sessions[op.slot]?.paid;
    case "claimAutoTopUp": {
      // Saldo claims automatic top-ups for prepaid accounts that exist (autotopup.ts decides when; not modelled here).
      const model = mandate(op.m).billingModel;
      if (state.autoTopUps[op.slot] || (model !== "PREPAY_MANDATE" && model !== "PREPAY_USER")) return false;
      const key = payingKey(mandate(op.m), op.user);
      return key !== null && !!state.accounts[accountId(op.m, key)];
    }
    case "autoTopUpSucceeded":
      return !!state.autoTopUps[op.slot];
    case "redeliver":
      return state.stripeEvents > 0;
    default:
      return true;
  }
}

// ------------------------------------------------------------ accounts

/** The account that pays for `user` under the mandate's model; null when PREPAY_USER has no user. */
export function payingKey(mandate: Mandate, user: string | null): string | null {
  switch (mandate.billingModel) {
    case "PREPAY_USER":
      return user ? `user:${user}` : null;
    case "UNLIMITED":
      return "unlimited";
    default:
      return "mandate";
  }
}

/** An account as it is, or as it would open: a USER account with the default credit. */
function view(state: State, m: MandateNo, key: string): Account {
  const opened = state.accounts[accountId(m, key)];
  if (opened) return opened;
  const initial = key.startsWith("user:") ? dec(state.mandates[m].defaultUserCredit) : ZERO;
  return {
    m,
    key,
    entries: [],
    balance: money(initial),
    enabled: true,
    creditLimit: null,
    warningThreshold: null,
    lastCreditBalance: initial.greaterThan(0) ? money(initial) : null,
    warned: false,
  };
}

function held(state: State, account: Account): Dec {
  return state.holds
    .filter((h) => h.m === account.m && h.account === account.key && h.status === "ACTIVE" && h.expiresAt > state.now)
    .reduce((sum, h) => sum.plus(h.amount), ZERO);
}

/** What may still be spent; null: no limit (UNLIMITED). */
function available(state: State, account: Account): Dec | null {
  const mandate = state.mandates[account.m];
  if (mandate.billingModel === "UNLIMITED") return null;
  const limit = mandate.billingModel === "CREDIT_POSTPAY" ? dec(account.creditLimit ?? "0") : ZERO;
  return dec(account.balance).plus(limit).minus(held(state, account));
}

/** The warning threshold in CHF; null: never warns (UNLIMITED). */
function threshold(state: State, account: Account): Dec | null {
  const mandate = state.mandates[account.m];
  if (mandate.billingModel === "UNLIMITED") return null;
  if (account.warningThreshold !== null) return dec(account.warningThreshold);
  const base = mandate.billingModel === "CREDIT_POSTPAY" ? account.creditLimit : account.lastCreditBalance;
  if (base === null || dec(base).isNegative()) return ZERO;
  return dec(base).times(mandate.warningThresholdPercent).dividedBy(100).toDecimalPlaces(6, D.ROUND_HALF_UP);
}

/** Opens the account on its first money move: a USER account starts with the default credit. */
function open(alt: Alternative, m: MandateNo, key: string): Account {
  const id = accountId(m, key);
  const existing = alt.state.accounts[id];
  if (existing) return existing;
  const account: Account = {
    m,
    key,
    entries: [],
    balance: "0",
    enabled: true,
    creditLimit: null,
    warningThreshold: null,
    lastCreditBalance: null,
    warned: false,
  };
  alt.state.accounts[id] = account;
  const initial = dec(alt.state.mandates[m].defaultUserCredit);
  if (key.startsWith("user:") && initial.greaterThan(0)) book(account, "CREDIT", initial, {});
  return account;
}

/** The balance an opened account would have before the move: its own, or the initial credit. */
const startingBalance = (state: State, m: MandateNo, key: string) => dec(view(state, m, key).balance);

function book(account: Account, type: EntryType, delta: Dec, about: Partial<Entry>): EntryRef {
  account.entries.push({
    type,
    delta: money(delta),
    provider: about.provider ?? null,
    feature: about.feature ?? null,
    causedBy: about.causedBy ?? null,
  });
  account.balance = money(dec(account.balance).plus(delta));
  if (type === "CREDIT") account.lastCreditBalance = account.balance;
  return { account: accountId(account.m, account.key), index: account.entries.length - 1 };
}

// ------------------------------------------------------------ warnings

function fire(alt: Alternative, account: Account, min: number, max: number) {
  const id = accountId(account.m, account.key);
  const [lo, hi] = alt.fires[id] ?? [0, 0];
  alt.fires[id] = [lo + min, hi + max];
  const mandate = alt.state.mandates[account.m];
  if (mandate.hasNotifyEmails && mandate.notifyOnWarning) {
    const [elo, ehi] = alt.emails[account.m];
    alt.emails[account.m] = [elo + min, ehi + max];
  }
}

/**
 * After a change of what may be spent: fires once when available falls to or
 * below the threshold while armed; re-arms above it. `may`: Saldo may
 * evaluate now or only at the next move (an admin changed a setting).
 */
function evaluate(alt: Alternative, account: Account, mode: "must" | "may" = "must") {
  const limit = threshold(alt.state, account);
  const spendable = available(alt.state, account);
  if (limit === null || spendable === null) {
    // UNLIMITED never warns; whether it clears a warning left from before is Saldo's choice.
    if (account.warned === true) account.warned = null;
    return;
  }
  const below = spendable.lessThanOrEqualTo(limit);
  const id = accountId(account.m, account.key);
  if (mode === "must") {
    if (below && account.warned === false) fire(alt, account, 1, 1);
    if (below && account.warned === null) {
      fire(alt, account, 0, 1);
      markOptional(alt, id, { ifFired: true, ifNot: true });
    }
    account.warned = below;
    return;
  }
  if (below && account.warned !== true) {
    fire(alt, account, 0, 1);
    markOptional(alt, id, { ifFired: true, ifNot: account.warned === false ? false : null });
    account.warned = null;
  } else if (!below && account.warned !== false) {
    account.warned = null;
  }
}

function markOptional(alt: Alternative, id: string, option: { ifFired: boolean | null; ifNot: boolean | null }) {
  alt.optional[id] = alt.optional[id] ? "several" : option;
}

/**
 * Holds past their expiry that nobody noticed yet are noticed now (a sweep,
 * a move or a read of the account): they re-arm the warning when what may
 * be spent is above the threshold again.
 */
export function notice(state: State, account: Account): void {
  const expired = state.holds.filter(
    (h) =>
      h.m === account.m &&
      h.account === account.key &&
      !h.noticed &&
      (h.status === "ACTIVE" || h.status === "EXPIRED") &&
      h.expiresAt <= state.now,
  );
  if (expired.length === 0) return;
  for (const h of expired) h.noticed = true;
  const limit = threshold(state, account);
  const spendable = available(state, account);
  if (limit !== null && spendable !== null && spendable.greaterThan(limit)) account.warned = false;
}

export function effectiveStatus(state: State, hold: Hold): HoldStatus {
  return hold.status === "ACTIVE" && hold.expiresAt <= state.now ? "EXPIRED" : hold.status;
}

// ------------------------------------------------------------ validation

const ok = (alt: Alternative): Alternative => ((alt.expected = { kind: "ok" }), alt);
const fail = (alt: Alternative, ...codes: (string | null)[]): Alternative => {
  alt.expected = { kind: "error", codes: [...new Set(codes.filter((c): c is string => c !== null))] };
  return alt;
};

/** INVALID_AMOUNT unless the amount is within the limits (and > 0, != 0, >= 0 as asked). */
function amountError(text: string, rule: "positive" | "nonZero" | "nonNegative"): string | null {
  const value = dec(text);
  if (value.decimalPlaces() > 6 || value.abs().greaterThan(MAX_AMOUNT)) return "INVALID_AMOUNT";
  if (rule === "positive" && !value.greaterThan(0)) return "INVALID_AMOUNT";
  if (rule === "nonZero" && value.isZero()) return "INVALID_AMOUNT";
  if (rule === "nonNegative" && value.isNegative()) return "INVALID_AMOUNT";
  return null;
}

function withUsageDefaults(usage: Usage) {
  return { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0, requests: usage.requests ?? 1 };
}

/** The catalog price: USD x rate x (1 + markup), rounded once, half up, to micro-CHF. */
export function priceOf(state: State, provider: string, model: string, usage: Usage): Dec | null {
  const index = state.prices[`${provider}/${model}`];
  if (index === undefined) return null;
  const p = PRICES[index];
  const u = withUsageDefaults(usage);
  const usd = dec(p.input)
    .times(u.inputTokens)
    .plus(dec(p.output).times(u.outputTokens))
    .dividedBy(1_000_000)
    .plus(dec(p.perRequest).times(u.requests));
  return usd.times(USD_TO_CHF).times(MARKUP_PERCENT.plus(100).dividedBy(100)).toDecimalPlaces(6, D.ROUND_HALF_UP);
}

/** The cost of a charge, or why it has none. */
function costOf(state: State, provider: string, model: string, charge: Charge): { cost: Dec } | { error: string } {
  if ("cost" in charge) {
    const error = amountError(charge.cost, "nonNegative");
    return error ? { error } : { cost: dec(charge.cost) };
  }
  const cost = priceOf(state, provider, model, charge.usage);
  if (cost === null) return { error: "UNKNOWN_PRICE" };
  if (cost.greaterThan(MAX_AMOUNT)) return { error: "INVALID_AMOUNT" };
  return { cost };
}

/** What the caller sent, normalized: amounts by value, usage with its defaults. */
function chargeContent(charge: Charge) {
  return "cost" in charge ? { cost: money(dec(charge.cost)) } : { usage: withUsageDefaults(charge.usage) };
}

function beyondBalanceLimit(balance: Dec): boolean {
  return balance.abs().greaterThan(MAX_BALANCE);
}

/**
 * A client key that looks like one Saldo derives itself may be refused
 * (VALIDATION_FAILED, nothing written) or kept in the clients' own namespace.
 */
function withClientKey(alt: Alternative, key: Key, body: (alt: Alternative) => Alternative[]): Alternative[] {
  if (key !== "sys:checkout0" && key !== "saldo") return body(alt);
  const refused = fail(alt.fork("system-like key refused"), "VALIDATION_FAILED");
  return [refused, ...body(alt.fork("system-like key kept apart"))];
}

/** The same key used before: a replay when the content is the same, else a conflict (or the request's own error). */
function earlierRequest(
  alt: Alternative,
  earlier: Earlier | undefined,
  content: string,
  ownErrors: (string | null)[],
  replay: () => Expected,
): Alternative | null {
  if (!earlier) return null;
  if (earlier.content === content) {
    alt.expected = replay();
    return alt;
  }
  return fail(alt, "IDEMPOTENCY_CONFLICT", ...ownErrors);
}

// ------------------------------------------------------------ money moves

function creditOrAdjust(alt: Alternative, op: Extract<Op, { kind: "credit" | "adjust" }>): Alternative[] {
  const mandate = alt.state.mandates[op.m];
  const amountErr = amountError(op.amount, op.kind === "credit" ? "positive" : "nonZero");
  const userErr = mandate.billingModel === "PREPAY_USER" ? (op.user ? null : "VALIDATION_FAILED") : op.user ? "VALIDATION_FAILED" : null;
  const content = JSON.stringify([op.kind, op.m, op.user, amountErr ? op.amount : money(dec(op.amount)), DESCRIPTION[op.kind]]);
  const earlier = earlierRequest(alt, mandate.keys[op.kind][op.key], content, [amountErr, userErr], () => ({
    kind: "replayed",
    entry: mandate.keys[op.kind][op.key].entry!,
  }));
  if (earlier) return [earlier];
  if (amountErr || userErr) return [fail(alt, amountErr, userErr)];
  const key = payingKey(mandate, op.user)!;
  const amount = dec(op.amount);
  if (beyondBalanceLimit(startingBalance(alt.state, op.m, key).plus(amount))) return [fail(alt, "INVALID_AMOUNT")];
  const account = open(alt, op.m, key);
  notice(alt.state, account);
  const entry = book(account, op.kind === "credit" ? "CREDIT" : "ADJUSTMENT", amount, {});
  evaluate(alt, account);
  mandate.keys[op.kind][op.key] = { content, entry };
  alt.expected = { kind: "booked", entry };
  return [alt];
}

function recordUsage(alt: Alternative, op: Extract<Op, { kind: "recordUsage" }>): Alternative[] {
  const mandate = alt.state.mandates[op.m];
  const provider = op.provider.toLowerCase();
  const priced = costOf(alt.state, provider, op.model, op.charge);
  const costErr = "error" in priced ? priced.error : null;
  const userErr = mandate.billingModel === "PREPAY_USER" && !op.user ? "VALIDATION_FAILED" : null;
  const content = JSON.stringify(["recordUsage", op.m, op.user, provider, op.model, chargeContent(op.charge), op.feature]);
  const earlier = earlierRequest(alt, mandate.keys.recordUsage[op.key], content, [costErr, userErr], () => ({
    kind: "replayed",
    entry: mandate.keys.recordUsage[op.key].entry!,
  }));
  if (earlier) return [earlier];
  if (costErr || userErr) return [fail(alt, costErr, userErr)];
  const cost = (priced as { cost: Dec }).cost;
  const key = payingKey(mandate, op.user)!;
  if (beyondBalanceLimit(startingBalance(alt.state, op.m, key).minus(cost))) return [fail(alt, "INVALID_AMOUNT")];
  const account = open(alt, op.m, key);
  notice(alt.state, account);
  // A zero cost is a DEBIT of 0 all the same: it reserves its key and counts in the statistics.
  const entry = book(account, "DEBIT", cost.negated(), { provider, feature: op.feature, causedBy: op.user });
  evaluate(alt, account);
  mandate.keys.recordUsage[op.key] = { content, entry };
  alt.expected = { kind: "booked", entry };
  return [alt];
}

/** The one rule that decides whether a call may run. */
function denial(state: State, account: Account, provider: string, required: Dec): DenialReason | null {
  const mandate = state.mandates[account.m];
  if (mandate.allowedProviders !== null && !mandate.allowedProviders.includes(provider)) return "PROVIDER_NOT_ALLOWED";
  if (!account.enabled) return "ACCOUNT_DISABLED";
  const spendable = available(state, account);
  if (spendable === null) return null;
  if (mandate.billingModel !== "CREDIT_POSTPAY" && !mandate.blockOnZeroBalance) return null;
  const covered = required.isZero() ? spendable.greaterThan(0) : spendable.greaterThanOrEqualTo(required);
  return covered ? null : "INSUFFICIENT_BALANCE";
}

function authorize(alt: Alternative, op: Extract<Op, { kind: "authorize" }>): Alternative[] {
  const state = alt.state;
  const mandate = state.mandates[op.m];
  const provider = op.provider.toLowerCase();
  const priced = costOf(state, provider, op.model, op.estimate);
  const costErr = "error" in priced ? priced.error : null;
  const userErr = mandate.billingModel === "PREPAY_USER" && !op.user ? "VALIDATION_FAILED" : null;
  const content = JSON.stringify(["authorize", op.m, op.user, provider, op.model, chargeContent(op.estimate), op.expiresInSeconds]);
  const earlierHold = mandate.keys.authorize[op.key];
  const earlier = earlierRequest(alt, earlierHold, content, [costErr, userErr], () => ({
    kind: "holdReplayed",
    hold: earlierHold.hold!,
    status: effectiveStatus(state, state.holds[earlierHold.hold!]),
  }));
  if (earlier) return [earlier];
  if (costErr || userErr) return [fail(alt, costErr, userErr)];
  const amount = (priced as { cost: Dec }).cost;
  const key = payingKey(mandate, op.user)!;
  const opened = !!state.accounts[accountId(op.m, key)];
  if (opened) notice(state, state.accounts[accountId(op.m, key)]);
  const reason = denial(state, view(state, op.m, key), provider, amount);
  if (reason) {
    // A denied call holds and reserves nothing. Whether it opens the account
    // (with its initial credit) the rules leave open: either is accepted.
    alt.expected = { kind: "denied", reason };
    if (opened) return [alt];
    const openedAnyway = alt.fork("denied call opened the account");
    evaluate(openedAnyway, open(openedAnyway, op.m, key), "may");
    return [alt.fork("denied call opened nothing"), openedAnyway];
  }
  const account = open(alt, op.m, key);
  const hold: Hold = {
    no: state.holds.length,
    m: op.m,
    account: key,
    userId: op.user,
    provider,
    model: op.model,
    amount: money(amount),
    expiresAt: state.now + (op.expiresInSeconds ?? DEFAULT_HOLD_SECONDS) * 1000,
    status: "ACTIVE",
    noticed: false,
    settlement: null,
  };
  state.holds.push(hold);
  evaluate(alt, account);
  mandate.keys.authorize[op.key] = { content, hold: hold.no };
  alt.expected = { kind: "held", hold: hold.no };
  return [alt];
}

/**
 * The hold a command names: the n-th newest (modulo), so that shrinking
 * earlier commands away keeps the same hold; a retried settlement names it by number.
 */
export function holdOf(state: State, op: { hold: number; holdNo?: number }): Hold {
  return state.holds[op.holdNo ?? state.holds.length - 1 - (op.hold % state.holds.length)];
}

function settle(alt: Alternative, op: Extract<Op, { kind: "settle" }>): Alternative {
  const state = alt.state;
  const hold = holdOf(state, op);
  const priced = costOf(state, hold.provider, hold.model, op.charge);
  const costErr = "error" in priced ? priced.error : null;
  const content = JSON.stringify(["settle", chargeContent(op.charge), op.feature]);
  if (hold.status === "SETTLED") {
    if (hold.settlement!.content === content) {
      alt.expected = { kind: "replayed", entry: hold.settlement!.entry };
      return alt;
    }
    return fail(alt, "IDEMPOTENCY_CONFLICT", costErr);
  }
  if (effectiveStatus(state, hold) !== "ACTIVE") return fail(alt, "AUTHORIZATION_NOT_ACTIVE", costErr);
  if (costErr) return fail(alt, costErr);
  const cost = (priced as { cost: Dec }).cost;
  const account = state.accounts[accountId(hold.m, hold.account)];
  if (beyondBalanceLimit(dec(account.balance).minus(cost))) return fail(alt, "INVALID_AMOUNT");
  notice(state, account);
  const entry = book(account, "DEBIT", cost.negated(), { provider: hold.provider, feature: op.feature, causedBy: hold.userId });
  hold.status = "SETTLED";
  hold.settlement = { content, entry };
  evaluate(alt, account);
  alt.expected = { kind: "booked", entry };
  return alt;
}

function release(alt: Alternative, op: Extract<Op, { kind: "release" }>): Alternative {
  const state = alt.state;
  const hold = holdOf(state, op);
  const account = state.accounts[accountId(hold.m, hold.account)];
  const status = effectiveStatus(state, hold);
  if (status === "SETTLED") return fail(alt, "AUTHORIZATION_NOT_ACTIVE");
  if (status === "EXPIRED") {
    hold.status = "EXPIRED";
    notice(state, account);
  } else if (status === "ACTIVE") {
    hold.status = "RELEASED";
    notice(state, account);
    evaluate(alt, account);
  }
  alt.expected = { kind: "released", status: hold.status };
  return alt;
}

function expireHolds(alt: Alternative): Alternative {
  const state = alt.state;
  for (const hold of state.holds) if (effectiveStatus(state, hold) === "EXPIRED") hold.status = "EXPIRED";
  for (const account of Object.values(state.accounts)) notice(state, account);
  return ok(alt);
}

function concurrent(alt: Alternative, op: Op, times: number): Alternative[] {
  // Identical requests at once: as if one came first and the others were its retries.
  let alts = [alt];
  const each: Expected[][] = [[]];
  for (let i = 0; i < times; i++) {
    const next: Alternative[] = [];
    const nextEach: Expected[][] = [];
    alts.forEach((a, j) => {
      for (const b of step(a, op)) {
        next.push(b);
        nextEach.push([...each[j], b.expected]);
      }
    });
    alts = next;
    each.splice(0, each.length, ...nextEach);
  }
  alts.forEach((a, j) => (a.expected = { kind: "many", each: each[j] }));
  return alts;
}

// ------------------------------------------------------------ settings

function switchModel(alt: Alternative, op: Extract<Op, { kind: "switchModel" }>): Alternative {
  const state = alt.state;
  const mandate = state.mandates[op.m];
  const addressErr = op.to === "CREDIT_POSTPAY" && !op.withAddress && !mandate.hasAddress ? "BILLING_ADDRESS_REQUIRED" : null;
  const activeHold = state.holds.some((h) => h.m === op.m && effectiveStatus(state, h) === "ACTIVE");
  const holdErr = activeHold ? "VALIDATION_FAILED" : null;
  if (addressErr || holdErr) return fail(alt, addressErr, holdErr);
  mandate.billingModel = op.to;
  if (op.to === "CREDIT_POSTPAY" && op.withAddress) mandate.hasAddress = true;
  // No money moves; balances stay where they are.
  for (const account of Object.values(state.accounts)) if (account.m === op.m) evaluate(alt, account, "may");
  return ok(alt);
}

function updateSettings(alt: Alternative, op: Extract<Op, { kind: "updateSettings" }>): Alternative {
  const mandate = alt.state.mandates[op.m];
  const change = op.change;
  if ("defaultUserCredit" in change) mandate.defaultUserCredit = money(dec(change.defaultUserCredit));
  if ("blockOnZeroBalance" in change) mandate.blockOnZeroBalance = change.blockOnZeroBalance;
  if ("allowedProviders" in change) {
    mandate.allowedProviders = change.allowedProviders ? [...new Set(change.allowedProviders.map((p) => p.toLowerCase()))] : null;
  }
  if ("notifyOnWarning" in change) mandate.notifyOnWarning = change.notifyOnWarning;
  if ("warningThresholdPercent" in change) {
    mandate.warningThresholdPercent = money(dec(change.warningThresholdPercent));
    for (const account of Object.values(alt.state.accounts)) if (account.m === op.m) evaluate(alt, account, "may");
  }
  return ok(alt);
}

function updateAccount(alt: Alternative, op: Extract<Op, { kind: "updateAccount" }>): Alternative {
  const state = alt.state;
  const account = state.accounts[accountId(op.m, op.account)];
  const change = op.change;
  if ("creditLimit" in change) {
    // A credit limit only applies to the account a postpaid mandate pays from.
    if (state.mandates[op.m].billingModel !== "CREDIT_POSTPAY" || op.account !== "mandate") return fail(alt, "VALIDATION_FAILED");
    account.creditLimit = money(dec(change.creditLimit));
  }
  // The account UNLIMITED pays from never warns: a threshold on it would do nothing.
  if ("warningThreshold" in change && op.account === "unlimited") return fail(alt, "VALIDATION_FAILED");
  if ("enabled" in change) account.enabled = change.enabled;
  notice(state, account);
  if ("warningThreshold" in change) {
    account.warningThreshold = money(dec(change.warningThreshold));
    evaluate(alt, account, "may");
  } else {
    evaluate(alt, account);
  }
  return ok(alt);
}

// ------------------------------------------------------------ Stripe

function startTopUp(alt: Alternative, op: Extract<Op, { kind: "startTopUp" }>): Alternative[] {
  const state = alt.state;
  const mandate = state.mandates[op.m];
  const amount = dec(op.amount);
  const amountErr = amount.decimalPlaces() > 2 || amount.lessThan(MIN_TOP_UP) || amount.greaterThan(MAX_TOP_UP) ? "INVALID_AMOUNT" : null;
  const key = payingKey(mandate, op.user);
  if (amountErr || key === null) return [fail(alt, amountErr, key === null ? "VALIDATION_FAILED" : null)];
  // The checkout names the paying account (by key); starting one opens nothing.
  state.sessions[op.slot] = { m: op.m, account: key, amount: money(amount), paid: false, refunded: [false, false] };
  alt.expected = { kind: "topUp", account: accountId(op.m, key) };
  return [alt];
}

function checkoutEvent(alt: Alternative, op: Extract<Op, { kind: "checkoutEvent" }>): Alternative {
  const state = alt.state;
  state.stripeEvents++;
  const session = state.sessions[op.slot]!;
  if (op.event !== "completedUnpaid" && !session.paid) {
    // Credited on the account the session names, whatever the billing model is now (opened if need be).
    const existed = !!state.accounts[accountId(session.m, session.account)];
    const account = open(alt, session.m, session.account);
    if (existed) notice(state, account);
    book(account, "CREDIT", dec(session.amount), {});
    evaluate(alt, account);
    session.paid = true;
  }
  alt.expected = { kind: "stripe" };
  return alt;
}

function refundEvent(alt: Alternative, op: Extract<Op, { kind: "refundEvent" }>): Alternative {
  const state = alt.state;
  state.stripeEvents++;
  const session = state.sessions[op.slot]!;
  const account = state.accounts[accountId(session.m, session.account)];
  for (let i = 0; i < op.refunds; i++) {
    if (session.refunded[i]) continue;
    notice(state, account);
    book(account, "ADJUSTMENT", dec(REFUNDS_RAPPEN[i]).dividedBy(100).negated(), {});
    evaluate(alt, account);
    session.refunded[i] = true;
  }
  alt.expected = { kind: "stripe" };
  return alt;
}

function autoTopUpSucceeded(alt: Alternative, op: Extract<Op, { kind: "autoTopUpSucceeded" }>): Alternative {
  const state = alt.state;
  state.stripeEvents++;
  const attempt = state.autoTopUps[op.slot]!;
  if (!attempt.succeeded) {
    const account = state.accounts[accountId(attempt.m, attempt.account)];
    notice(state, account);
    book(account, "CREDIT", dec(attempt.amount), {});
    evaluate(alt, account);
    attempt.succeeded = true;
  }
  alt.expected = { kind: "stripe" };
  return alt;
}

// ------------------------------------------------------------ reads

/** What a read of the account shows (isWarning null: either). */
export function shownBalance(state: State, account: Account) {
  const spendable = available(state, account);
  // Under UNLIMITED a warning left from before may show or not.
  const isWarning = spendable === null && account.warned ? null : account.warned;
  return { balance: account.balance, held: money(held(state, account)), available: spendable && money(spendable), isWarning };
}

function balance(alt: Alternative, op: Extract<Op, { kind: "balance" }>): Alternative {
  const state = alt.state;
  const key = payingKey(state.mandates[op.m], op.user);
  if (key === null) return fail(alt, "VALIDATION_FAILED");
  const opened = state.accounts[accountId(op.m, key)];
  if (opened) notice(state, opened);
  alt.expected = { kind: "balance", ...shownBalance(state, view(state, op.m, key)) };
  return alt;
}

function checkBilling(alt: Alternative, op: Extract<Op, { kind: "checkBilling" }>): Alternative {
  const state = alt.state;
  const provider = op.provider.toLowerCase();
  const priced = op.estimate ? costOf(state, provider, op.model, op.estimate) : { cost: ZERO };
  const key = payingKey(state.mandates[op.m], op.user);
  if ("error" in priced || key === null)
    return fail(alt, "error" in priced ? priced.error : null, key === null ? "VALIDATION_FAILED" : null);
  const opened = state.accounts[accountId(op.m, key)];
  if (opened) notice(state, opened);
  const account = view(state, op.m, key);
  const reason = denial(state, account, provider, priced.cost);
  const spendable = available(state, account);
  alt.expected = {
    kind: "check",
    allowed: reason === null,
    reason,
    available: spendable && money(spendable),
    currentBalance: account.balance,
  };
  return alt;
}

/** Debits of the mandate (or of a user: their own account under PREPAY_USER, the debits they caused otherwise). */
export function statisticsOf(state: State, m: MandateNo, user: string | null) {
  const model = state.mandates[m].billingModel;
  const debits = Object.values(state.accounts)
    .filter((a) => a.m === m && (user === null || model !== "PREPAY_USER" || a.key === `user:${user}`))
    .flatMap((a) => a.entries.filter((e) => e.type === "DEBIT"))
    .filter((e) => user === null || model === "PREPAY_USER" || e.causedBy === user);
  const sum = (into: Record<string, Money>, key: string, amount: Dec) => (into[key] = money(dec(into[key] ?? "0").plus(amount)));
  const byProvider: Record<string, Money> = {};
  const byFeature: Record<string, Money> = {};
  let total = ZERO;
  for (const e of debits) {
    const amount = dec(e.delta).abs();
    total = total.plus(amount);
    sum(byProvider, e.provider ?? "unknown", amount);
    sum(byFeature, e.feature ?? "unknown", amount);
  }
  return { totalCost: money(total), count: debits.length, byProvider, byFeature };
}

function statistics(alt: Alternative, op: Extract<Op, { kind: "statistics" }>): Alternative {
  alt.expected = { kind: "statistics", ...statisticsOf(alt.state, op.m, op.user) };
  return alt;
}

// ------------------------------------------------------------ retries

/** The earlier request a retry sends again: as it was, spelled differently, or changed. */
export function resolveRetry(state: State, op: Extract<Op, { kind: "retry" }>): Op {
  const earlier = state.history[state.history.length - 1 - (op.request % state.history.length)];
  switch (op.change) {
    case "same":
      return earlier;
    case "respelled":
      return respell(earlier);
    case "amount":
      return changeAmount(earlier);
    case "user":
      return changeUser(earlier);
  }
}

const respellAmount = (text: string) => (text.includes(".") ? `${text}00` : `${text}.000`);
const respellProvider = (p: string) => ({ alpha: "Alpha", Alpha: "alpha", beta: "BETA", BETA: "beta" })[p] ?? p;
function respellCharge(charge: Charge): Charge {
  if ("cost" in charge) return { cost: respellAmount(charge.cost) };
  const u = charge.usage;
  // Defaults spelled out, or left out when they were spelled out.
  if (u.requests === 1 && u.outputTokens !== undefined) return { usage: { inputTokens: u.inputTokens, outputTokens: u.outputTokens } };
  return { usage: { inputTokens: u.inputTokens ?? 0, outputTokens: u.outputTokens ?? 0, requests: u.requests ?? 1 } };
}

function respell(op: Op): Op {
  switch (op.kind) {
    case "credit":
    case "adjust":
      return { ...op, amount: respellAmount(op.amount) };
    case "recordUsage":
      return { ...op, provider: respellProvider(op.provider) as typeof op.provider, charge: respellCharge(op.charge) };
    case "authorize":
      return { ...op, provider: respellProvider(op.provider) as typeof op.provider, estimate: respellCharge(op.estimate) };
    case "settle":
      return { ...op, charge: respellCharge(op.charge) };
    default:
      return op;
  }
}

function changeCharge(charge: Charge): Charge {
  if ("cost" in charge) return { cost: money(dec(charge.cost).plus(1)) };
  return { usage: { ...charge.usage, inputTokens: (charge.usage.inputTokens ?? 0) + 1000 } };
}

function changeAmount(op: Op): Op {
  switch (op.kind) {
    case "credit":
      return { ...op, amount: money(dec(op.amount).plus(1)) };
    case "adjust":
      return { ...op, amount: money(dec(op.amount).isNegative() ? dec(op.amount).minus(1) : dec(op.amount).plus(1)) };
    case "recordUsage":
      return { ...op, charge: changeCharge(op.charge) };
    case "authorize":
      return { ...op, estimate: changeCharge(op.estimate) };
    case "settle":
      return { ...op, charge: changeCharge(op.charge) };
    default:
      return op;
  }
}

function changeUser(op: Op): Op {
  const next = (u: string | null) => (u === null ? "u1" : u === "u1" ? "u2" : null) as "u1" | "u2" | null;
  switch (op.kind) {
    case "credit":
    case "adjust":
    case "recordUsage":
    case "authorize":
      return { ...op, user: next(op.user) };
    case "settle":
      return { ...op, feature: op.feature === "chat" ? null : "chat" };
    default:
      return op;
  }
}
