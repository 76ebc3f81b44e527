// The commands of the model-based test, as plain data in the model's own
// small universe: mandates 0 and 1, users u1 and u2 (and a made-up "ghost"
// for reads), providers alpha and beta with models m1, m2 (priced) and m3
// (never priced), a handful of idempotency keys. The runner turns these
// names into the run's real ids; nothing here knows Saldo.

export const BILLING_MODELS = ["PREPAY_MANDATE", "PREPAY_USER", "CREDIT_POSTPAY", "UNLIMITED"] as const;
export type BillingModel = (typeof BILLING_MODELS)[number];

export type MandateNo = 0 | 1;
export type User = "u1" | "u2";
export type ReadUser = User | "ghost";
/** As the caller spells it: "Alpha" and "alpha" are one provider. */
export type Provider = "alpha" | "beta" | "Alpha" | "BETA";
export type AiModel = "m1" | "m2" | "m3";
/**
 * Client keys. "sys:checkout0" stands for the key Saldo derives for the
 * Stripe checkout of top-up slot 0 ("stripe:checkout:<session id>"), "saldo"
 * for a key in Saldo's own "saldo:" prefix: keys a client must never be able
 * to block Saldo with.
 */
export type Key = "k1" | "k2" | "k3" | "sys:checkout0" | "saldo";

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  requests?: number;
}

/** What a usage costs: an explicit cost wins; else the catalog prices the usage. */
export type Charge = { cost: string } | { usage: Usage };

export type SettingsChange =
  | { defaultUserCredit: string }
  | { blockOnZeroBalance: boolean }
  | { allowedProviders: Provider[] | null }
  | { warningThresholdPercent: string }
  | { notifyOnWarning: boolean };

export type AccountKey = "mandate" | "unlimited" | `user:${User}`;

export type AccountChange = { enabled: boolean } | { creditLimit: string } | { warningThreshold: string };

export type RetryChange = "same" | "respelled" | "amount" | "user";

export type StripeCheckoutEvent = "completed" | "completedUnpaid" | "asyncSucceeded";

/** How Stripe delivers an event: 1-3 times, one after the other or all at once. */
export interface Delivery {
  times: 1 | 2 | 3;
  concurrent: boolean;
}

export type Op =
  | { kind: "credit"; m: MandateNo; user: User | null; amount: string; key: Key }
  | { kind: "adjust"; m: MandateNo; user: User | null; amount: string; key: Key }
  | {
      kind: "recordUsage";
      m: MandateNo;
      user: User | null;
      provider: Provider;
      model: AiModel;
      charge: Charge;
      feature: string | null;
      key: Key;
    }
  | {
      kind: "authorize";
      m: MandateNo;
      user: User | null;
      provider: Provider;
      model: AiModel;
      estimate: Charge;
      expiresInSeconds: number | null;
      key: Key;
    }
  /** Settles the n-th newest hold of the run (0: the latest; modulo the number of holds); a retry names it by holdNo. */
  | { kind: "settle"; hold: number; charge: Charge; feature: string | null; holdNo?: number }
  | { kind: "release"; hold: number }
  /** Sends the n-th newest earlier client request again (0: the latest; modulo), as it was or changed. */
  | { kind: "retry"; request: number; change: RetryChange }
  /** The same request sent several times at once. */
  | { kind: "concurrent"; op: Op; times: 2 | 3 }
  | { kind: "advanceClock"; seconds: number }
  | { kind: "expireHolds" }
  | { kind: "upsertPrice"; provider: "alpha" | "beta"; model: "m1" | "m2"; price: number }
  | { kind: "switchModel"; m: MandateNo; to: BillingModel; withAddress: boolean }
  | { kind: "updateSettings"; m: MandateNo; change: SettingsChange }
  | { kind: "updateAccount"; m: MandateNo; account: AccountKey; change: AccountChange }
  | { kind: "startTopUp"; slot: 0 | 1 | 2; m: MandateNo; user: User | null; amount: string }
  | { kind: "checkoutEvent"; slot: 0 | 1 | 2; event: StripeCheckoutEvent; delivery: Delivery }
  | { kind: "refundEvent"; slot: 0 | 1 | 2; refunds: 1 | 2; delivery: Delivery }
  /** An automatic top-up attempt is claimed (PENDING) on the paying account. */
  | { kind: "claimAutoTopUp"; slot: 0 | 1; m: MandateNo; user: User | null; amount: string }
  | { kind: "autoTopUpSucceeded"; slot: 0 | 1; delivery: Delivery }
  /** Stripe sends the n-th newest earlier event (modulo) once more. */
  | { kind: "redeliver"; event: number }
  | { kind: "balance"; m: MandateNo; user: ReadUser | null }
  | { kind: "checkBilling"; m: MandateNo; user: ReadUser | null; provider: Provider; model: AiModel; estimate: Charge | null }
  | { kind: "statistics"; m: MandateNo; user: User | null };

