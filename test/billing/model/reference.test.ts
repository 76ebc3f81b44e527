// The reference model alone (no database): the examples of issue 11 as the
// model reads the rules. If Saldo and the model disagree on one of these,
// this file says what the model expects, in a few lines.
import { describe, expect, it } from "vitest";
import { INITIAL_PRICES, type Op } from "./ops.js";
import { accountId, expectations, initialState, type Alternative, type Expected, type State } from "./reference.js";

/** Plays the ops, always taking the model's first alternative; returns each answer and the state after. */
function play(...ops: Op[]): {
  answers: Expected[];
  fired: Record<string, [number, number]>[];
  state: State;
  alternatives: Alternative[][];
} {
  let state = initialState(Date.parse("2026-03-10T09:00:00Z"), INITIAL_PRICES);
  const answers: Expected[] = [];
  const fired: Record<string, [number, number]>[] = [];
  const alternatives: Alternative[][] = [];
  for (const op of ops) {
    const alts = expectations(state, op);
    alternatives.push(alts);
    answers.push(alts[0].expected);
    fired.push(alts[0].fires);
    state = alts[0].state;
  }
  return { answers, fired, state, alternatives };
}

const balanceOf = (state: State, m: 0 | 1, key: string) => state.accounts[accountId(m, key)]?.balance;

const credit = (m: 0 | 1, amount: string, key: "k1" | "k2" | "k3" = "k1"): Op => ({ kind: "credit", m, user: null, amount, key });
const usage = (m: 0 | 1, user: "u1" | "u2" | null, cost: string, key: "k1" | "k2" | "k3" = "k1"): Op => ({
  kind: "recordUsage",
  m,
  user,
  provider: "alpha",
  model: "m1",
  charge: { cost },
  feature: null,
  key,
});

