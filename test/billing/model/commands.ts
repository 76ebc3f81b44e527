// The generators: fast-check commands drawn from the whole surface, with
// weights. A small universe (2 mandates, 2 users, 3 keys, a few amounts) so
// that keys, accounts and states collide often. The first value of each
// constantFrom is the simplest: shrinking moves towards it.
//
// MODEL_WEIGHTS overrides weights, e.g. "startTopUp=5,switchModel=5,checkoutEvent=5,*=0"
// ("*" sets every command not named).
import fc from "fast-check";
import {
  BILLING_MODELS,
  describeOp,
  PRICES,
  type Charge,
  type Key,
  type Op,
  type Provider,
  type RetryChange,
  type Usage,
  type User,
} from "./ops.js";
import { applicable, type State } from "./reference.js";
import type { Runner } from "./runner.js";

export const DEFAULT_WEIGHTS = {
  credit: 8,
  adjust: 3,
  recordUsage: 10,
  authorize: 8,
  settle: 6,
  release: 3,
  /** The same request again (as sent, or spelled differently). */
  retry: 8,
  /** The same key with other content (amount, user). */
  retryChanged: 4,
  /** Zero costs and estimates (and the invalid zero credit or adjustment). */
  zeroCost: 2,
  /** Amounts at and just beyond the largest accepted, and a price that makes a usage too expensive. */
  nearLimitAmounts: 1,
  /** Client keys that look like Saldo's own ("stripe:checkout:<session>", "saldo:..."). */
  systemKey: 1,
  concurrent: 3,
  advanceClock: 4,
  expireHolds: 2,
  upsertPrice: 3,
  switchModel: 5,
  updateSettings: 3,
  updateAccount: 3,
  startTopUp: 3,
  checkoutEvent: 4,
  refundEvent: 2,
  claimAutoTopUp: 1,
  autoTopUpSucceeded: 2,
  redeliver: 1,
  balance: 3,
  checkBilling: 3,
  statistics: 2,
} satisfies Record<Op["kind"] | "retryChanged" | "zeroCost" | "nearLimitAmounts" | "systemKey", number>;

export type Weights = Record<keyof typeof DEFAULT_WEIGHTS, number>;

/** DEFAULT_WEIGHTS with the overrides of "name=weight,...,*=weight". */
export function weightsFrom(spec: string | undefined): Weights {
  const weights: Weights = { ...DEFAULT_WEIGHTS };
  if (!spec) return weights;
  const pairs = spec.split(",").map((part) => part.trim().split("="));
  const rest = pairs.find(([name]) => name === "*");
  if (rest) for (const name of Object.keys(weights) as (keyof Weights)[]) weights[name] = Number(rest[1]);
  for (const [name, value] of pairs) {
    if (name === "*") continue;
    if (!(name in weights) || !Number.isInteger(Number(value)) || Number(value) < 0) {
      throw new Error(
        `MODEL_WEIGHTS: "${name}=${value}" is not a command with a weight >= 0 (commands: ${Object.keys(weights).join(", ")})`,
      );
    }
    weights[name as keyof Weights] = Number(value);
  }
  return weights;
}

const rare = <T>(often: fc.Arbitrary<T>, seldom: fc.Arbitrary<T>, odds = 8) =>
  fc.oneof({ weight: odds, arbitrary: often }, { weight: 1, arbitrary: seldom });

const mandate = fc.constantFrom<0 | 1>(0, 1);
const user = fc.constantFrom<User | null>(null, "u1", "u2");
const key = fc.constantFrom<Key>("k1", "k2", "k3");
/** Keys that look like the ones Saldo derives itself (see ops.ts). */
const systemLikeKey = fc.constantFrom<Key>("sys:checkout0", "saldo");
const provider = fc.constantFrom<Provider>("alpha", "beta", "Alpha", "BETA");
/** m3 has no price: with a usage it is UNKNOWN_PRICE. */
const aiModel = rare(fc.constantFrom<"m1" | "m2">("m1", "m2"), fc.constant<"m3">("m3"));
const feature = fc.constantFrom<string | null>(null, "chat", "auto");
const usage = fc.constantFrom<Usage>(
  { inputTokens: 1000, outputTokens: 1000 },
  { inputTokens: 123457, outputTokens: 7 },
  { inputTokens: 1000, outputTokens: 1000, requests: 1 },
  { outputTokens: 5, requests: 3 },
);
const costs = (...amounts: string[]) => fc.constantFrom(...amounts).map((cost): Charge => ({ cost }));
const charge: fc.Arbitrary<Charge> = fc.oneof(
  { weight: 3, arbitrary: costs("3", "0.5", "10", "7.5") },
  { weight: 2, arbitrary: usage.map((u): Charge => ({ usage: u })) },
);
const estimate: fc.Arbitrary<Charge> = fc.oneof(
  { weight: 3, arbitrary: costs("3", "0.5", "10", "9.5") },
  { weight: 1, arbitrary: usage.map((u): Charge => ({ usage: u })) },
);
/** Costs nothing: an explicit 0, or requests only on a model that charges per token. */
const zero: fc.Arbitrary<Charge> = fc.constantFrom<Charge>({ cost: "0" }, { usage: { requests: 3 } });
/** The largest amount accepted, one micro-CHF more, or a usage the huge price makes too expensive. */
const nearLimit: fc.Arbitrary<Charge> = fc.constantFrom<Charge>(
  { cost: "1000000000" },
  { cost: "1000000000.000001" },
  { usage: { inputTokens: 1000, outputTokens: 1000, requests: 1000 } },
);
const delivery = fc.record({ times: fc.constantFrom<1 | 2 | 3>(1, 2, 3), concurrent: fc.boolean() });
const slot = fc.constantFrom<0 | 1 | 2>(0, 1, 2);

