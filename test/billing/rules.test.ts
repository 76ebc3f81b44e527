// The billing rules one at a time: what each billing model may spend, disabled
// accounts, providers, hold expiry, settle/release/replay semantics, warnings,
// events after commit, settings validation and the append-only ledger.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adjustAccount,
  authorizeUsage,
  checkBilling,
  creditAccount,
  expireHolds,
  recordUsage,
  releaseUsage,
  settleUsage,
  updateBillingAccount,
  updateSettings,
  upsertMandate,
  type BalanceWarningEvent,
  type BillingContext,
  type BillingEvent,
} from "../../src/billing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, uniqueId, type TestBilling } from "../support/billing.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const openai = { provider: "openai", model: "gpt-5" } as const;

/** The user's account, or the mandate-wide one (under UNLIMITED, the account of its own). */
async function account(mandateId: string, userId?: string) {
  return db.prisma.billingAccount.findFirstOrThrow({ where: { mandateId, accountKey: userId ? `user:${userId}` : { in: ["mandate", "unlimited"] } } });
}

async function balance(mandateId: string, userId?: string) {
  return (await account(mandateId, userId)).balance.toFixed(6);
}

/** Opens the mandate's account without moving money (a zero-cost usage books a DEBIT of 0). */
async function openAccountOf(b: TestBilling, mandateId: string, userId?: string) {
  const opened = await recordUsage(b.ctx, { mandateId, userId, ...openai, cost: "0", idempotencyKey: `open-${uniqueId()}` });
  expect(opened.transaction).toMatchObject({ transactionType: "DEBIT" });
  expect(opened.transaction!.amount.toFixed(6)).toBe("0.000000");
  return opened.accountId;
}

const warnings = (events: BillingEvent[]) => events.filter((e): e is BalanceWarningEvent => e.type === "balanceWarning");

let keyCounter = 0;
const key = () => `k-${++keyCounter}`;

async function spend(b: TestBilling, mandateId: string, cost: string, userId?: string) {
  return recordUsage(b.ctx, { mandateId, userId, ...openai, cost, idempotencyKey: key() });
}

