// Runs one command against Saldo (through the adapter) and against the
// reference model, then compares: the answer (booked / replayed / userError
// code / denial / what a read shows), and the whole ledger of the run's two
// mandates afterwards (accounts, entries, balances, holds, rollups, what
// describeBalance shows, warnings and warning emails). A difference fails
// the run with the steps so far; fast-check then shrinks the sequence.
import { describeOp, INITIAL_PRICES, PRICES, REFUNDS_RAPPEN, type Key, type MandateNo, type Op, type Provider } from "./ops.js";
import {
  accountId,
  Alternative,
  concreteOp,
  D,
  DESCRIPTION,
  effectiveStatus,
  expectations,
  holdOf,
  initialState,
  notice,
  payingKey,
  shownBalance,
  type Expected,
  type State,
} from "./reference.js";
import type { Actual, Saldo, Snapshot } from "./saldo.js";

/** The clock at the start of every run. */
export const RUN_START = Date.parse("2026-03-10T09:00:00Z");

export class ModelMismatch extends Error {
  override name = "ModelMismatch";
}

const same = (a: string | null | undefined, b: string | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined ? (a ?? null) === (b ?? null) : new D(a).equals(b);

export class Runner {
  state: State;
  readonly trace: string[] = [];
  /** Saldo's ids of what the model booked: entries by "account#index", holds by number, accounts by model id. */
  private entryIds = new Map<string, string>();
  private holdIds = new Map<number, string>();
  private accountIds = new Map<string, string>();
  private warningEmails: Record<string, number> = {};
  /** The account rows of the last snapshot, to see which changed. */
  private rows = new Map<string, string>();
  readonly mandateIds: [string, string];

  private constructor(
    readonly saldo: Saldo,
    readonly run: string,
    private readonly invariantsEvery: number,
  ) {
    this.mandateIds = [`${run}-m0`, `${run}-m1`];
    this.state = initialState(RUN_START, INITIAL_PRICES);
  }

  /** A new run: two fresh mandates and the run's own providers (so price changes stay within the run). */
  static async start(saldo: Saldo, run: string, options: { invariantsEvery: number }): Promise<Runner> {
    const runner = new Runner(saldo, run, options.invariantsEvery);
    saldo.setClock(RUN_START);
    const [m0, m1] = runner.state.mandates;
    await saldo.createMandate(runner.mandateIds[0], m0.billingModel, m0.hasNotifyEmails);
    await saldo.createMandate(runner.mandateIds[1], m1.billingModel, m1.hasNotifyEmails);
    for (const p of INITIAL_PRICES) {
      const result = await saldo.upsertPrice({ provider: runner.provider(p.provider), model: p.model, ...PRICES[p.price] });
      if (result.kind !== "ok") throw new Error(`setting up the run's prices failed: ${JSON.stringify(result)}`);
    }
    return runner;
  }

  // ---------------------------------------------------------------- names

  private provider = (p: Provider | "alpha" | "beta") => `${p}-${this.run}`;
  private sessionId = (slot: number) => `cs_${this.run}_${slot}`;
  private attemptId = (slot: number) => `atu-${this.run}-${slot}`;
  private eventId = (n: number) => `evt_${this.run}_${n}`;
  private key(key: Key): string {
    if (key === "sys:checkout0") return `stripe:checkout:${this.sessionId(0)}`;
    if (key === "saldo") return "saldo:model";
    return key;
  }

  // ---------------------------------------------------------------- one step

  async execute(op: Op): Promise<void> {
    const concrete = concreteOp(this.state, op);
    const alternatives = expectations(this.state, concrete);
    const now = alternatives[0].state.now;
    this.saldo.setClock(now);
    const eventsFrom = this.saldo.eventCount;
    const actual = await this.perform(concrete);
    const snapshot = await this.saldo.snapshot(this.mandateIds);
    // describeBalance for every account whose view may have changed: its row, or what the model shows for it.
    const viewsBefore = views(this.state);
    const viewsAfter = alternatives.map((a) => views(a.state));
    const modelIds = this.modelIdsOf(snapshot);
    const described = new Map<string, Actual>();
    for (const account of snapshot.accounts) {
      const id = modelIds.get(account.id)!;
      const changed = this.rows.get(account.id) !== rowOf(account) || viewsAfter.some((after) => after.get(id) !== viewsBefore.get(id));
      if (changed) described.set(account.id, await this.saldo.describe(account.id));
    }
    const warnings = this.saldo.warningEventsSince(eventsFrom);

    const hold = concrete.kind === "settle" || concrete.kind === "release" ? ` [hold #${holdOf(this.state, concrete).no}]` : "";
    const sent = (describeOp(concrete) !== describeOp(op) ? ` = ${describeOp(concrete)}` : "") + hold;
    const line = `${this.trace.length + 1}. ${describeOp(op)}${sent}  ->  ${summary(actual)}`;
    this.trace.push(line);
    const tried: string[] = [];
    for (const alternative of alternatives) {
      const { problems, learned } = this.compare(alternative, actual, snapshot, described, warnings);
      if (problems.length === 0) {
        this.adopt(alternative, learned, snapshot, warnings);
        if (this.invariantsEvery > 0 && this.trace.length % this.invariantsEvery === 0) await this.checkInvariants();
        return;
      }
      const label = alternatives.length > 1 ? `  if ${alternative.label.join(", ")}:\n` : "";
      tried.push(`${label}${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    throw new ModelMismatch(
      [
        `Saldo differs from the reference model at step ${this.trace.length}: ${describeOp(concrete)}`,
        `  model expects: ${alternatives.map((a) => summarizeExpected(a.expected)).join("  or  ")}`,
        `  Saldo answered: ${summary(actual)}`,
        ...tried,
        "Steps of this run:",
        ...this.trace.map((l) => `  ${l}`),
      ].join("\n"),
    );
  }

  /** At the end of a run (and every few steps): the ledger's own invariants on the run's mandates. */
  async checkInvariants(): Promise<void> {
    const problem = await this.saldo.ledgerProblem(this.mandateIds);
    if (problem)
      throw new ModelMismatch(
        `The ledger's invariants fail after step ${this.trace.length}:\n${problem}\nSteps of this run:\n${this.trace.map((l) => `  ${l}`).join("\n")}`,
      );
  }

  private adopt(alternative: Alternative, learned: [string | number, string][], snapshot: Snapshot, warnings: { accountId: string }[]) {
    for (const [ref, id] of learned) {
      if (typeof ref === "number") this.holdIds.set(ref, id);
      else this.entryIds.set(ref, id);
    }
    const fired: Record<string, number> = {};
    const byId = this.modelIdsOf(snapshot);
    for (const w of warnings) {
      const id = byId.get(w.accountId);
      if (id) fired[id] = (fired[id] ?? 0) + 1;
    }
    alternative.settleOptional(fired);
    this.state = alternative.state;
    this.accountIds = new Map([...byId].map(([sut, model]) => [model, sut]));
    this.warningEmails = snapshot.warningEmails;
    this.rows = new Map(snapshot.accounts.map((a) => [a.id, rowOf(a)]));
  }

  private modelIdsOf(snapshot: Snapshot): Map<string, string> {
    return new Map(
      snapshot.accounts.flatMap((a) => {
        const m = this.mandateIds.indexOf(a.mandateId) as MandateNo;
        return [[a.id, accountId(m, a.accountType === "USER" ? `user:${a.userId}` : a.accountKey)] as [string, string]];
      }),
    );
  }

  // ---------------------------------------------------------------- Saldo

  private perform(op: Op): Promise<Actual> {
    const s = this.state;
    const mandateId = (m: MandateNo) => this.mandateIds[m];
    switch (op.kind) {
      case "credit":
      case "adjust":
        return this.saldo[op.kind]({
          mandateId: mandateId(op.m),
          userId: op.user,
          amount: op.amount,
          key: this.key(op.key),
          description: DESCRIPTION[op.kind],
        });
      case "recordUsage":
        return this.saldo.recordUsage({
          mandateId: mandateId(op.m),
          userId: op.user,
          provider: this.provider(op.provider),
          model: op.model,
          charge: op.charge,
          featureCode: op.feature,
          key: this.key(op.key),
        });
      case "authorize":
        return this.saldo.authorize({
          mandateId: mandateId(op.m),
          userId: op.user,
          provider: this.provider(op.provider),
          model: op.model,
          estimate: op.estimate,
          expiresInSeconds: op.expiresInSeconds,
          key: this.key(op.key),
        });
      case "settle":
        return this.saldo.settle({ authorizationId: this.holdId(holdOf(s, op).no), charge: op.charge, featureCode: op.feature });
      case "release":
        return this.saldo.release(this.holdId(holdOf(s, op).no));
      case "retry":
        throw new Error("a retry is resolved before it runs");
      case "concurrent":
        return Promise.all(Array.from({ length: op.times }, () => this.perform(op.op))).then((each) => ({ kind: "many" as const, each }));
      case "advanceClock":
        return Promise.resolve({ kind: "ok" });
      case "expireHolds":
        return this.saldo.expireHolds();
      case "upsertPrice":
        return this.saldo.upsertPrice({ provider: this.provider(op.provider), model: op.model, ...PRICES[op.price] });
      case "switchModel":
        return this.saldo.switchModel(mandateId(op.m), op.to, op.withAddress);
      case "updateSettings": {
        const c = op.change;
        const input =
          "allowedProviders" in c
            ? c.allowedProviders
              ? { allowedProviders: c.allowedProviders.map((p) => this.provider(p)) }
              : { allowAllProviders: true }
            : c;
        return this.saldo.updateSettings({ mandateId: mandateId(op.m), ...input });
      }
      case "updateAccount":
        return this.saldo.updateAccount(this.accountIds.get(accountId(op.m, op.account))!, op.change);
      case "startTopUp":
        return this.saldo.startTopUp({
          mandateId: mandateId(op.m),
          userId: op.user,
          amount: op.amount,
          sessionId: this.sessionId(op.slot),
        });
      case "checkoutEvent":
        return this.saldo.checkoutEvent({
          eventId: this.eventId(s.stripeEvents),
          sessionId: this.sessionId(op.slot),
          type: op.event,
          ...op.delivery,
        });
      case "refundEvent":
        return this.saldo.refundEvent({
          eventId: this.eventId(s.stripeEvents),
          sessionId: this.sessionId(op.slot),
          refunds: REFUNDS_RAPPEN.slice(0, op.refunds).map((amount, i) => ({ id: `re_${this.run}_${op.slot}_${i}`, amount })),
          ...op.delivery,
        });
      case "claimAutoTopUp": {
        const key = payingKey(s.mandates[op.m], op.user)!;
        return this.saldo.claimAutoTopUp({
          id: this.attemptId(op.slot),
          mandateId: mandateId(op.m),
          accountId: this.accountIds.get(accountId(op.m, key))!,
          userId: op.user,
          amount: op.amount,
        });
      }
      case "autoTopUpSucceeded":
        return this.saldo.autoTopUpSucceeded({ eventId: this.eventId(s.stripeEvents), attemptId: this.attemptId(op.slot), ...op.delivery });
      case "redeliver":
        return this.saldo.redeliver(this.eventId(s.stripeEvents - 1 - (op.event % s.stripeEvents)));
      case "balance":
        return this.saldo.balance(mandateId(op.m), op.user);
      case "checkBilling":
        return this.saldo.checkBilling({
          mandateId: mandateId(op.m),
          userId: op.user,
          provider: this.provider(op.provider),
          model: op.model,
          estimate: op.estimate,
        });
      case "statistics":
        return this.saldo.statistics(mandateId(op.m), op.user).then((r) => {
          if (r.kind !== "statistics") return r;
          // The run's providers are named "alpha-<run>": the model knows them as "alpha".
          const suffix = `-${this.run}`;
          return {
            ...r,
            byProvider: Object.fromEntries(
              Object.entries(r.byProvider).map(([k, v]) => [k.endsWith(suffix) ? k.slice(0, -suffix.length) : k, v]),
            ),
          };
        });
    }
  }

  private holdId(no: number): string {
    const id = this.holdIds.get(no);
    if (!id) throw new ModelMismatch(`hold #${no} was never created in Saldo`);
    return id;
  }

  // ---------------------------------------------------------------- comparing

  private compare(
    alternative: Alternative,
    actual: Actual,
    snapshot: Snapshot,
    described: Map<string, Actual>,
    warnings: { accountId: string }[],
  ): { problems: string[]; learned: [string | number, string][] } {
    const problems: string[] = [];
    const learned: [string | number, string][] = [];
    const state = alternative.state;
    const modelIds = this.modelIdsOf(snapshot);
    const sutIds = new Map([...modelIds].map(([sut, model]) => [model, sut]));
    this.compareOutcome(alternative.expected, actual, state, sutIds, problems, learned);

    // Describing every account after the step is a read: expired holds are noticed.
    for (const account of Object.values(state.accounts)) notice(state, account);

    const modelAccounts = Object.keys(state.accounts).sort();
    const saldoAccounts = [...modelIds.values()].sort();
    if (modelAccounts.join() !== saldoAccounts.join()) {
      problems.push(`accounts: Saldo has [${saldoAccounts.map(label).join(", ")}], the model [${modelAccounts.map(label).join(", ")}]`);
    }
    for (const row of snapshot.accounts) {
      const id = modelIds.get(row.id)!;
      const account = state.accounts[id];
      if (!account) continue;
      const entries = snapshot.entries.filter((e) => e.accountId === row.id);
      const saldoEntries = entries.map((e) => `${e.type} ${signed(e.delta)}`);
      const modelEntries = account.entries.map((e) => `${e.type} ${signed(e.delta)}`);
      if (saldoEntries.join() !== modelEntries.join()) {
        problems.push(`${label(id)} entries: Saldo [${saldoEntries.join(", ")}], the model [${modelEntries.join(", ")}]`);
      }
      if (!same(row.balance, account.balance)) problems.push(`${label(id)} balance: Saldo ${row.balance}, the model ${account.balance}`);
      if (row.sequence !== entries.length) problems.push(`${label(id)} sequence ${row.sequence} but ${entries.length} entries`);
      if (row.enabled !== account.enabled) problems.push(`${label(id)} enabled: Saldo ${row.enabled}, the model ${account.enabled}`);
      if (!same(row.creditLimit, account.creditLimit))
        problems.push(`${label(id)} creditLimit: Saldo ${row.creditLimit}, the model ${account.creditLimit}`);
      const rollups = snapshot.rollups.filter((r) => r.accountId === row.id);
      const debits = account.entries.filter((e) => e.type === "DEBIT");
      const rolledCost = rollups.reduce((sum, r) => sum.plus(r.totalCost), new D(0));
      const rolledCount = rollups.reduce((n, r) => n + r.count, 0);
      const debitCost = debits.reduce((sum, e) => sum.plus(new D(e.delta).abs()), new D(0));
      if (!rolledCost.equals(debitCost) || rolledCount !== debits.length) {
        problems.push(
          `${label(id)} YEAR statistics: Saldo ${rolledCost} in ${rolledCount} debits, the model ${debitCost} in ${debits.length}`,
        );
      }
      const shown = described.get(row.id);
      if (!shown) continue;
      if (shown.kind !== "balance") {
        problems.push(`${label(id)} describeBalance failed: ${summary(shown)}`);
      } else {
        const wrong = balanceProblems(shown, shownBalance(state, account));
        if (wrong) problems.push(`${label(id)} describeBalance: ${wrong}`);
      }
    }

    // Holds: as many as the model has, each in a state the model allows.
    const holds = snapshot.holds;
    if (holds.length !== state.holds.length) problems.push(`holds: Saldo has ${holds.length}, the model ${state.holds.length}`);
    const newHold = learned.find(([ref]) => typeof ref === "number");
    for (const hold of state.holds) {
      const id = this.holdIds.get(hold.no) ?? (newHold && newHold[0] === hold.no ? newHold[1] : undefined);
      const row = id && holds.find((h) => h.id === id);
      if (!row) {
        problems.push(`hold #${hold.no} not found in Saldo`);
        continue;
      }
      const status = effectiveStatus(state, hold);
      const allowed = status === "EXPIRED" && hold.status === "ACTIVE" ? ["ACTIVE", "EXPIRED"] : [status];
      if (!allowed.includes(row.status)) problems.push(`hold #${hold.no} status: Saldo ${row.status}, the model ${allowed.join(" or ")}`);
      if (!same(row.amount, hold.amount)) problems.push(`hold #${hold.no} amount: Saldo ${row.amount}, the model ${hold.amount}`);
      if (modelIds.get(row.accountId) !== accountId(hold.m, hold.account)) {
        problems.push(
          `hold #${hold.no} is on ${label(modelIds.get(row.accountId) ?? row.accountId)}, the model ${label(accountId(hold.m, hold.account))}`,
        );
      }
    }

    state.autoTopUps.forEach((attempt, slot) => {
      if (!attempt) return;
      const row = snapshot.autoTopUps.find((a) => a.id === this.attemptId(slot));
      const status = attempt.succeeded ? "SUCCEEDED" : "PENDING";
      if (row?.status !== status) problems.push(`automatic top-up ${slot}: Saldo ${row?.status ?? "missing"}, the model ${status}`);
    });

    // Warnings fired in this step, per account, and the emails they owe.
    const fired: Record<string, number> = {};
    for (const w of warnings) {
      const id = modelIds.get(w.accountId);
      if (id) fired[id] = (fired[id] ?? 0) + 1;
    }
    for (const id of new Set([...Object.keys(fired), ...Object.keys(alternative.fires)])) {
      const [min, max] = alternative.fires[id] ?? [0, 0];
      const n = fired[id] ?? 0;
      if (n < min || n > max)
        problems.push(`${label(id)} balanceWarning events: Saldo ${n}, the model ${min === max ? min : `${min}..${max}`}`);
    }
    this.mandateIds.forEach((mandateId, m) => {
      const n = (snapshot.warningEmails[mandateId] ?? 0) - (this.warningEmails[mandateId] ?? 0);
      const [min, max] = alternative.emails[m];
      if (n < min || n > max) problems.push(`m${m} warning emails: Saldo ${n}, the model ${min === max ? min : `${min}..${max}`}`);
    });
    return { problems, learned };
  }

  private compareOutcome(
    expected: Expected,
    actual: Actual,
    state: State,
    sutIds: Map<string, string>,
    problems: string[],
    learned: [string | number, string][],
  ): void {
    const problem = (text: string): void =>
      void problems.push(`answer: expected ${summarizeExpected(expected)}, got ${summary(actual)}${text ? ` (${text})` : ""}`);
    switch (expected.kind) {
      case "error":
        if (actual.kind !== "error" || !expected.codes.includes(actual.code)) problem("");
        return;
      case "booked":
        if (actual.kind !== "move" || actual.replayed || !actual.transactionId) return problem("");
        learned.push([`${expected.entry.account}#${expected.entry.index}`, actual.transactionId]);
        return;
      case "replayed": {
        if (actual.kind !== "move" || !actual.replayed) return problem("");
        const ref = `${expected.entry.account}#${expected.entry.index}`;
        const first = this.entryIds.get(ref) ?? learned.find(([r]) => r === ref)?.[1];
        if (first && actual.transactionId !== first) problem(`not the first transaction ${first}`);
        return;
      }
      case "held": {
        const hold = state.holds[expected.hold];
        if (actual.kind !== "authorize" || actual.replayed || !actual.hold) return problem("");
        if (!same(actual.hold.amount, hold.amount)) problem(`amount ${actual.hold.amount}, the model ${hold.amount}`);
        learned.push([expected.hold, actual.hold.id]);
        return;
      }
      case "holdReplayed":
        if (actual.kind !== "authorize" || !actual.replayed || !actual.hold) return problem("");
        if (actual.hold.id !== (this.holdIds.get(expected.hold) ?? learned.find(([r]) => r === expected.hold)?.[1]))
          problem("not the first hold");
        if (actual.hold.status !== expected.status) problem(`status ${actual.hold.status}`);
        return;
      case "denied":
        if (actual.kind !== "authorize" || actual.hold || actual.replayed || actual.reason !== expected.reason) problem("");
        return;
      case "released":
        if (actual.kind !== "release" || actual.status !== expected.status) problem("");
        return;
      case "ok":
        if (actual.kind !== "ok") problem("");
        return;
      case "topUp":
        if (actual.kind !== "topUp") return problem("");
        // Starting a checkout opens nothing: it names the account by key, and by id once the account exists.
        if (sutIds.has(expected.account) && actual.accountId !== sutIds.get(expected.account)) {
          problem(`the checkout names another account than ${label(expected.account)}`);
        }
        return;
      case "stripe":
        if (actual.kind !== "stripe" || actual.statuses.some((s) => s !== 200)) problem("");
        return;
      case "balance": {
        if (actual.kind !== "balance") return problem("");
        const wrong = balanceProblems(actual, {
          balance: expected.balance,
          held: expected.held,
          available: expected.available,
          isWarning: expected.isWarning,
        });
        if (wrong) problem(wrong);
        return;
      }
      case "check":
        if (
          actual.kind !== "check" ||
          actual.allowed !== expected.allowed ||
          actual.reason !== expected.reason ||
          !same(actual.available, expected.available) ||
          !same(actual.currentBalance, expected.currentBalance)
        ) {
          problem("");
        }
        return;
      case "statistics": {
        if (actual.kind !== "statistics") return problem("");
        const shares = (a: Record<string, string>, b: Record<string, string>) =>
          Object.keys(a).sort().join() === Object.keys(b).sort().join() && Object.keys(a).every((k) => same(a[k], b[k]));
        if (
          !same(actual.totalCost, expected.totalCost) ||
          actual.count !== expected.count ||
          !shares(actual.byProvider, expected.byProvider) ||
          !shares(actual.byFeature, expected.byFeature)
        ) {
          problem(`by provider ${JSON.stringify(actual.byProvider)} / ${JSON.stringify(expected.byProvider)}`);
        }
        return;
      }
      case "many": {
        // Identical requests at once: Saldo's answers in any order.
        if (actual.kind !== "many" || actual.each.length !== expected.each.length) return problem("");
        const left = [...actual.each];
        for (const e of expected.each) {
          const i = left.findIndex((a) => {
            const p: string[] = [];
            this.compareOutcome(e, a, state, sutIds, p, [...learned]);
            return p.length === 0;
          });
          if (i < 0) return problem("");
          this.compareOutcome(e, left[i], state, sutIds, [], learned);
          left.splice(i, 1);
        }
        return;
      }
    }
  }
}

// ---------------------------------------------------------------- helpers

const rowOf = (a: Snapshot["accounts"][number]) => JSON.stringify([a.balance, a.sequence, a.enabled, a.creditLimit]);

/** What a read would show of each account (and under which model), to see which changed. */
function views(state: State): Map<string, string> {
  return new Map(
    Object.entries(state.accounts).map(([id, account]) => [
      id,
      JSON.stringify([shownBalance(state, account), state.mandates[account.m].billingModel]),
    ]),
  );
}

function balanceProblems(
  shown: { balance: string; held: string; available: string | null; isWarning: boolean },
  model: { balance: string; held: string; available: string | null; isWarning: boolean | null },
): string | null {
  const wrong: string[] = [];
  if (!same(shown.balance, model.balance)) wrong.push(`balance ${shown.balance}, the model ${model.balance}`);
  if (!same(shown.held, model.held)) wrong.push(`held ${shown.held}, the model ${model.held}`);
  if (!same(shown.available, model.available)) wrong.push(`available ${shown.available}, the model ${model.available}`);
  if (model.isWarning !== null && shown.isWarning !== model.isWarning)
    wrong.push(`isWarning ${shown.isWarning}, the model ${model.isWarning}`);
  return wrong.length ? wrong.join("; ") : null;
}

/** "0|user:u1" -> "m0/user:u1". */
const label = (id: string) => `m${id.replace("|", "/")}`;
const signed = (delta: string) => (new D(delta).isNegative() ? new D(delta).toString() : `+${new D(delta).toString()}`);

export function summary(actual: Actual): string {
  switch (actual.kind) {
    case "error":
      return actual.code === "UNEXPECTED" ? `unexpected error (${actual.message})` : `userError ${actual.code}`;
    case "move":
      return actual.replayed ? "replayed" : actual.transactionId ? "booked" : "booked nothing";
    case "authorize":
      if (!actual.hold) return `denied ${actual.reason}`;
      return `${actual.replayed ? "hold replayed" : "held"} ${new D(actual.hold.amount)} (${actual.hold.status})`;
    case "release":
      return actual.status;
    case "ok":
      return "ok";
    case "topUp":
      return "checkout started";
    case "stripe":
      return `webhook ${actual.statuses.join(",")}`;
    case "balance":
      return `balance ${new D(actual.balance)} held ${new D(actual.held)} available ${actual.available === null ? "unlimited" : new D(actual.available)}${actual.isWarning ? " (warning)" : ""}`;
    case "check":
      return `${actual.allowed ? "allowed" : `denied ${actual.reason}`}, available ${actual.available === null ? "unlimited" : new D(actual.available)}, balance ${new D(actual.currentBalance)}`;
    case "statistics":
      return `${new D(actual.totalCost)} in ${actual.count} debits`;
    case "many":
      return `[${actual.each.map(summary).join(" | ")}]`;
  }
}

function summarizeExpected(expected: Expected): string {
  switch (expected.kind) {
    case "error":
      return `userError ${expected.codes.join(" or ")}`;
    case "booked":
      return "booked";
    case "replayed":
      return "replayed";
    case "held":
      return "held";
    case "holdReplayed":
      return `hold replayed (${expected.status})`;
    case "denied":
      return `denied ${expected.reason}`;
    case "released":
      return expected.status;
    case "ok":
      return "ok";
    case "topUp":
      return "checkout started";
    case "stripe":
      return "webhook 200";
    case "balance":
      return `balance ${expected.balance} held ${expected.held} available ${expected.available ?? "unlimited"}${expected.isWarning ? " (warning)" : ""}`;
    case "check":
      return `${expected.allowed ? "allowed" : `denied ${expected.reason}`}, available ${expected.available ?? "unlimited"}, balance ${expected.currentBalance}`;
    case "statistics":
      return `${expected.totalCost} in ${expected.count} debits`;
    case "many":
      return `[${expected.each.map(summarizeExpected).join(" | ")}]`;
  }
}