const creditWith = (amount: fc.Arbitrary<string>, keys: fc.Arbitrary<Key>) =>
  fc.record({ kind: fc.constant("credit" as const), m: mandate, user, amount, key: keys });
const adjustWith = (amount: fc.Arbitrary<string>, keys: fc.Arbitrary<Key>) =>
  fc.record({ kind: fc.constant("adjust" as const), m: mandate, user, amount, key: keys });
const recordUsageWith = (charges: fc.Arbitrary<Charge>, keys: fc.Arbitrary<Key>, models: fc.Arbitrary<"m1" | "m2" | "m3"> = aiModel) =>
  fc.record({ kind: fc.constant("recordUsage" as const), m: mandate, user, provider, model: models, charge: charges, feature, key: keys });
const authorizeWith = (estimates: fc.Arbitrary<Charge>, keys: fc.Arbitrary<Key>, models: fc.Arbitrary<"m1" | "m2" | "m3"> = aiModel) =>
  fc.record({
    kind: fc.constant("authorize" as const),
    m: mandate,
    user,
    provider,
    model: models,
    estimate: estimates,
    expiresInSeconds: fc.constantFrom<number | null>(null, 60, 600),
    key: keys,
  });
const settleWith = (charges: fc.Arbitrary<Charge>) =>
  fc.record({ kind: fc.constant("settle" as const), hold: fc.nat(8), charge: charges, feature });

const credit = creditWith(fc.constantFrom("10", "3", "0.5", "100"), key);
const adjust = adjustWith(fc.constantFrom("-3", "0.5", "-0.5", "10"), key);
const recordUsage = recordUsageWith(charge, key);
const authorize = authorizeWith(estimate, key);
const settle = settleWith(charge);
const release = fc.record({ kind: fc.constant("release" as const), hold: fc.nat(8) });
const retry = fc.record({
  kind: fc.constant("retry" as const),
  request: fc.nat(8),
  change: fc.constantFrom<RetryChange>("same", "respelled"),
});
const retryChanged = fc.record({
  kind: fc.constant("retry" as const),
  request: fc.nat(8),
  change: fc.constantFrom<RetryChange>("amount", "user"),
});
const concurrent = fc.record({
  kind: fc.constant("concurrent" as const),
  op: fc.oneof(credit, recordUsage, authorize, settle, release, retry) as fc.Arbitrary<Op>,
  times: fc.constantFrom<2 | 3>(2, 3),
});
/** Zero costs, zero estimates and invalid zero amounts. */
const zeroCost = fc.oneof(
  recordUsageWith(zero, key, fc.constant("m1")),
  settleWith(zero),
  authorizeWith(fc.constant<Charge>({ cost: "0" }), key),
  creditWith(fc.constant("0"), key),
  adjustWith(fc.constant("0"), key),
) as fc.Arbitrary<Op>;
const nearLimitAmounts = fc.oneof(
  creditWith(fc.constantFrom("1000000000", "1000000000.000001"), key),
  adjustWith(fc.constantFrom("-1000000000", "-1000000000.000001"), key),
  recordUsageWith(nearLimit, key),
  authorizeWith(nearLimit, key),
  settleWith(nearLimit),
  fc.record({
    kind: fc.constant("upsertPrice" as const),
    provider: fc.constantFrom<"alpha" | "beta">("alpha", "beta"),
    model: fc.constantFrom<"m1" | "m2">("m1", "m2"),
    price: fc.constant(PRICES.length - 1),
  }),
) as fc.Arbitrary<Op>;
/** Mostly as the gateway would send them (recordUsage, authorize); now and then an admin's credit or adjustment. */
const systemKey = fc.oneof(
  { weight: 4, arbitrary: recordUsageWith(charge, systemLikeKey) },
  { weight: 2, arbitrary: authorizeWith(estimate, systemLikeKey) },
  { weight: 1, arbitrary: creditWith(fc.constantFrom("10", "3"), systemLikeKey) },
  { weight: 1, arbitrary: adjustWith(fc.constantFrom("-3", "0.5"), systemLikeKey) },
) as fc.Arbitrary<Op>;