describe("what each billing model may spend", () => {
  it("CREDIT_POSTPAY may go down to -creditLimit and no further", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "CREDIT_POSTPAY");
    const accountId = await openAccountOf(b, mandateId);
    // Without a credit limit nothing may be spent.
    const none = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "0.000001", idempotencyKey: "h0" });
    expect(none.authorization).toBeNull();
    expect(none.check.reason).toBe("INSUFFICIENT_BALANCE");

    await updateBillingAccount(b.ctx, { accountId, creditLimit: "100" });
    const h1 = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "60", idempotencyKey: "h1" });
    expect(h1.authorization).not.toBeNull();
    expect(h1.check.available?.toFixed(6)).toBe("100.000000");
    const tooMuch = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "40.000001", idempotencyKey: "h2" });
    expect(tooMuch.authorization).toBeNull();
    expect(tooMuch.check).toMatchObject({ allowed: false, reason: "INSUFFICIENT_BALANCE" });
    const h3 = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "40", idempotencyKey: "h3" });
    expect(h3.authorization).not.toBeNull();

    await settleUsage(b.ctx, { authorizationId: h1.authorization!.id, cost: "60" });
    await settleUsage(b.ctx, { authorizationId: h3.authorization!.id, cost: "40" });
    expect(await balance(mandateId)).toBe("-100.000000");
    const atLimit = await checkBilling(b.ctx, { mandateId, provider: "openai" });
    expect(atLimit).toMatchObject({ allowed: false, reason: "INSUFFICIENT_BALANCE" });
    expect(atLimit.available?.toFixed(6)).toBe("0.000000");
    expect(atLimit.currentBalance.toFixed(6)).toBe("-100.000000");
    const beyond = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "0.000001", idempotencyKey: "h4" });
    expect(beyond.authorization).toBeNull();

    // Paying the invoice makes room again, exactly as much as was paid.
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "invoice paid", idempotencyKey: "paid" });
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "10" })).allowed).toBe(true);
    expect(await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "10.000001" })).toMatchObject({
      allowed: false,
      reason: "INSUFFICIENT_BALANCE",
    });
    await expectLedgerInvariants(db.prisma);
  });

  it("UNLIMITED is always allowed and its usage is still recorded", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "UNLIMITED");
    const check = await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "999999999" });
    expect(check).toMatchObject({ allowed: true, reason: null, available: null, billingModel: "UNLIMITED" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "500000", idempotencyKey: "big" });
    expect(hold.authorization).not.toBeNull();
    const settled = await settleUsage(b.ctx, { authorizationId: hold.authorization!.id, cost: "123.456789", metadata: { featureCode: "chat" } });
    const used = await recordUsage(b.ctx, { mandateId, provider: "anthropic", model: "x", cost: "0.5", metadata: { featureCode: "automation" }, idempotencyKey: "u" });
    expect(settled.transaction?.transactionType).toBe("DEBIT");
    expect(used.transaction?.transactionType).toBe("DEBIT");
    expect(await balance(mandateId)).toBe("-123.956789");
    expect(await db.prisma.transaction.count({ where: { mandateId, transactionType: "DEBIT" } })).toBe(2);
    const month = await db.prisma.usageStatistics.findFirstOrThrow({ where: { mandateId, periodType: "MONTH" } });
    expect(month.totalCost.toFixed(6)).toBe("123.956789");
    expect(month.transactionCount).toBe(2n);
    expect(month.costByProvider).toEqual({ openai: "123.456789", anthropic: "0.500000" });
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1000" })).allowed).toBe(true);
    expect(warnings(b.events)).toEqual([]);
    await expectLedgerInvariants(db.prisma);
  });

  it("a disabled account denies every check with ACCOUNT_DISABLED", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c" });
    await updateBillingAccount(b.ctx, { accountId, enabled: false });
    expect(await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1" })).toMatchObject({
      allowed: false,
      reason: "ACCOUNT_DISABLED",
    });
    const denied = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "1", idempotencyKey: "h" });
    expect(denied.authorization).toBeNull();
    expect(denied.check.reason).toBe("ACCOUNT_DISABLED");
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId } })).toBe(0);
    await updateBillingAccount(b.ctx, { accountId, enabled: true });
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1" })).allowed).toBe(true);
  });

  it("a disabled UNLIMITED or PREPAY_USER account is denied too", async () => {
    const b = testBilling(db.prisma);
    const unlimited = await createMandate(b.ctx, "UNLIMITED");
    await updateBillingAccount(b.ctx, { accountId: await openAccountOf(b, unlimited), enabled: false });
    expect((await checkBilling(b.ctx, { mandateId: unlimited, provider: "openai" })).reason).toBe("ACCOUNT_DISABLED");
    const perUser = await createMandate(b.ctx, "PREPAY_USER");
    await updateBillingAccount(b.ctx, { accountId: await openAccountOf(b, perUser, "u1"), enabled: false });
    const hold = await authorizeUsage(b.ctx, { mandateId: perUser, userId: "u1", ...openai, estimatedCost: "1", idempotencyKey: "h" });
    expect(hold.check.reason).toBe("ACCOUNT_DISABLED");
    // Another user of the same mandate is not affected.
    expect((await checkBilling(b.ctx, { mandateId: perUser, userId: "u2", provider: "openai", estimatedCost: "1" })).allowed).toBe(true);
  });

  it("blockOnZeroBalance=false lets a prepaid account go negative, and the warning still fires", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { blockOnZeroBalance: false });
    await creditAccount(b.ctx, { mandateId, amount: "5", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "8", idempotencyKey: "h" });
    expect(hold.authorization).not.toBeNull();
    expect(hold.check.allowed).toBe(true);
    await settleUsage(b.ctx, { authorizationId: hold.authorization!.id, cost: "8" });
    expect(await balance(mandateId)).toBe("-3.000000");
    const check = await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "20" });
    expect(check.allowed).toBe(true);
    expect(check.available?.toFixed(6)).toBe("-3.000000");
    expect(warnings(b.events)).toHaveLength(1);

    // The same under blockOnZeroBalance=true is denied.
    const blocking = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId: blocking, amount: "5", description: "top-up", idempotencyKey: "c" });
    const denied = await authorizeUsage(b.ctx, { mandateId: blocking, ...openai, estimatedCost: "8", idempotencyKey: "h" });
    expect(denied.check.reason).toBe("INSUFFICIENT_BALANCE");

    // PREPAY_USER: the user's own account may go negative as well.
    const perUser = await createMandate(b.ctx, "PREPAY_USER", { blockOnZeroBalance: false });
    const userHold = await authorizeUsage(b.ctx, { mandateId: perUser, userId: "u", ...openai, estimatedCost: "25", idempotencyKey: "h" });
    expect(userHold.authorization).not.toBeNull();
    await settleUsage(b.ctx, { authorizationId: userHold.authorization!.id, cost: "25" });
    expect(await balance(perUser, "u")).toBe("-15.000000");
    await expectLedgerInvariants(db.prisma);
  });

  it("allowedProviders denies other providers with PROVIDER_NOT_ALLOWED, case-insensitively", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { allowedProviders: ["OpenAI", " Anthropic "] });
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c" });
    for (const provider of ["openai", "OPENAI", "OpenAI", "anthropic", "ANTHROPIC"]) {
      expect((await checkBilling(b.ctx, { mandateId, provider, estimatedCost: "1" })).allowed, provider).toBe(true);
    }
    for (const provider of ["perplexity", "Tavily", "open-ai"]) {
      expect(await checkBilling(b.ctx, { mandateId, provider, estimatedCost: "1" }), provider).toMatchObject({
        allowed: false,
        reason: "PROVIDER_NOT_ALLOWED",
      });
    }
    const denied = await authorizeUsage(b.ctx, { mandateId, provider: "Perplexity", model: "sonar", estimatedCost: "1", idempotencyKey: "h" });
    expect(denied.authorization).toBeNull();
    expect(denied.check.reason).toBe("PROVIDER_NOT_ALLOWED");
    const allowed = await authorizeUsage(b.ctx, { mandateId, provider: "ANTHROPIC", model: "claude-haiku-4-5", estimatedCost: "1", idempotencyKey: "h2" });
    expect(allowed.authorization?.provider).toBe("anthropic");

    // A list stored with other capitalisation (e.g. written before normalisation) still matches.
    await db.prisma.settings.update({ where: { mandateId }, data: { allowedProviders: ["OpenAI"] } });
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1" })).allowed).toBe(true);
    expect((await checkBilling(b.ctx, { mandateId, provider: "anthropic", estimatedCost: "1" })).reason).toBe("PROVIDER_NOT_ALLOWED");

    // The provider rule comes before the balance: an empty account is still told the provider is the reason.
    const empty = await createMandate(b.ctx, "PREPAY_MANDATE", { allowedProviders: ["openai"] });
    expect((await checkBilling(b.ctx, { mandateId: empty, provider: "tavily", estimatedCost: "1" })).reason).toBe("PROVIDER_NOT_ALLOWED");

    await updateSettings(b.ctx, { mandateId, allowAllProviders: true });
    expect((await checkBilling(b.ctx, { mandateId, provider: "perplexity", estimatedCost: "1" })).allowed).toBe(true);
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId, provider: "perplexity" } })).toBe(0);
  });
});

