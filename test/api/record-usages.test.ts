// recordUsages: the gateway's bulk usage over GraphQL. Each usage has its own
// key and its own result; a refused one never fails the others, a retry of the
// whole call books nothing twice, and a call over the limit books nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";
import { balanceOf, expectLedgerInvariants, uniqueId } from "../support/billing.js";

let app: TestApp;
const SERVICE = { roles: ["SERVICE" as const] };

beforeAll(async () => {
  app = await createTestApp({ USD_TO_CHF: "0.90", MARKUP_PERCENT: "50" });
});
afterAll(async () => {
  await app?.close();
});

const RECORD_MANY = `mutation($inputs: [RecordUsageInput!]!) { recordUsages(inputs: $inputs) {
  results { transaction { id amount } account { id balance } userErrors { code message field } }
  userErrors { code message field } } }`;

async function mandateWith(credit: string) {
  const id = uniqueId();
  const made = await app.gql(
    `mutation($id: ID!) { upsertMandate(input: { id: $id, name: "Bulk" }) { userErrors { code } } }`,
    { id },
    SYSADMIN,
  );
  expect(made.data.upsertMandate.userErrors).toEqual([]);
  const credited = await app.gql(
    `mutation($id: ID!, $amount: Decimal!) { creditAccount(input: { mandateId: $id, amount: $amount, description: "Top-up", idempotencyKey: "initial" }) { userErrors { code } } }`,
    { id, amount: credit },
    SYSADMIN,
  );
  expect(credited.data.creditAccount.userErrors).toEqual([]);
  return id;
}

const usage = (mandateId: string, key: string, cost: string) => ({
  mandateId,
  provider: "openai",
  model: "gpt-5",
  cost,
  idempotencyKey: key,
});

describe("recordUsages", () => {
  it("books each usage alone: refusals carry their index, duplicates of a key answer as one, the others are booked", async () => {
    const a = await mandateWith("10");
    const b = await mandateWith("20");
    const inputs = [
      usage(a, "u-1", "1.5"),
      usage(a, "u-2", "-1"), // refused: a cost is never negative
      usage("no-such-mandate", "u-3", "1"),
      usage(b, "u-1", "2"), // the same key under another mandate is another usage
      usage(a, "u-1", "1.5"), // a duplicate of the first: the same transaction
      usage(a, "u-1", "9"), // the first's key with other content: a conflict
      { ...usage(a, "u-7", "0"), model: "" },
      usage(a, "u-8", "0.25"),
      { ...usage(a, "u-9", "1"), provider: "p".repeat(65) }, // refused by the input checks, alone
    ];
    const res = await app.gql(RECORD_MANY, { inputs }, SERVICE);
    expect(res.errors).toBeUndefined();
    const { results, userErrors } = res.data.recordUsages;
    expect(userErrors).toEqual([]);
    expect(results).toHaveLength(inputs.length);
    const codes = results.map((r: { userErrors: { code: string }[] }) => r.userErrors[0]?.code ?? "ok");
    expect(codes).toEqual([
      "ok",
      "INVALID_AMOUNT",
      "NOT_FOUND",
      "ok",
      "ok",
      "IDEMPOTENCY_CONFLICT",
      "VALIDATION_FAILED",
      "ok",
      "VALIDATION_FAILED",
    ]);
    expect(results[8].userErrors[0]).toMatchObject({
      field: ["inputs", "8", "provider"],
      message: expect.stringMatching(/longer than 64/),
    });
    expect(results[1].userErrors[0].field).toEqual(["inputs", "1", "cost"]);
    expect(results[2].userErrors[0].field).toEqual(["inputs", "2", "mandateId"]);
    expect(results[6].userErrors[0].field).toEqual(["inputs", "6", "model"]);
    expect(results[1].transaction).toBeNull();
    expect(results[4].transaction.id).toBe(results[0].transaction.id);
    expect(results[3].transaction.id).not.toBe(results[0].transaction.id);
    expect(results[7]).toMatchObject({ transaction: { amount: "0.250000" }, account: { balance: "8.250000" } });
    expect(await balanceOf(app.db.prisma, a)).toBe("8.250000");
    expect(await balanceOf(app.db.prisma, b)).toBe("18.000000");

    // The whole call again (a gateway retrying after a timeout): the same answers, nothing booked twice.
    const again = await app.gql(RECORD_MANY, { inputs }, SERVICE);
    expect(again.data.recordUsages.results.map((r: { transaction: { id: string } | null }) => r.transaction?.id ?? null)).toEqual(
      results.map((r: { transaction: { id: string } | null }) => r.transaction?.id ?? null),
    );
    expect(await balanceOf(app.db.prisma, a)).toBe("8.250000");
    await expectLedgerInvariants(app.db.prisma, "Europe/Zurich", [a, b]);
  });

  it("takes 1000 usages across mandates in one call, and refuses 1001 before booking any", async () => {
    const mandates = await Promise.all(Array.from({ length: 4 }, () => mandateWith("100")));
    const inputs = Array.from({ length: 1000 }, (_, i) => usage(mandates[i % 4], `bulk-${i}`, "0.01"));
    const res = await app.gql(RECORD_MANY, { inputs }, SERVICE);
    expect(res.errors).toBeUndefined();
    expect(res.data.recordUsages.results.filter((r: { userErrors: unknown[] }) => r.userErrors.length > 0)).toEqual([]);
    for (const m of mandates) expect(await balanceOf(app.db.prisma, m)).toBe("97.500000");

    const tooMany = [
      ...inputs.map((input) => ({ ...input, idempotencyKey: `more-${input.idempotencyKey}` })),
      usage(mandates[0], "one-too-many", "1"),
    ];
    const refused = await app.gql(RECORD_MANY, { inputs: tooMany }, SERVICE);
    expect(refused.data.recordUsages).toEqual({
      results: null,
      userErrors: [{ code: "VALIDATION_FAILED", message: expect.stringMatching(/at most 1000/), field: ["inputs"] }],
    });
    for (const m of mandates) expect(await balanceOf(app.db.prisma, m)).toBe("97.500000");
    await expectLedgerInvariants(app.db.prisma, "Europe/Zurich", mandates);
  });

  it("is the gateway's: a mandate's admin may not record usage", async () => {
    const a = await mandateWith("1");
    const res = await app.gql(RECORD_MANY, { inputs: [usage(a, "x", "0.5")] }, { roles: ["MANDATE_ADMIN"], mandateIds: [a] });
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(await balanceOf(app.db.prisma, a)).toBe("1.000000");
  });
});
