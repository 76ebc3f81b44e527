// Pricing: USD list prices -> CHF at the configured rate, plus the markup,
// computed exactly and rounded half up to micro-CHF once; explicit costs win;
// an unknown price is an error, never a free call; admins' prices survive seeding.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../../src/billing/ledger/credits.js";
import { DEFAULT_PRICE_CATALOG, quote, seedPriceCatalog, upsertPrice, type UsageAmounts } from "../../../src/billing/pricing/pricing.js";
import { Decimal } from "../../../src/billing/shared/money.js";
import { authorizeUsage, checkBilling, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, type TestBilling } from "../../support/billing.js";

let db: TestDatabase;
let t: TestBilling;

beforeAll(async () => {
  db = await createTestDatabase();
  t = testBilling(db); // defaults: 1 USD = 0.80 CHF, markup 50 %
  await seedPriceCatalog(db.prisma);
});
afterAll(async () => {
  await db?.close();
});

function withRates(usdToChf: string, markupPercent: string) {
  return testBilling(db, { usdToChf: new Decimal(usdToChf), markupPercent: new Decimal(markupPercent) }).ctx;
}

async function quoted(ctx: TestBilling["ctx"], provider: string, model: string, usage: UsageAmounts) {
  const q = await quote(ctx, { provider, model, usage });
  return { base: q.baseCostChf.toFixed(6), cost: q.costChf.toFixed(6) };
}

// ---------------------------------------------------------------------------
// An independent oracle in integers: prices and rates as exact fractions
// (BigInt), the customer price rounded half up once at the end.

/** "0.9137" -> [9137n, 10000n] */
function fraction(text: string): [bigint, bigint] {
  const [whole, part = ""] = text.split(".");
  const den = 10n ** BigInt(part.length);
  return [BigInt(whole + part), den];
}

/** round(num / den) half up, for num >= 0, as micro units. */
function halfUp(num: bigint, den: bigint): bigint {
  return (2n * num + den) / (2n * den);
}

function micros(value: bigint): string {
  const text = value.toString().padStart(7, "0");
  return `${text.slice(0, -6)}.${text.slice(-6)}`;
}

function oracle(
  price: { input: string; output: string; perRequest: string },
  usage: { inputTokens: number; outputTokens: number; requests: number },
  usdToChf: string,
  markupPercent: string,
) {
  // The provider's cost in units of 1e-12 USD: prices have at most 6 decimals.
  const perMillion = (p: string) => {
    const [n, d] = fraction(p);
    return (n * 1_000_000n) / d; // micro-USD per million tokens, exact
  };
  const usd12 =
    perMillion(price.input) * BigInt(usage.inputTokens) +
    perMillion(price.output) * BigInt(usage.outputTokens) +
    perMillion(price.perRequest) * BigInt(usage.requests) * 1_000_000n;
  const [rn, rd] = fraction(usdToChf);
  const [mn, md] = fraction(markupPercent);
  // CHF micro units = usd12 / 1e6 * rate; customer additionally * (100 + markup) / 100.
  const base = halfUp(usd12 * rn, rd * 1_000_000n);
  const cost = halfUp(usd12 * rn * (100n * md + mn), rd * 1_000_000n * 100n * md);
  return { base: micros(base), cost: micros(cost) };
}