describe("holds", () => {
  it("an expired hold stops counting at its expiry, before expireHolds runs; expireHolds marks it EXPIRED", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "8", expiresInSeconds: 60, idempotencyKey: "h" });
    const id = hold.authorization!.id;
    expect(hold.authorization!.expiresAt.getTime() - b.clock.now().getTime()).toBe(60_000);
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("2.000000");
    b.clock.advance(59_999);
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("2.000000");
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "2.000001" })).allowed).toBe(false);
    b.clock.advance(1);
    const expired = await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "10" });
    expect(expired.available?.toFixed(6)).toBe("10.000000");
    expect(expired.allowed).toBe(true);
    expect((await db.prisma.usageAuthorization.findUniqueOrThrow({ where: { id } })).status).toBe("ACTIVE");
    // The freed amount can be held again before any cleanup ran.
    const again = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "10", idempotencyKey: "h2" });
    expect(again.authorization).not.toBeNull();

    // Settling an expired hold is refused, before and after expireHolds.
    await expect(settleUsage(b.ctx, { authorizationId: id, cost: "1" })).rejects.toMatchObject({ code: "AUTHORIZATION_NOT_ACTIVE" });
    expect(await expireHolds(b.ctx)).toBeGreaterThanOrEqual(1);
    const row = await db.prisma.usageAuthorization.findUniqueOrThrow({ where: { id } });
    expect(row.status).toBe("EXPIRED");
    expect(row.closedAt?.getTime()).toBe(b.clock.now().getTime());
    expect((await db.prisma.usageAuthorization.findUniqueOrThrow({ where: { id: again.authorization!.id } })).status).toBe("ACTIVE");
    await expect(settleUsage(b.ctx, { authorizationId: id, cost: "1" })).rejects.toMatchObject({ code: "AUTHORIZATION_NOT_ACTIVE" });
    // Releasing it is harmless and changes nothing.
    expect((await releaseUsage(b.ctx, { authorizationId: id })).status).toBe("EXPIRED");
    expect(await balance(mandateId)).toBe("10.000000");
    expect(await db.prisma.transaction.count({ where: { mandateId } })).toBe(1);
  });

  it("releasing an expired hold that expireHolds has not seen yet records it as EXPIRED", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "3", expiresInSeconds: 1, idempotencyKey: "h" });
    b.clock.advance(1000);
    expect((await releaseUsage(b.ctx, { authorizationId: hold.authorization!.id })).status).toBe("EXPIRED");
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("10.000000");
  });

  it("settling a released hold is AUTHORIZATION_NOT_ACTIVE; releasing twice is harmless; a settled hold cannot be released", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "4", idempotencyKey: "h" });
    const id = hold.authorization!.id;
    const first = await releaseUsage(b.ctx, { authorizationId: id });
    const eventsAfterFirst = b.events.length;
    const second = await releaseUsage(b.ctx, { authorizationId: id });
    expect(first.status).toBe("RELEASED");
    expect(second.status).toBe("RELEASED");
    expect(second.closedAt?.getTime()).toBe(first.closedAt?.getTime());
    expect(b.events.length, "a second release announces nothing").toBe(eventsAfterFirst);
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("10.000000");
    await expect(settleUsage(b.ctx, { authorizationId: id, cost: "1" })).rejects.toMatchObject({ code: "AUTHORIZATION_NOT_ACTIVE" });
    expect(await balance(mandateId)).toBe("10.000000");

    const other = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "4", idempotencyKey: "h2" });
    await settleUsage(b.ctx, { authorizationId: other.authorization!.id, cost: "1" });
    await expect(releaseUsage(b.ctx, { authorizationId: other.authorization!.id })).rejects.toMatchObject({ code: "AUTHORIZATION_NOT_ACTIVE" });
    await expect(releaseUsage(b.ctx, { authorizationId: "no-such-hold" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(settleUsage(b.ctx, { authorizationId: "no-such-hold", cost: "1" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await balance(mandateId)).toBe("9.000000");
  });

  it("a settle above the estimate debits the real cost", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "2", idempotencyKey: "h" });
    const settled = await settleUsage(b.ctx, { authorizationId: hold.authorization!.id, cost: "3.500001" });
    expect(settled.transaction?.amount.toFixed(6)).toBe("3.500001");
    expect(settled.transaction?.delta.toFixed(6)).toBe("-3.500001");
    expect(await balance(mandateId)).toBe("6.499999");
    const check = await checkBilling(b.ctx, { mandateId, provider: "openai" });
    expect(check.available?.toFixed(6)).toBe("6.499999");
    const row = await db.prisma.usageAuthorization.findUniqueOrThrow({ where: { id: hold.authorization!.id } });
    expect(row).toMatchObject({ status: "SETTLED", transactionId: settled.transaction!.id });

    // Above what the account has: the call already happened, so it is booked anyway.
    const last = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "6", idempotencyKey: "h2" });
    await settleUsage(b.ctx, { authorizationId: last.authorization!.id, cost: "7" });
    expect(await balance(mandateId)).toBe("-0.500001");
    await expectLedgerInvariants(db.prisma);
  });

  it("settling twice with the same content returns the first transaction; other content is IDEMPOTENCY_CONFLICT", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "2", idempotencyKey: "h" });
    const authorizationId = hold.authorization!.id;
    const first = await settleUsage(b.ctx, { authorizationId, cost: "1.5", metadata: { featureCode: "chat" } });
    const again = await settleUsage(b.ctx, { authorizationId, cost: "1.500000", metadata: { featureCode: "chat" } });
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.transaction?.id).toBe(first.transaction?.id);
    await expect(settleUsage(b.ctx, { authorizationId, cost: "1.6", metadata: { featureCode: "chat" } })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    await expect(settleUsage(b.ctx, { authorizationId, cost: "1.5", metadata: { featureCode: "automation" } })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    expect(await balance(mandateId)).toBe("8.500000");
    expect(await db.prisma.transaction.count({ where: { mandateId, transactionType: "DEBIT" } })).toBe(1);
  });

  it("a hold settled at zero cost answers a settle with another cost with IDEMPOTENCY_CONFLICT", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "2", idempotencyKey: "h" });
    const authorizationId = hold.authorization!.id;
    const free = await settleUsage(b.ctx, { authorizationId, cost: "0" });
    // The call cost nothing, and is still a call: a DEBIT of 0 that reserves the settlement.
    expect(free.transaction?.amount.toFixed(6)).toBe("0.000000");
    expect((await settleUsage(b.ctx, { authorizationId, cost: "0" })).replayed).toBe(true);
    // A retry that claims a real cost is a different request: it must not be answered as if it were booked.
    await expect(settleUsage(b.ctx, { authorizationId, cost: "1.25" })).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    expect(await balance(mandateId)).toBe("10.000000");
  });

  it("an authorize replay with the same key returns the same authorization; other content is IDEMPOTENCY_CONFLICT", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const input = { mandateId, ...openai, estimatedCost: "4", idempotencyKey: "hold-1" };
    const first = await authorizeUsage(b.ctx, input);
    const again = await authorizeUsage(b.ctx, { ...input, estimatedCost: "4.000000", provider: "OpenAI" });
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.authorization?.id).toBe(first.authorization?.id);
    for (const changed of [
      { estimatedCost: "5" },
      { provider: "anthropic" },
      { model: "gpt-5-mini" },
      { expiresInSeconds: 120 },
    ]) {
      await expect(authorizeUsage(b.ctx, { ...input, ...changed }), JSON.stringify(changed)).rejects.toMatchObject({
        code: "IDEMPOTENCY_CONFLICT",
      });
    }
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId } })).toBe(1);
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("6.000000");
    // Still the same answer after it was settled, and nothing is held again.
    await settleUsage(b.ctx, { authorizationId: first.authorization!.id, cost: "3" });
    const late = await authorizeUsage(b.ctx, input);
    expect(late.replayed).toBe(true);
    expect(late.authorization?.id).toBe(first.authorization?.id);
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("7.000000");
  });
});