describe("the reference model reads the rules of issue 11 this way", () => {
  it("an expired hold re-arms the warning, and the next crossing warns again (defect 7)", () => {
    const { answers, fired, state } = play(
      { kind: "credit", m: 0, user: null, amount: "100", key: "k1" },
      { kind: "authorize", m: 0, user: null, provider: "alpha", model: "m1", estimate: { cost: "95" }, expiresInSeconds: 60, key: "k1" },
      { kind: "advanceClock", seconds: 61 },
      { kind: "balance", m: 0, user: null },
      { kind: "retry", request: 0, change: "same" },
      usage(0, null, "91"),
    );
    expect(fired[1]).toEqual({ "0|mandate": [1, 1] });
    expect(answers[3]).toEqual({ kind: "balance", balance: "100", held: "0", available: "100", isWarning: false });
    expect(answers[4]).toEqual({ kind: "holdReplayed", hold: 0, status: "EXPIRED" });
    expect(fired[5]).toEqual({ "0|mandate": [1, 1] });
    expect(balanceOf(state, 0, "mandate")).toBe("9");
  });

  it("a retry after a billing-model switch is a replay and opens nothing (defect 2)", () => {
    const { answers, state } = play(
      usage(0, "u1", "3"),
      { kind: "switchModel", m: 0, to: "PREPAY_USER", withAddress: true },
      usage(0, "u1", "3"),
    );
    expect(answers[2]).toEqual({ kind: "replayed", entry: { account: "0|mandate", index: 0 } });
    expect(Object.keys(state.accounts)).toEqual(["0|mandate"]);
  });

  it("the same key in another kind of write is independent; with other content it conflicts", () => {
    const { answers } = play(usage(0, null, "3"), credit(0, "10"), usage(0, null, "7.5"));
    expect(answers.map((a) => a.kind)).toEqual(["booked", "booked", "error"]);
    expect(answers[2]).toEqual({ kind: "error", codes: ["IDEMPOTENCY_CONFLICT"] });
  });

  it("a zero cost books a DEBIT of 0 and reserves its key (defect 4)", () => {
    const { answers, state } = play(usage(0, null, "0"), usage(0, null, "7.5"));
    expect(state.accounts["0|mandate"].entries).toMatchObject([{ type: "DEBIT", delta: "0" }]);
    expect(answers[1]).toEqual({ kind: "error", codes: ["IDEMPOTENCY_CONFLICT"] });
  });

  it("an identical usage retried after a price change is a replay (defect 3)", () => {
    const record: Op = { ...usage(0, null, "0"), charge: { usage: { inputTokens: 1000, outputTokens: 1000 } } } as Op;
    const { answers } = play(record, { kind: "upsertPrice", provider: "alpha", model: "m1", price: 1 }, record);
    expect(answers[2].kind).toBe("replayed");
  });

  it("UNLIMITED pays from an account of its own; switching back finds the prepaid balance untouched", () => {
    const { answers, state } = play(
      credit(0, "10"),
      { kind: "switchModel", m: 0, to: "UNLIMITED", withAddress: true },
      usage(0, null, "3", "k2"),
      { kind: "switchModel", m: 0, to: "PREPAY_MANDATE", withAddress: true },
      { kind: "balance", m: 0, user: null },
    );
    expect(balanceOf(state, 0, "unlimited")).toBe("-3");
    expect(answers[4]).toMatchObject({ kind: "balance", balance: "10", available: "10" });
  });

  it("a switch with an active hold is refused; after the hold expired it is accepted", () => {
    const { answers } = play(
      credit(0, "10"),
      { kind: "authorize", m: 0, user: null, provider: "alpha", model: "m1", estimate: { cost: "3" }, expiresInSeconds: 60, key: "k1" },
      { kind: "switchModel", m: 0, to: "PREPAY_USER", withAddress: true },
      { kind: "advanceClock", seconds: 60 },
      { kind: "switchModel", m: 0, to: "PREPAY_USER", withAddress: true },
    );
    expect(answers[2]).toEqual({ kind: "error", codes: ["VALIDATION_FAILED"] });
    expect(answers[4]).toEqual({ kind: "ok" });
  });

  it("a Stripe payment is credited on the account the checkout named, whatever the model is now (defect 1)", () => {
    const { state } = play(
      { kind: "startTopUp", slot: 0, m: 0, user: null, amount: "20" },
      { kind: "switchModel", m: 0, to: "PREPAY_USER", withAddress: true },
      { kind: "checkoutEvent", slot: 0, event: "completed", delivery: { times: 3, concurrent: true } },
      { kind: "checkoutEvent", slot: 0, event: "asyncSucceeded", delivery: { times: 1, concurrent: false } },
    );
    expect(state.accounts["0|mandate"].entries).toMatchObject([{ type: "CREDIT", delta: "20" }]);
  });

  it("a client key that looks like a system key is refused or kept apart, and never blocks the payment (defect 5)", () => {
    const { alternatives, state } = play(
      { ...usage(0, null, "3"), key: "sys:checkout0" } as Op,
      { kind: "startTopUp", slot: 0, m: 0, user: null, amount: "20" },
      { kind: "checkoutEvent", slot: 0, event: "completed", delivery: { times: 1, concurrent: false } },
    );
    expect(alternatives[0].map((a) => a.expected.kind)).toEqual(["error", "booked"]);
    expect(state.accounts["0|mandate"].entries.at(-1)).toMatchObject({ type: "CREDIT", delta: "20" });
  });

  it("reads open nothing: an unopened user shows the default credit (defect 6)", () => {
    const { answers, state } = play(
      { kind: "balance", m: 1, user: "ghost" },
      { kind: "checkBilling", m: 1, user: "ghost", provider: "alpha", model: "m1", estimate: null },
    );
    expect(answers[0]).toEqual({ kind: "balance", balance: "10", held: "0", available: "10", isWarning: false });
    expect(answers[1]).toMatchObject({ kind: "check", allowed: true, currentBalance: "10" });
    expect(state.accounts).toEqual({});
  });

  it("a userId on a mandate-wide credit and a credit limit on a prepaid account are refused (defect 10)", () => {
    const { answers } = play({ kind: "credit", m: 0, user: "u1", amount: "10", key: "k1" }, credit(0, "10"), {
      kind: "updateAccount",
      m: 0,
      account: "mandate",
      change: { creditLimit: "500" },
    });
    expect(answers[0]).toEqual({ kind: "error", codes: ["VALIDATION_FAILED"] });
    expect(answers[2]).toEqual({ kind: "error", codes: ["VALIDATION_FAILED"] });
  });
});