describe("quotes", () => {
  it("are USD cost x usdToChf x (1 + markup/100), rounded half up once (1.5000045 -> 1.500005)", async () => {
    // gpt-5: 1.25 USD per million input tokens. 1,000,003 tokens = 1.25000375 USD
    // = 1.000003 CHF base; x 1.5 = 1.5000045 CHF: half up 1.500005 (half even or truncation: 1.500004).
    expect(await quoted(t.ctx, "openai", "gpt-5", { inputTokens: 1_000_003 })).toEqual({ base: "1.000003", cost: "1.500005" });
    // sonnet: 3 USD per million. One token: 0.0000024 CHF base -> 0.000002; customer 0.0000036 -> 0.000004.
    // Rounding the base first and marking that up would give 0.000003.
    expect(await quoted(t.ctx, "anthropic", "claude-sonnet-4-5", { inputTokens: 1 })).toEqual({ base: "0.000002", cost: "0.000004" });
    // A tie in the base as well: 4 tokens of gpt-5 at 0.5 CHF per USD = 0.0000025 CHF -> 0.000003.
    expect(await quoted(withRates("0.5", "50"), "openai", "gpt-5", { inputTokens: 4 })).toEqual({ base: "0.000003", cost: "0.000004" });
    // gpt-5-nano, 0.05 USD per million: 8 tokens cost 0.00000048 CHF -> 0.000000, 9 tokens 0.00000054 -> 0.000001.
    expect(await quoted(t.ctx, "openai", "gpt-5-nano", { inputTokens: 8 })).toEqual({ base: "0.000000", cost: "0.000000" });
    expect(await quoted(t.ctx, "openai", "gpt-5-nano", { inputTokens: 9 })).toEqual({ base: "0.000000", cost: "0.000001" });
  });

  it("show the base cost and the customer price; the markup and rate are the context's", async () => {
    const usage = { inputTokens: 12_345, outputTokens: 6_789 };
    // sonnet: (12345 x 3 + 6789 x 15) / 1e6 = 0.138870 USD
    expect(await quoted(t.ctx, "anthropic", "claude-sonnet-4-5", usage)).toEqual({ base: "0.111096", cost: "0.166644" });
    expect(await quoted(withRates("0.80", "0"), "anthropic", "claude-sonnet-4-5", usage)).toEqual({ base: "0.111096", cost: "0.111096" });
    expect(await quoted(withRates("0.80", "100"), "anthropic", "claude-sonnet-4-5", usage)).toEqual({ base: "0.111096", cost: "0.222192" });
    expect(await quoted(withRates("1", "50"), "anthropic", "claude-sonnet-4-5", usage)).toEqual({ base: "0.138870", cost: "0.208305" });
    const q = await quote(withRates("0.9137", "35.5"), { provider: "Anthropic", model: "claude-sonnet-4-5", usage });
    expect(q).toMatchObject({ provider: "anthropic", model: "claude-sonnet-4-5" });
    expect(q.usdToChf.toString()).toBe("0.9137");
    expect(q.markupPercent.toString()).toBe("35.5");
  });

  it("charge per request (Tavily) and per request plus tokens (Perplexity)", async () => {
    // 0.008 USD per search: 0.0064 CHF base, 0.0096 CHF to the customer; one request unless told otherwise.
    expect(await quoted(t.ctx, "tavily", "search-basic", {})).toEqual({ base: "0.006400", cost: "0.009600" });
    expect(await quoted(t.ctx, "tavily", "search-basic", { requests: 3 })).toEqual({ base: "0.019200", cost: "0.028800" });
    expect(await quoted(t.ctx, "tavily", "search-advanced", { requests: 2 })).toEqual({ base: "0.025600", cost: "0.038400" });
    expect(await quoted(t.ctx, "tavily", "extract-basic", { requests: 1 })).toEqual({ base: "0.001280", cost: "0.001920" });
    expect(await quoted(t.ctx, "tavily", "search-basic", { requests: 0 })).toEqual({ base: "0.000000", cost: "0.000000" });
    // sonar: 1 USD per million in and out, plus 0.005 USD per request: 0.007 USD.
    expect(await quoted(t.ctx, "perplexity", "sonar", { inputTokens: 1000, outputTokens: 1000 })).toEqual({
      base: "0.005600",
      cost: "0.008400",
    });
    // A usage at the catalog price books exactly the quote.
    const mandateId = await createMandate(t.ctx, "UNLIMITED");
    const used = await recordUsage(t.ctx, {
      mandateId,
      provider: "tavily",
      model: "search-advanced",
      usage: { requests: 5 },
      idempotencyKey: "u",
    });
    expect(used.transaction?.amount.toFixed(6)).toBe("0.096000");
  });

  it("agree with an integer oracle for random usages, prices and rates", async () => {
    const seed = process.env.SALDO_TEST_SEED ? Number(process.env.SALDO_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
    console.log(`[pricing] seed ${seed} (replay with SALDO_TEST_SEED=${seed})`);
    let state = seed >>> 0;
    const random = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 4294967296;
    };
    const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
    await upsertPrice(db.prisma, {
      provider: "oracle",
      model: "odd",
      inputPerMillionTokensUsd: "0.123457",
      outputPerMillionTokensUsd: "7.654321",
      perRequestUsd: "0.000013",
    });
    const prices = await db.prisma.price.findMany();
    const rates: [string, string][] = [
      ["0.80", "50"],
      ["0.9137", "35.5"],
      ["1", "0"],
      ["0.5", "50"],
      ["0.876543", "12.345678"],
    ];
    for (let i = 0; i < 300; i++) {
      const price = prices[int(0, prices.length - 1)];
      const [usdToChf, markup] = rates[int(0, rates.length - 1)];
      const usage = { inputTokens: int(0, 3) === 0 ? int(0, 9) : int(0, 2_000_000), outputTokens: int(0, 500_000), requests: int(0, 3) };
      const expected = oracle(
        {
          input: price.inputPerMillionTokensUsd.toFixed(6),
          output: price.outputPerMillionTokensUsd.toFixed(6),
          perRequest: price.perRequestUsd.toFixed(6),
        },
        usage,
        usdToChf,
        markup,
      );
      const got = await quoted(withRates(usdToChf, markup), price.provider, price.model, usage);
      expect(got, `${price.provider}/${price.model} ${JSON.stringify(usage)} at ${usdToChf}, ${markup} % (seed ${seed})`).toEqual(expected);
    }
  });
});