describe("balance warnings", () => {
  it("fire once when available falls to the default threshold, not again while below, and again after a top-up", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c1" });
    // Default threshold: 10 % of 100.00, the balance right after the top-up.
    await spend(b, mandateId, "89.999999");
    expect(warnings(b.events), "available 10.000001 is above 10").toEqual([]);
    await spend(b, mandateId, "0.000001");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({
      mandateId,
      accountId,
      userId: null,
      available: "10.000000",
      threshold: "10.000000",
    });
    expect(new Date(warnings(b.events)[0].at).getTime()).toBe(b.clock.now().getTime());
    expect(await account(mandateId)).toMatchObject({ isWarning: true });
    await spend(b, mandateId, "1");
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "2", idempotencyKey: "h" });
    await settleUsage(b.ctx, { authorizationId: hold.authorization!.id, cost: "2" });
    expect(warnings(b.events), "no second warning while below").toHaveLength(1);

    // A top-up re-arms it: the new threshold is 10 % of 57.00.
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c2" });
    expect(await account(mandateId)).toMatchObject({ isWarning: false });
    expect(await balance(mandateId)).toBe("57.000000");
    await spend(b, mandateId, "51.299999");
    expect(warnings(b.events)).toHaveLength(1);
    await spend(b, mandateId, "0.000001");
    expect(warnings(b.events)).toHaveLength(2);
    expect(warnings(b.events)[1]).toMatchObject({ available: "5.700000", threshold: "5.700000" });
  });

  it("counts holds: an authorization that brings available to the threshold fires it", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { warningThresholdPercent: "25" });
    await creditAccount(b.ctx, { mandateId, amount: "40", description: "top-up", idempotencyKey: "c" });
    await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "29.999999", idempotencyKey: "h1" });
    expect(warnings(b.events)).toEqual([]);
    await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "0.000001", idempotencyKey: "h2" });
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ available: "10.000000", threshold: "10.000000" });
  });

  it("postpay measures what may still be spent against a percentage of the credit limit", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "CREDIT_POSTPAY");
    const accountId = await openAccountOf(b, mandateId);
    // Opened without a credit limit, the account may spend nothing: at its threshold (0) it warns.
    expect(warnings(b.events)).toMatchObject([{ available: "0.000000", threshold: "0.000000" }]);
    b.events.length = 0;
    await updateBillingAccount(b.ctx, { accountId, creditLimit: "200" });
    // A payment does not move the threshold: it stays 10 % of the limit (20), not of the payment.
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "invoice paid", idempotencyKey: "c" });
    await spend(b, mandateId, "229");
    expect(warnings(b.events), "available 21").toEqual([]);
    await spend(b, mandateId, "1");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ available: "20.000000", threshold: "20.000000" });
    expect(await balance(mandateId)).toBe("-180.000000");
  });

  it("uses an admin's per-account threshold", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    await updateBillingAccount(b.ctx, { accountId, warningThreshold: "50" });
    expect(warnings(b.events)).toEqual([]);
    await spend(b, mandateId, "49");
    expect(warnings(b.events)).toEqual([]);
    await spend(b, mandateId, "1");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ available: "50.000000", threshold: "50.000000" });
    // Setting it below what is left re-arms it at once; raising it above fires at once.
    await updateBillingAccount(b.ctx, { accountId, warningThreshold: "30" });
    expect(await account(mandateId)).toMatchObject({ isWarning: false });
    await updateBillingAccount(b.ctx, { accountId, warningThreshold: "60" });
    expect(warnings(b.events)).toHaveLength(2);
    expect(warnings(b.events)[1]).toMatchObject({ available: "50.000000", threshold: "60.000000" });
  });

  it("a PREPAY_USER account warns on 10 % of its initial credit", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_USER", { defaultUserCredit: "20" });
    await spend(b, mandateId, "17.999999", "u");
    expect(warnings(b.events)).toEqual([]);
    await spend(b, mandateId, "0.000001", "u");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ userId: "u", available: "2.000000", threshold: "2.000000" });
  });
});

