// Pricing: providers publish USD list prices; the customer pays the USD cost
// converted to CHF plus the markup. base = round(usd x rate),
// customer = round(usd x rate x (1 + markup/100)), each rounded once, half up,
// to micro-CHF from the exact product.
import type { Price } from "@prisma/client";
import type { Db } from "../db.js";
import type { BillingContext, Tx } from "./context.js";
import { BillingError, validation } from "./errors.js";
import { Decimal, formatMoney, parseNonNegativeMoney, roundMoney, type DecimalInput } from "./money.js";
import { requiredText } from "./ledger.js";

export interface UsageAmounts {
  inputTokens?: number | null;
  outputTokens?: number | null;
  /** Number of requests; an AI call is one request unless told otherwise. */
  requests?: number | null;
}

export interface Quote {
  provider: string;
  model: string;
  baseCostChf: Decimal;
  costChf: Decimal;
  markupPercent: Decimal;
  usdToChf: Decimal;
}

const MILLION = new Decimal(1_000_000);

export function parseUsage(usage: UsageAmounts, field: string[]): Required<{ [K in keyof UsageAmounts]: number }> {
  const count = (value: number | null | undefined, name: string, fallback: number) => {
    if (value === null || value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 0) throw validation(`${name} must be a non-negative integer`, [...field, name]);
    return value;
  };
  return {
    inputTokens: count(usage.inputTokens, "inputTokens", 0),
    outputTokens: count(usage.outputTokens, "outputTokens", 0),
    requests: count(usage.requests, "requests", 1),
  };
}

/** The provider's cost of a usage in USD, exact. */
export function usdCost(price: Pick<Price, "inputPerMillionTokensUsd" | "outputPerMillionTokensUsd" | "perRequestUsd">, usage: UsageAmounts): Decimal {
  const u = parseUsage(usage, ["usage"]);
  return new Decimal(price.inputPerMillionTokensUsd.toString())
    .times(u.inputTokens)
    .plus(new Decimal(price.outputPerMillionTokensUsd.toString()).times(u.outputTokens))
    .dividedBy(MILLION)
    .plus(new Decimal(price.perRequestUsd.toString()).times(u.requests));
}

export function priceQuote(
  ctx: Pick<BillingContext, "usdToChf" | "markupPercent">,
  price: Pick<Price, "provider" | "model" | "inputPerMillionTokensUsd" | "outputPerMillionTokensUsd" | "perRequestUsd">,
  usage: UsageAmounts,
): Quote {
  const chf = usdCost(price, usage).times(ctx.usdToChf);
  return {
    provider: price.provider,
    model: price.model,
    baseCostChf: roundMoney(chf),
    costChf: roundMoney(chf.times(ctx.markupPercent.plus(100)).dividedBy(100)),
    markupPercent: ctx.markupPercent,
    usdToChf: ctx.usdToChf,
  };
}

export async function findPrice(db: Db | Tx, provider: string, model: string | null | undefined): Promise<Price | null> {
  if (!model) return null;
  return db.price.findUnique({ where: { provider_model: { provider: provider.toLowerCase(), model } } });
}

function unknownPrice(provider: string, model: string | null | undefined, field: string[]) {
  return new BillingError(
    "UNKNOWN_PRICE",
    `No price for ${provider}${model ? `/${model}` : ""}: add it to the catalog or pass an explicit cost`,
    field,
  );
}

export async function quote(
  ctx: BillingContext,
  input: { provider: string; model: string; usage: UsageAmounts },
): Promise<Quote> {
  const price = await findPrice(ctx.db, input.provider, input.model);
  if (!price) throw unknownPrice(input.provider, input.model, ["input", "model"]);
  parseUsage(input.usage, ["input", "usage"]);
  return priceQuote(ctx, price, input.usage);
}

/**
 * The customer's cost of a call: an explicit cost wins over the catalog;
 * without either it is UNKNOWN_PRICE, never a free call.
 */
export async function resolveCost(
  ctx: BillingContext,
  db: Db | Tx,
  call: { provider: string; model: string | null | undefined; cost?: DecimalInput | null; usage?: UsageAmounts | null },
  fields: { cost: string[]; usage: string[] },
): Promise<Decimal> {
  if (call.cost !== null && call.cost !== undefined) return parseNonNegativeMoney(call.cost, fields.cost);
  if (!call.usage) throw unknownPrice(call.provider, call.model, fields.cost);
  parseUsage(call.usage, fields.usage);
  const price = await findPrice(db, call.provider, call.model);
  if (!price) throw unknownPrice(call.provider, call.model, fields.usage);
  return priceQuote(ctx, price, call.usage).costChf;
}

export interface PriceInput {
  provider: string;
  model: string;
  inputPerMillionTokensUsd: DecimalInput;
  outputPerMillionTokensUsd: DecimalInput;
  perRequestUsd: DecimalInput;
}

