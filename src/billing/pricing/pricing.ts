// Pricing: providers publish USD list prices; the customer pays the USD cost
// converted to CHF plus the markup. base = round(usd x rate),
// customer = round(usd x rate x (1 + markup/100)), each rounded once, half up,
// to micro-CHF from the exact product.
import type { Price } from "@prisma/client";
import type { Db } from "../../db/open.js";
import type { BillingContext } from "../shared/context.js";
import { BillingError, validation } from "../shared/errors.js";
import { assertWithinMaxAmount, Decimal, formatMoney, parseNonNegativeMoney, roundMoney, type DecimalInput } from "../shared/money.js";
import { identifier, requiredText } from "../shared/validation.js";

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
export function usdCost(
  price: Pick<Price, "inputPerMillionTokensUsd" | "outputPerMillionTokensUsd" | "perRequestUsd">,
  usage: UsageAmounts,
): Decimal {
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

export async function findPrice(db: Db, provider: string, model: string | null | undefined): Promise<Price | null> {
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

export async function quote(ctx: BillingContext, input: { provider: string; model: string; usage: UsageAmounts }): Promise<Quote> {
  const usage = parseUsage(input.usage, ["input", "usage"]);
  const price = await findPrice(ctx.db, input.provider, input.model);
  if (!price) throw unknownPrice(input.provider, input.model, ["input", "model"]);
  return priceQuote(ctx, price, usage);
}

/**
 * What a call costs, as the caller gave it: an explicit cost (it wins), or
 * a usage to price from the catalog. Validated before any database work;
 * `content` is what a replay compares (what was sent, never the price).
 */
export interface CallCost {
  cost: Decimal | null;
  usage: Required<{ [K in keyof UsageAmounts]: number }> | null;
}

/** The call's cost as given; null when it gives neither a cost nor a usage. */
export function parseCallCost(call: { cost?: DecimalInput | null; usage?: UsageAmounts | null }, fields: CostFields): CallCost | null {
  const cost = call.cost === null || call.cost === undefined ? null : parseNonNegativeMoney(call.cost, fields.cost);
  const usage = call.usage ? parseUsage(call.usage, fields.usage) : null;
  if (cost === null && usage === null) return null;
  return { cost, usage: cost === null ? usage : null };
}

/** The same, where a cost is required: says which inputs give one. */
export function requireCallCost(
  call: { cost?: DecimalInput | null; usage?: UsageAmounts | null },
  fields: CostFields,
  why: string,
): CallCost {
  const parsed = parseCallCost(call, fields);
  if (!parsed) throw validation(`Give ${fields.usage.at(-1)} (priced from the catalog) or ${fields.cost.at(-1)}: ${why}`, fields.usage);
  return parsed;
}

export interface CostFields {
  cost: string[];
  usage: string[];
}

/** The hashable content of a call's cost: the explicit cost as a canonical amount, or the usage counts. */
export function callCostContent(call: CallCost | null): Record<string, unknown> | null {
  if (!call) return null;
  return call.cost !== null ? { cost: formatMoney(call.cost) } : { usage: call.usage };
}

/**
 * The customer's cost of a call: the explicit cost, or the usage priced with
 * `price` (the catalog row, read with the account); without a price it is
 * UNKNOWN_PRICE, never a free call. A computed cost beyond MAX_AMOUNT is
 * refused like a typed one.
 */
export function costOf(
  ctx: Pick<BillingContext, "usdToChf" | "markupPercent">,
  call: CallCost,
  price: Price | null,
  named: { provider: string; model: string | null | undefined },
  fields: CostFields,
): Decimal {
  if (call.cost !== null) return call.cost;
  if (!price) throw unknownPrice(named.provider, named.model, fields.usage);
  return assertWithinMaxAmount(priceQuote(ctx, price, call.usage!).costChf, fields.usage, "The cost of this usage");
}

export interface PriceInput {
  provider: string;
  model: string;
  inputPerMillionTokensUsd: DecimalInput;
  outputPerMillionTokensUsd: DecimalInput;
  perRequestUsd: DecimalInput;
}

export async function upsertPrice(db: Db, input: PriceInput): Promise<Price> {
  const provider = identifier(requiredText(input.provider, ["input", "provider"]), ["input", "provider"], "provider").toLowerCase();
  const model = identifier(requiredText(input.model, ["input", "model"]), ["input", "model"], "model");
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
  {
    provider: "openai",
    model: "text-embedding-3-small",
    inputPerMillionTokensUsd: "0.02",
    outputPerMillionTokensUsd: "0",
    perRequestUsd: "0",
  },
  // Perplexity: token prices plus a request fee (low search context size)
  { provider: "perplexity", model: "sonar", inputPerMillionTokensUsd: "1", outputPerMillionTokensUsd: "1", perRequestUsd: "0.005" },
  { provider: "perplexity", model: "sonar-pro", inputPerMillionTokensUsd: "3", outputPerMillionTokensUsd: "15", perRequestUsd: "0.006" },
  {
    provider: "perplexity",
    model: "sonar-reasoning-pro",
    inputPerMillionTokensUsd: "2",
    outputPerMillionTokensUsd: "8",
    perRequestUsd: "0.006",
  },
  {
    provider: "perplexity",
    model: "sonar-deep-research",
    inputPerMillionTokensUsd: "2",
    outputPerMillionTokensUsd: "8",
    perRequestUsd: "0.005",
  },
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