describe("events", () => {
  /** The same context, over a database whose transactions do all their work and then fail to commit. */
  function failingAtCommit(b: TestBilling): BillingContext {
    const prisma = db.prisma;
    const failing = new Proxy(prisma, {
      get(target, property) {
        if (property === "$transaction") {
          return (work: (tx: unknown) => Promise<unknown>, options?: unknown) =>
            (target.$transaction as (w: (tx: unknown) => Promise<unknown>, o?: unknown) => Promise<unknown>)(async (tx) => {
              await work(tx);
              throw new Error("commit refused (simulated)");
            }, options);
        }
        return Reflect.get(target, property, target);
      },
    });
    return { ...b.ctx, db: failing };
  }

  async function setUp() {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    await spend(b, mandateId, "85");
    expect(b.events.map((e) => e.type)).toEqual(["balanceChanged", "balanceChanged"]);
    return { b, mandateId, before: b.events.length };
  }

  it("are published only after commit: an operation whose transaction fails publishes nothing", async () => {
    const { b, mandateId, before } = await setUp();
    // Would bring available to 5, below the threshold of 10: a warning and a balance change, both rolled back.
    await expect(
      adjustAccount(failingAtCommit(b), { mandateId, amount: "-10", description: "correction", idempotencyKey: "a1" }),
    ).rejects.toThrow(/commit refused/);
    await expect(
      authorizeUsage(failingAtCommit(b), { mandateId, ...openai, estimatedCost: "10", idempotencyKey: "h1" }),
    ).rejects.toThrow(/commit refused/);
    expect(b.events.length).toBe(before);
    expect(await balance(mandateId)).toBe("15.000000");
    expect(await account(mandateId)).toMatchObject({ isWarning: false, sequence: 2 });
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId } })).toBe(0);

    // A refused request publishes nothing either.
    await expect(creditAccount(b.ctx, { mandateId, amount: "1", description: "top-up", idempotencyKey: "c" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    expect(b.events.length).toBe(before);

    // The same adjustment, committed, announces both.
    await adjustAccount(b.ctx, { mandateId, amount: "-10", description: "correction", idempotencyKey: "a1" });
    expect(b.events.slice(before).map((e) => e.type)).toEqual(["balanceWarning", "balanceChanged"]);
    await expectLedgerInvariants(db.prisma);
  });

  it("a real refusal at COMMIT reaches the caller, and nothing is published or kept", async () => {
    // A check the database itself runs at COMMIT, after the operation did all
    // its work and collected its events: it refuses entries with this description.
    await db.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused at commit by the test'; END; $$`);
    await db.prisma.$executeRawUnsafe(`DROP TRIGGER IF EXISTS test_refuse_commit ON "Transaction"`);
    await db.prisma.$executeRawUnsafe(`
      CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT ON "Transaction"
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (NEW."description" = 'refused at commit') EXECUTE FUNCTION test_refuse_commit()`);
    const { b, mandateId, before } = await setUp();
    const outcome = await adjustAccount(b.ctx, { mandateId, amount: "-10", description: "refused at commit", idempotencyKey: "a1" }).then(
      () => "resolved",
      (error: unknown) => String(error),
    );
    expect(outcome, "the caller must learn that the adjustment was not kept").toMatch(/refused at commit/);
    expect(b.events.length, "events of a rolled-back adjustment were published").toBe(before);
    expect(await balance(mandateId)).toBe("15.000000");
    expect(await account(mandateId)).toMatchObject({ isWarning: false, sequence: 2 });
    // The connection that failed is usable again: the next operations work.
    await adjustAccount(b.ctx, { mandateId, amount: "-10", description: "correction", idempotencyKey: "a2" });
    expect(b.events.slice(before).map((e) => e.type)).toEqual(["balanceWarning", "balanceChanged"]);
    await expectLedgerInvariants(db.prisma);
  });
});

