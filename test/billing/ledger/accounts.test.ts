// What each billing model may spend: postpay limits, UNLIMITED, disabled
// accounts, blockOnZeroBalance and the providers a mandate allows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../../src/billing/ledger/credits.js";
import { updateBillingAccount } from "../../../src/billing/mandates/accounts.js";
import { updateSettings } from "../../../src/billing/mandates/settings.js";
import { authorizeUsage, checkBilling, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import {
  createMandate,
  expectLedgerInvariants,
  testBilling,
  uniqueId,
  type TestBilling,
  balanceOf,
  warningsIn,
} from "../../support/billing.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const openai = { provider: "openai", model: "gpt-5" } as const;

const balance = (mandateId: string, userId?: string) => balanceOf(db.prisma, mandateId, userId);

/** Opens the mandate's account without moving money (a zero-cost usage books a DEBIT of 0). */
async function openAccountOf(b: TestBilling, mandateId: string, userId?: string) {
  const opened = await recordUsage(b.ctx, { mandateId, userId, ...openai, cost: "0", idempotencyKey: `open-${uniqueId()}` });
  expect(opened.transaction).toMatchObject({ transactionType: "DEBIT" });
  expect(opened.transaction!.amount.toFixed(6)).toBe("0.000000");
  return opened.accountId;
}

const warnings = warningsIn;

describe("what each billing model may spend", () => {
  it("CREDIT_POSTPAY may go down to -creditLimit and no further", async () => {
    const b = testBilling(db);
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
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "UNLIMITED");
    const check = await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "999999999" });
    expect(check).toMatchObject({ allowed: true, reason: null, available: null, billingModel: "UNLIMITED" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "500000", idempotencyKey: "big" });
    expect(hold.authorization).not.toBeNull();
    const settled = await settleUsage(b.ctx, {
      authorizationId: hold.authorization!.id,
      cost: "123.456789",
      metadata: { featureCode: "chat" },
    });
    const used = await recordUsage(b.ctx, {
      mandateId,
      provider: "anthropic",
      model: "x",
      cost: "0.5",
      metadata: { featureCode: "automation" },
      idempotencyKey: "u",
    });
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
    const b = testBilling(db);
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
    const b = testBilling(db);
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
    const b = testBilling(db);
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
    const b = testBilling(db);
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
    const denied = await authorizeUsage(b.ctx, {
      mandateId,
      provider: "Perplexity",
      model: "sonar",
      estimatedCost: "1",
      idempotencyKey: "h",
    });
    expect(denied.authorization).toBeNull();
    expect(denied.check.reason).toBe("PROVIDER_NOT_ALLOWED");
    const allowed = await authorizeUsage(b.ctx, {
      mandateId,
      provider: "ANTHROPIC",
      model: "claude-haiku-4-5",
      estimatedCost: "1",
      idempotencyKey: "h2",
    });
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