export async function upsertPrice(db: Db, input: PriceInput): Promise<Price> {
  const provider = requiredText(input.provider, ["input", "provider"]).toLowerCase();
  const model = requiredText(input.model, ["input", "model"]);
  const data = {
    inputPerMillionTokensUsd: formatMoney(parseNonNegativeMoney(input.inputPerMillionTokensUsd, ["input", "inputPerMillionTokensUsd"])),
    outputPerMillionTokensUsd: formatMoney(parseNonNegativeMoney(input.outputPerMillionTokensUsd, ["input", "outputPerMillionTokensUsd"])),
    perRequestUsd: formatMoney(parseNonNegativeMoney(input.perRequestUsd, ["input", "perRequestUsd"])),
  };
  return db.price.upsert({ where: { provider_model: { provider, model } }, create: { provider, model, ...data }, update: data });
}

export async function listPrices(db: Db, provider?: string | null): Promise<Price[]> {
  return db.price.findMany({
    where: provider ? { provider: provider.toLowerCase() } : {},
    orderBy: [{ provider: "asc" }, { model: "asc" }],
  });
}

/**
 * List prices as the providers publish them (USD; per million tokens, per
 * request), late 2026. Seeded once; admins keep them current with upsertPrice.
 */
export const DEFAULT_PRICE_CATALOG: PriceInput[] = [
  // Anthropic
  { provider: "anthropic", model: "claude-opus-4-5", inputPerMillionTokensUsd: "5", outputPerMillionTokensUsd: "25", perRequestUsd: "0" },
  { provider: "anthropic", model: "claude-opus-4-1", inputPerMillionTokensUsd: "15", outputPerMillionTokensUsd: "75", perRequestUsd: "0" },
  { provider: "anthropic", model: "claude-sonnet-4-5", inputPerMillionTokensUsd: "3", outputPerMillionTokensUsd: "15", perRequestUsd: "0" },
  { provider: "anthropic", model: "claude-haiku-4-5", inputPerMillionTokensUsd: "1", outputPerMillionTokensUsd: "5", perRequestUsd: "0" },
  // OpenAI
  { provider: "openai", model: "gpt-5", inputPerMillionTokensUsd: "1.25", outputPerMillionTokensUsd: "10", perRequestUsd: "0" },
  { provider: "openai", model: "gpt-5-mini", inputPerMillionTokensUsd: "0.25", outputPerMillionTokensUsd: "2", perRequestUsd: "0" },
  { provider: "openai", model: "gpt-5-nano", inputPerMillionTokensUsd: "0.05", outputPerMillionTokensUsd: "0.4", perRequestUsd: "0" },
  { provider: "openai", model: "gpt-4.1", inputPerMillionTokensUsd: "2", outputPerMillionTokensUsd: "8", perRequestUsd: "0" },
  { provider: "openai", model: "gpt-4.1-mini", inputPerMillionTokensUsd: "0.4", outputPerMillionTokensUsd: "1.6", perRequestUsd: "0" },
  { provider: "openai", model: "gpt-4o", inputPerMillionTokensUsd: "2.5", outputPerMillionTokensUsd: "10", perRequestUsd: "0" },
  { provider: "openai", model: "gpt-4o-mini", inputPerMillionTokensUsd: "0.15", outputPerMillionTokensUsd: "0.6", perRequestUsd: "0" },
  { provider: "openai", model: "text-embedding-3-small", inputPerMillionTokensUsd: "0.02", outputPerMillionTokensUsd: "0", perRequestUsd: "0" },
  // Perplexity: token prices plus a request fee (low search context size)
  { provider: "perplexity", model: "sonar", inputPerMillionTokensUsd: "1", outputPerMillionTokensUsd: "1", perRequestUsd: "0.005" },
  { provider: "perplexity", model: "sonar-pro", inputPerMillionTokensUsd: "3", outputPerMillionTokensUsd: "15", perRequestUsd: "0.006" },
  { provider: "perplexity", model: "sonar-reasoning-pro", inputPerMillionTokensUsd: "2", outputPerMillionTokensUsd: "8", perRequestUsd: "0.006" },
  { provider: "perplexity", model: "sonar-deep-research", inputPerMillionTokensUsd: "2", outputPerMillionTokensUsd: "8", perRequestUsd: "0.005" },
  // Tavily: per request (one credit = 0.008 USD pay-as-you-go)
  { provider: "tavily", model: "search-basic", inputPerMillionTokensUsd: "0", outputPerMillionTokensUsd: "0", perRequestUsd: "0.008" },
  { provider: "tavily", model: "search-advanced", inputPerMillionTokensUsd: "0", outputPerMillionTokensUsd: "0", perRequestUsd: "0.016" },
  { provider: "tavily", model: "extract-basic", inputPerMillionTokensUsd: "0", outputPerMillionTokensUsd: "0", perRequestUsd: "0.0016" },
];

/** Adds catalog prices that are missing; never overwrites an admin's price. */
export async function seedPriceCatalog(db: Db): Promise<void> {
  await db.price.createMany({
    data: DEFAULT_PRICE_CATALOG.map((p) => ({
      provider: p.provider,
      model: p.model,
      inputPerMillionTokensUsd: String(p.inputPerMillionTokensUsd),
      outputPerMillionTokensUsd: String(p.outputPerMillionTokensUsd),
      perRequestUsd: String(p.perRequestUsd),
    })),
    skipDuplicates: true,
  });
}