describe("settings and input validation", () => {
  it("PREPAY_USER without userId is VALIDATION_FAILED and writes nothing", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_USER");
    const calls = [
      () => checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1" }),
      () => authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "1", idempotencyKey: "h" }),
      () => recordUsage(b.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "u" }),
      () => creditAccount(b.ctx, { mandateId, amount: "1", description: "x", idempotencyKey: "c" }),
      () => adjustAccount(b.ctx, { mandateId, userId: "", amount: "1", description: "x", idempotencyKey: "a" }),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: ["input", "userId"] });
    }
    expect(await db.prisma.billingAccount.count({ where: { mandateId } })).toBe(0);
    expect(await db.prisma.transaction.count({ where: { mandateId } })).toBe(0);
  });

  it("an unknown mandate is NOT_FOUND", async () => {
    const b = testBilling(db.prisma);
    const mandateId = uniqueId("missing");
    const calls = [
      () => checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1" }),
      () => authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "1", idempotencyKey: "h" }),
      () => recordUsage(b.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "u" }),
      () => creditAccount(b.ctx, { mandateId, amount: "1", description: "x", idempotencyKey: "c" }),
      () => adjustAccount(b.ctx, { mandateId, amount: "1", description: "x", idempotencyKey: "a" }),
      () => updateSettings(b.ctx, { mandateId, blockOnZeroBalance: false }),
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(updateBillingAccount(b.ctx, { accountId: "no-such-account", enabled: false })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await db.prisma.mandate.count({ where: { id: mandateId } })).toBe(0);
  });

  it("switching to CREDIT_POSTPAY without a billing address is BILLING_ADDRESS_REQUIRED and changes nothing", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const before = await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } });
    await expect(
      updateSettings(b.ctx, { mandateId, billingModel: "CREDIT_POSTPAY", blockOnZeroBalance: false, warningThresholdPercent: "20" }),
    ).rejects.toMatchObject({ code: "BILLING_ADDRESS_REQUIRED", field: ["input", "billingAddress"] });
    const after = await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } });
    expect(after).toEqual(before);
    expect(after.billingModel).toBe("PREPAY_MANDATE");

    // Creating a postpaid mandate without an address is refused as a whole too.
    const fresh = uniqueId();
    await expect(upsertMandate(b.ctx, { id: fresh, name: "Fresh", billingModel: "CREDIT_POSTPAY" })).rejects.toMatchObject({
      code: "BILLING_ADDRESS_REQUIRED",
    });
    expect(await db.prisma.mandate.count({ where: { id: fresh } })).toBe(0);

    // With an address in the same update it is accepted.
    const ok = await updateSettings(b.ctx, {
      mandateId,
      billingModel: "CREDIT_POSTPAY",
      billingAddress: { company: "Test AG", street: "Weg 1", zip: "3000", city: "Bern", country: "ch" },
    });
    expect(ok.billingModel).toBe("CREDIT_POSTPAY");
    expect(ok.billingAddress).toMatchObject({ country: "CH" });
  });

  it("the database refuses to UPDATE or DELETE a ledger row", async () => {
    const b = testBilling(db.prisma);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { transaction } = await creditAccount(b.ctx, { mandateId, amount: "12.5", description: "top-up", idempotencyKey: "c" });
    const id = transaction!.id;
    const attempts = [
      `UPDATE "Transaction" SET "amount" = 1000, "delta" = 1000, "balanceAfter" = 1000 WHERE "id" = $1`,
      `UPDATE "Transaction" SET "description" = 'edited' WHERE "id" = $1`,
      `DELETE FROM "Transaction" WHERE "id" = $1`,
    ];
    for (const sql of attempts) {
      // The statement itself is valid (EXPLAIN plans it without running triggers)...
      await db.prisma.$executeRawUnsafe(`EXPLAIN ${sql}`, id);
      // ...and running it is refused by the append-only trigger.
      const error = await db.prisma.$executeRawUnsafe(sql, id).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, sql).not.toBeNull();
      expect(databaseError(error), sql).toMatchObject({ code: "23001", message: expect.stringMatching(/append-only \((UPDATE|DELETE) refused\)/) });
    }
    await expect(db.prisma.transaction.delete({ where: { id } })).rejects.toThrow();
    await expect(db.prisma.transaction.update({ where: { id }, data: { description: "edited" } })).rejects.toThrow();
    const row = await db.prisma.transaction.findUniqueOrThrow({ where: { id } });
    expect(row.amount.toFixed(6)).toBe("12.500000");
    expect(row.description).toBe("top-up");
    await expectLedgerInvariants(db.prisma);
  });
});

/** SQLSTATE and message of a database error, as the driver adapter reports them. */
function databaseError(error: unknown): { code?: string; message?: string } {
  const cause = (error as { meta?: { driverAdapterError?: { cause?: { code?: string; originalCode?: string; message?: string; originalMessage?: string } } } })
    ?.meta?.driverAdapterError?.cause;
  return { code: cause?.originalCode ?? cause?.code, message: cause?.originalMessage ?? cause?.message ?? (error as Error)?.message };
}