describe("costs of usages", () => {
  it("books the catalog price, and an explicit cost wins over the catalog", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    await creditAccount(t.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    const catalog = await recordUsage(t.ctx, {
      mandateId,
      provider: "OpenAI",
      model: "gpt-5",
      usage: { inputTokens: 1_000_003 },
      idempotencyKey: "u1",
    });
    expect(catalog.transaction?.amount.toFixed(6)).toBe("1.500005");
    const explicit = await recordUsage(t.ctx, {
      mandateId,
      provider: "openai",
      model: "gpt-5",
      usage: { inputTokens: 1_000_003 },
      cost: "0.42",
      idempotencyKey: "u2",
    });
    expect(explicit.transaction?.amount.toFixed(6)).toBe("0.420000");
    // Even for a model the catalog does not know.
    const unknownModel = await recordUsage(t.ctx, { mandateId, provider: "mystery", model: "m1", cost: "0.01", idempotencyKey: "u3" });
    expect(unknownModel.transaction?.amount.toFixed(6)).toBe("0.010000");

    // Holds and settlements price the same way.
    const hold = await authorizeUsage(t.ctx, {
      mandateId,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      estimatedUsage: { inputTokens: 12_345, outputTokens: 6_789 },
      idempotencyKey: "h",
    });
    expect(hold.authorization?.amount.toFixed(6)).toBe("0.166644");
    const settled = await settleUsage(t.ctx, { authorizationId: hold.authorization!.id, usage: { inputTokens: 1 } });
    expect(settled.transaction?.amount.toFixed(6)).toBe("0.000004");
    const hold2 = await authorizeUsage(t.ctx, {
      mandateId,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      estimatedCost: "2",
      estimatedUsage: { inputTokens: 1 },
      idempotencyKey: "h2",
    });
    expect(hold2.authorization?.amount.toFixed(6)).toBe("2.000000");
    const settled2 = await settleUsage(t.ctx, { authorizationId: hold2.authorization!.id, usage: { inputTokens: 1 }, cost: "1.25" });
    expect(settled2.transaction?.amount.toFixed(6)).toBe("1.250000");
    const check = await checkBilling(t.ctx, { mandateId, provider: "tavily", estimatedUsage: { requests: 1 }, model: "search-basic" });
    expect(check.requiredAmount.toFixed(6)).toBe("0.009600");
    expect((await db.prisma.billingAccount.findFirstOrThrow({ where: { mandateId } })).balance.toFixed(6)).toBe("96.819991");
    await expectLedgerInvariants(db.prisma);
  });

  it("an unknown provider or model without a cost is UNKNOWN_PRICE and writes nothing", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_USER");
    const cases = [
      { provider: "mystery", model: "m1", usage: { inputTokens: 10 } },
      { provider: "openai", model: "gpt-99", usage: { inputTokens: 10 } },
      { provider: "openai", model: "gpt-5", usage: undefined }, // no usage and no cost: never a free call
    ];
    for (const [i, c] of cases.entries()) {
      const label = JSON.stringify(c);
      // Without usage or cost nothing can be priced: the message says which input is missing (never a free call).
      await expect(recordUsage(t.ctx, { mandateId, userId: "u", ...c, idempotencyKey: `u${i}` }), label).rejects.toMatchObject(
        c.usage ? { code: "UNKNOWN_PRICE" } : { code: "VALIDATION_FAILED", message: expect.stringMatching(/^Give usage .* or cost/) },
      );
      await expect(
        authorizeUsage(t.ctx, {
          mandateId,
          userId: "u",
          provider: c.provider,
          model: c.model,
          estimatedUsage: c.usage,
          idempotencyKey: `h${i}`,
        }),
        label,
      ).rejects.toMatchObject({ code: c.usage ? "UNKNOWN_PRICE" : "VALIDATION_FAILED" });
      if (c.usage) {
        await expect(
          checkBilling(t.ctx, { mandateId, userId: "u", provider: c.provider, model: c.model, estimatedUsage: c.usage }),
          label,
        ).rejects.toMatchObject({
          code: "UNKNOWN_PRICE",
        });
        await expect(quote(t.ctx, { provider: c.provider, model: c.model, usage: c.usage }), label).rejects.toMatchObject({
          code: "UNKNOWN_PRICE",
        });
      }
    }
    expect(await db.prisma.billingAccount.count({ where: { mandateId } })).toBe(0);
    expect(await db.prisma.transaction.count({ where: { mandateId } })).toBe(0);
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId } })).toBe(0);
    expect(await db.prisma.usageStatistics.count({ where: { mandateId } })).toBe(0);

    // Settling a hold of an unknown model by usage alone is refused too; the hold stays open.
    const hold = await authorizeUsage(t.ctx, {
      mandateId,
      userId: "u",
      provider: "mystery",
      model: "m1",
      estimatedCost: "1",
      idempotencyKey: "hx",
    });
    const accountId = hold.authorization!.accountId;
    const before = await db.prisma.transaction.count({ where: { accountId } });
    await expect(settleUsage(t.ctx, { authorizationId: hold.authorization!.id, usage: { inputTokens: 5 } })).rejects.toMatchObject({
      code: "UNKNOWN_PRICE",
    });
    expect(await db.prisma.transaction.count({ where: { accountId } })).toBe(before);
    expect((await db.prisma.usageAuthorization.findUniqueOrThrow({ where: { id: hold.authorization!.id } })).status).toBe("ACTIVE");
  });
});