function arbitraries(): Record<keyof Weights, fc.Arbitrary<Op>> {
  return {
    credit,
    adjust,
    recordUsage,
    authorize,
    settle,
    release,
    retry,
    retryChanged,
    concurrent,
    zeroCost,
    nearLimitAmounts,
    systemKey,
    advanceClock: fc.record({ kind: fc.constant("advanceClock" as const), seconds: fc.constantFrom(61, 30, 600, 3601) }),
    expireHolds: fc.constant({ kind: "expireHolds" as const }),
    upsertPrice: fc.record({
      kind: fc.constant("upsertPrice" as const),
      provider: fc.constantFrom<"alpha" | "beta">("alpha", "beta"),
      model: fc.constantFrom<"m1" | "m2">("m1", "m2"),
      price: fc.constantFrom(1, 2, 0),
    }),
    switchModel: fc.record({
      kind: fc.constant("switchModel" as const),
      m: mandate,
      to: fc.constantFrom(...BILLING_MODELS),
      withAddress: rare(fc.constant(true), fc.constant(false), 6),
    }),
    updateSettings: fc.record({
      kind: fc.constant("updateSettings" as const),
      m: mandate,
      change: fc.oneof(
        fc.record({ defaultUserCredit: fc.constantFrom("0", "3", "10") }),
        fc.record({ blockOnZeroBalance: fc.boolean() }),
        fc.record({ allowedProviders: fc.constantFrom<Provider[] | null>(["alpha"], null, ["BETA"]) }),
        fc.record({ warningThresholdPercent: fc.constantFrom("50", "0", "10") }),
        fc.record({ notifyOnWarning: fc.boolean() }),
      ),
    }),
    updateAccount: fc.record({
      kind: fc.constant("updateAccount" as const),
      m: mandate,
      account: fc.constantFrom("mandate" as const, "user:u1" as const, "unlimited" as const, "user:u2" as const),
      change: fc.oneof(
        fc.record({ enabled: fc.boolean() }),
        fc.record({ creditLimit: fc.constantFrom("50", "5", "1000") }),
        fc.record({ warningThreshold: fc.constantFrom("2", "0", "50") }),
      ),
    }),
    startTopUp: fc.record({
      kind: fc.constant("startTopUp" as const),
      slot,
      m: mandate,
      user,
      amount: rare(fc.constantFrom("20", "5", "12.50"), fc.constant("4.99")),
    }),
    checkoutEvent: fc.record({
      kind: fc.constant("checkoutEvent" as const),
      slot,
      event: rare(fc.constantFrom("completed" as const, "asyncSucceeded" as const), fc.constant("completedUnpaid" as const), 6),
      delivery,
    }),
    refundEvent: fc.record({ kind: fc.constant("refundEvent" as const), slot, refunds: fc.constantFrom<1 | 2>(1, 2), delivery }),
    claimAutoTopUp: fc.record({
      kind: fc.constant("claimAutoTopUp" as const),
      slot: fc.constantFrom<0 | 1>(0, 1),
      m: mandate,
      user,
      amount: fc.constant("20"),
    }),
    autoTopUpSucceeded: fc.record({ kind: fc.constant("autoTopUpSucceeded" as const), slot: fc.constantFrom<0 | 1>(0, 1), delivery }),
    redeliver: fc.record({ kind: fc.constant("redeliver" as const), event: fc.nat(8) }),
    balance: fc.record({
      kind: fc.constant("balance" as const),
      m: mandate,
      user: fc.constantFrom(null, "u1" as const, "ghost" as const, "u2" as const),
    }),
    checkBilling: fc.record({
      kind: fc.constant("checkBilling" as const),
      m: mandate,
      user: fc.constantFrom(null, "u1" as const, "ghost" as const, "u2" as const),
      provider,
      model: aiModel,
      estimate: fc.option(estimate, { nil: null }),
    }),
    statistics: fc.record({ kind: fc.constant("statistics" as const), m: mandate, user }),
  } as Record<keyof Weights, fc.Arbitrary<Op>>;
}

/** One command of the sequence: runs only where the model says it can. */
export class ModelCommand implements fc.AsyncCommand<{ state: State }, Runner> {
  constructor(readonly op: Op) {}
  check(model: Readonly<{ state: State }>): boolean {
    return applicable(model.state, this.op);
  }
  async run(model: { state: State }, runner: Runner): Promise<void> {
    await runner.execute(this.op);
    model.state = runner.state;
  }
  toString(): string {
    return describeOp(this.op);
  }
}

/** `replayPath`: the replayPath fast-check printed with a counterexample (with its seed and path). */
export function commandSequences(weights: Weights, maxCommands: number, replayPath?: string) {
  const all = arbitraries();
  const weighted = (Object.keys(weights) as (keyof Weights)[])
    .filter((kind) => weights[kind] > 0)
    .map((kind) => ({ weight: weights[kind], arbitrary: all[kind].map((op) => new ModelCommand(op)) }));
  if (weighted.length === 0) throw new Error("MODEL_WEIGHTS leaves no command to run");
  return fc.commands([fc.oneof(...weighted)], { maxCommands, size: "max", replayPath });
}
