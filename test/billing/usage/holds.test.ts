// Holds: expiry before and after the sweep, release, settle above the
// estimate, and the replay semantics of settle and authorize.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../../src/billing/ledger/credits.js";
import { authorizeUsage, checkBilling, expireHolds, releaseUsage, settleUsage } from "../../../src/billing/usage/holds.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, balanceOf } from "../../support/billing.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const openai = { provider: "openai", model: "gpt-5" } as const;

const balance = (mandateId: string, userId?: string) => balanceOf(db.prisma, mandateId, userId);

describe("holds", () => {
  it("an expired hold stops counting at its expiry, before expireHolds runs; expireHolds marks it EXPIRED", async () => {
    const b = testBilling(db);
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
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "3", expiresInSeconds: 1, idempotencyKey: "h" });
    b.clock.advance(1000);
    expect((await releaseUsage(b.ctx, { authorizationId: hold.authorization!.id })).status).toBe("EXPIRED");
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("10.000000");
  });

  it("settling a released hold is AUTHORIZATION_NOT_ACTIVE; releasing twice is harmless; a settled hold cannot be released", async () => {
    const b = testBilling(db);
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
    await expect(releaseUsage(b.ctx, { authorizationId: other.authorization!.id })).rejects.toMatchObject({
      code: "AUTHORIZATION_NOT_ACTIVE",
    });
    await expect(releaseUsage(b.ctx, { authorizationId: "no-such-hold" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(settleUsage(b.ctx, { authorizationId: "no-such-hold", cost: "1" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await balance(mandateId)).toBe("9.000000");
  });

  it("a settle above the estimate debits the real cost", async () => {
    const b = testBilling(db);
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
    const b = testBilling(db);
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
    const b = testBilling(db);
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
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const input = { mandateId, ...openai, estimatedCost: "4", idempotencyKey: "hold-1" };
    const first = await authorizeUsage(b.ctx, input);
    const again = await authorizeUsage(b.ctx, { ...input, estimatedCost: "4.000000", provider: "OpenAI" });
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.authorization?.id).toBe(first.authorization?.id);
    for (const changed of [{ estimatedCost: "5" }, { provider: "anthropic" }, { model: "gpt-5-mini" }, { expiresInSeconds: 120 }]) {
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
