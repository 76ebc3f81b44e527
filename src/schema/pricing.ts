import type { Price as PriceRow } from "@prisma/client";
import { listPrices, quote, upsertPrice, type Quote as QuoteShape } from "../billing/pricing/pricing.js";
import { builder } from "../builder.js";
import { payload, payloadType } from "./errors.js";
import { UsageInput } from "./gateway.js";
import { query } from "./guard.js";

const Price = builder.prismaObject("Price", {
  fields: (t) => ({
    provider: t.exposeString("provider"),
    model: t.exposeString("model"),
    inputPerMillionTokensUsd: t.expose("inputPerMillionTokensUsd", { type: "Decimal", description: "Provider list prices in USD." }),
    outputPerMillionTokensUsd: t.expose("outputPerMillionTokensUsd", { type: "Decimal" }),
    perRequestUsd: t.expose("perRequestUsd", { type: "Decimal" }),
  }),
});

const Quote = builder.objectRef<QuoteShape>("Quote").implement({
  fields: (t) => ({
    provider: t.exposeString("provider"),
    model: t.exposeString("model"),
    baseCostChf: t.expose("baseCostChf", { type: "Decimal", description: "Provider cost converted to CHF." }),
    costChf: t.expose("costChf", { type: "Decimal", description: "What the customer pays: base cost plus markup." }),
    markupPercent: t.expose("markupPercent", { type: "Decimal" }),
    usdToChf: t.expose("usdToChf", { type: "Decimal" }),
  }),
});

builder.queryField("prices", (t) =>
  t.prismaField({
    type: [Price],
    args: { provider: t.arg.string() },
    authScopes: { authenticated: true },
    resolve: (_q, _root, args, ctx) => listPrices(ctx.db, args.provider),
  }),
);

const QuoteInput = builder.inputType("QuoteInput", {
  fields: (t) => ({
    provider: t.string({ required: true }),
    model: t.string({ required: true }),
    usage: t.field({ type: UsageInput, required: true }),
  }),
});

builder.queryField("quote", (t) =>
  t.field({
    type: Quote,
    args: { input: t.arg({ type: QuoteInput, required: true }) },
    authScopes: { authenticated: true },
    resolve: (_root, { input }, ctx) => query(() => quote(ctx.billing, input)),
  }),
);

const UpsertPriceInput = builder.inputType("UpsertPriceInput", {
  fields: (t) => ({
    provider: t.string({ required: true }),
    model: t.string({ required: true }),
    inputPerMillionTokensUsd: t.field({ type: "Decimal", required: true }),
    outputPerMillionTokensUsd: t.field({ type: "Decimal", required: true }),
    perRequestUsd: t.field({ type: "Decimal", required: true }),
  }),
});

const PricePayload = payloadType<{ price: PriceRow }>("PricePayload", (t) => ({
  price: t.field({ type: Price, nullable: true, resolve: (p) => p.price ?? null }),
}));

builder.mutationField("upsertPrice", (t) =>
  t.field({
    type: PricePayload,
    args: { input: t.arg({ type: UpsertPriceInput, required: true }) },
    authScopes: { sysadmin: true },
    resolve: (_root, { input }, ctx) => payload(async () => ({ price: await upsertPrice(ctx.db, input) })),
  }),
);