describe("the price catalog", () => {
  const valid = { provider: "acme", model: "a1", inputPerMillionTokensUsd: "1", outputPerMillionTokensUsd: "2", perRequestUsd: "0" };

  it("upsertPrice rejects negative prices and more than 6 decimals with INVALID_AMOUNT, and keeps the old price", async () => {
    await upsertPrice(db.prisma, valid);
    const bad: [keyof typeof valid, string][] = [
      ["inputPerMillionTokensUsd", "-1"],
      ["outputPerMillionTokensUsd", "-0.000001"],
      ["perRequestUsd", "-5"],
      ["inputPerMillionTokensUsd", "0.0000001"],
      ["outputPerMillionTokensUsd", "1.1234567"],
      ["perRequestUsd", "0.0080001"],
      ["inputPerMillionTokensUsd", "1e-3"],
      ["inputPerMillionTokensUsd", "NaN"],
    ];
    for (const [field, value] of bad) {
      await expect(upsertPrice(db.prisma, { ...valid, [field]: value }), `${field}=${value}`).rejects.toMatchObject({
        code: "INVALID_AMOUNT",
        field: ["input", field],
      });
    }
    await expect(upsertPrice(db.prisma, { ...valid, model: " " })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    // Identifiers: storable and of bounded length (issue 12).
    await expect(upsertPrice(db.prisma, { ...valid, model: "m".repeat(129) })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      message: "model is longer than 128 characters",
    });
    await expect(upsertPrice(db.prisma, { ...valid, provider: "p".repeat(65) })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      field: ["input", "provider"],
    });
    await expect(upsertPrice(db.prisma, { ...valid, model: "a\u0000b" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      field: ["input", "model"],
    });
    const row = await db.prisma.price.findUniqueOrThrow({ where: { provider_model: { provider: "acme", model: "a1" } } });
    expect([row.inputPerMillionTokensUsd.toFixed(6), row.outputPerMillionTokensUsd.toFixed(6), row.perRequestUsd.toFixed(6)]).toEqual([
      "1.000000",
      "2.000000",
      "0.000000",
    ]);
    // Six decimals are fine; the provider is stored in lower case and a new price applies at once.
    await upsertPrice(db.prisma, { ...valid, provider: "ACME", inputPerMillionTokensUsd: "0.000001", perRequestUsd: "0.123456" });
    expect(await db.prisma.price.count({ where: { provider: "acme", model: "a1" } })).toBe(1);
    // 0.123456 USD x 0.8 = 0.0987648 -> 0.098765 base; x 1.5 = 0.1481472 -> 0.148147
    expect(await quoted(t.ctx, "acme", "a1", { requests: 1 })).toEqual({ base: "0.098765", cost: "0.148147" });
  });

  it("seedPriceCatalog adds what is missing and never overwrites an admin's price", async () => {
    await upsertPrice(db.prisma, {
      provider: "openai",
      model: "gpt-4.1",
      inputPerMillionTokensUsd: "2.5",
      outputPerMillionTokensUsd: "9",
      perRequestUsd: "0.001",
    });
    await db.prisma.price.delete({ where: { provider_model: { provider: "tavily", model: "extract-basic" } } });
    await seedPriceCatalog(db.prisma);
    await seedPriceCatalog(db.prisma);
    const admin = await db.prisma.price.findUniqueOrThrow({ where: { provider_model: { provider: "openai", model: "gpt-4.1" } } });
    expect([admin.inputPerMillionTokensUsd.toFixed(6), admin.outputPerMillionTokensUsd.toFixed(6), admin.perRequestUsd.toFixed(6)]).toEqual(
      ["2.500000", "9.000000", "0.001000"],
    );
    const restored = await db.prisma.price.findUniqueOrThrow({ where: { provider_model: { provider: "tavily", model: "extract-basic" } } });
    expect(restored.perRequestUsd.toFixed(6)).toBe("0.001600");
    for (const entry of DEFAULT_PRICE_CATALOG) {
      const row = await db.prisma.price.findUnique({ where: { provider_model: { provider: entry.provider, model: entry.model } } });
      expect(row, `${entry.provider}/${entry.model}`).not.toBeNull();
    }
    expect(await db.prisma.price.count({ where: { provider: { notIn: ["acme", "oracle"] } } })).toBe(DEFAULT_PRICE_CATALOG.length);
  });
});