/** Catalog prices (USD per million tokens in / out, per request) the upsertPrice command picks from. */
export const PRICES: { input: string; output: string; perRequest: string }[] = [
  { input: "3", output: "15", perRequest: "0" },
  { input: "1.25", output: "10", perRequest: "0.005" },
  { input: "0.4", output: "1.6", perRequest: "0" },
  // Near the limit: 1,000 requests cost far more than the largest amount allowed.
  { input: "0", output: "0", perRequest: "1000000000" },
];

/** The catalog each run starts with (index into PRICES). */
export const INITIAL_PRICES: { provider: "alpha" | "beta"; model: "m1" | "m2"; price: number }[] = [
  { provider: "alpha", model: "m1", price: 0 },
  { provider: "alpha", model: "m2", price: 1 },
  { provider: "beta", model: "m1", price: 2 },
  { provider: "beta", model: "m2", price: 0 },
];

export const REFUNDS_RAPPEN = [200, 100];

const who = (m: MandateNo, user: string | null) => `m${m}${user ? `/${user}` : ""}`;
const charge = (c: Charge) =>
  "cost" in c
    ? `cost=${c.cost}`
    : `usage=${JSON.stringify(c.usage).replaceAll('"', "").replace("inputTokens", "in").replace("outputTokens", "out")}`;
/** 0: the latest, 1: the one before, ... */
const back = (n: number) => (n === 0 ? "latest" : `latest-${n}`);
const delivered = (d: Delivery) => `${d.times}x${d.concurrent && d.times > 1 ? " at once" : ""}`;

/** One line per command, as the failure report prints the sequence. */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case "credit":
    case "adjust":
      return `${op.kind}(${who(op.m, op.user)} ${op.amount} key=${op.key})`;
    case "recordUsage":
      return `recordUsage(${who(op.m, op.user)} ${op.provider}/${op.model} ${charge(op.charge)}${op.feature ? ` feature=${op.feature}` : ""} key=${op.key})`;
    case "authorize":
      return `authorize(${who(op.m, op.user)} ${op.provider}/${op.model} ${charge(op.estimate)}${op.expiresInSeconds ? ` expires=${op.expiresInSeconds}s` : ""} key=${op.key})`;
    case "settle":
      return `settle(${op.holdNo === undefined ? `${back(op.hold)} hold` : `hold #${op.holdNo}`} ${charge(op.charge)}${op.feature ? ` feature=${op.feature}` : ""})`;
    case "release":
      return `release(${back(op.hold)} hold)`;
    case "retry":
      return `retry(${back(op.request)} request, ${op.change})`;
    case "concurrent":
      return `${op.times}x at once ${describeOp(op.op)}`;
    case "advanceClock":
      return `advanceClock(${op.seconds}s)`;
    case "expireHolds":
      return "expireHolds()";
    case "upsertPrice": {
      const p = PRICES[op.price];
      return `upsertPrice(${op.provider}/${op.model} in=${p.input} out=${p.output} request=${p.perRequest})`;
    }
    case "switchModel":
      return `switchModel(m${op.m} -> ${op.to}${op.to === "CREDIT_POSTPAY" && !op.withAddress ? " without address" : ""})`;
    case "updateSettings":
      return `updateSettings(m${op.m} ${JSON.stringify(op.change).replaceAll('"', "")})`;
    case "updateAccount":
      return `updateAccount(m${op.m}/${op.account} ${JSON.stringify(op.change).replaceAll('"', "")})`;
    case "startTopUp":
      return `startTopUp(slot${op.slot} ${who(op.m, op.user)} ${op.amount})`;
    case "checkoutEvent":
      return `stripe ${op.event}(slot${op.slot}) ${delivered(op.delivery)}`;
    case "refundEvent":
      return `stripe charge.refunded(slot${op.slot}, ${op.refunds} refund${op.refunds > 1 ? "s" : ""}) ${delivered(op.delivery)}`;
    case "claimAutoTopUp":
      return `claimAutoTopUp(slot${op.slot} ${who(op.m, op.user)} ${op.amount})`;
    case "autoTopUpSucceeded":
      return `stripe payment_intent.succeeded(auto slot${op.slot}) ${delivered(op.delivery)}`;
    case "redeliver":
      return `stripe redelivers(${back(op.event)} event)`;
    case "balance":
      return `balance(${who(op.m, op.user)})`;
    case "checkBilling":
      return `checkBilling(${who(op.m, op.user)} ${op.provider}/${op.model}${op.estimate ? ` ${charge(op.estimate)}` : ""})`;
    case "statistics":
      return `statistics(${who(op.m, op.user)})`;
  }
}
