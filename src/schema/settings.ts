import type { Prisma } from "@prisma/client";
import { updateSettings } from "../billing/mandates/settings.js";
import { builder } from "../builder.js";
import { can } from "../auth.js";
import { payload, payloadType } from "./errors.js";
import { forbidden } from "./guard.js";
import { AutoTopUpStatus, BillingModel, Locale } from "./enums.js";
import { type BillingAddress as Address } from "../billing/mandates/settings.js";

export const BillingAddress = builder.objectRef<Address>("BillingAddress").implement({
  fields: (t) => ({
    company: t.exposeString("company"),
    street: t.exposeString("street"),
    zip: t.exposeString("zip"),
    city: t.exposeString("city"),
    country: t.expose("country", { type: "CountryCode" }),
    vatNumber: t.exposeString("vatNumber", { nullable: true }),
  }),
});

export const AutoTopUp = builder.prismaObject("AutoTopUp", {
  description: "One automatic top-up: an off-session charge of the mandate's saved card.",
  fields: (t) => ({
    id: t.exposeID("id"),
    accountId: t.exposeID("accountId"),
    amount: t.expose("amount", { type: "Decimal" }),
    status: t.expose("status", { type: AutoTopUpStatus }),
    failureMessage: t.exposeString("failureMessage", {
      nullable: true,
      description: "Why the payment failed, as the payment provider said.",
    }),
    paymentIntentId: t.exposeString("paymentIntentId", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    closedAt: t.expose("closedAt", { type: "DateTime", nullable: true }),
  }),
});

interface AutoTopUpView {
  enabled: boolean;
  belowAmount: Prisma.Decimal | null;
  topUpAmount: Prisma.Decimal | null;
  monthlyCap: Prisma.Decimal | null;
  paymentMethodSaved: boolean;
}

const AutoTopUpSettings = builder.objectRef<AutoTopUpView>("AutoTopUpSettings").implement({
  description:
    "When what an account may spend falls below belowAmount, the mandate's saved card is charged topUpAmount, one payment at a time and at most monthlyCap per calendar month. The attempts: Mandate.autoTopUps.",
  fields: (t) => ({
    enabled: t.exposeBoolean("enabled"),
    belowAmount: t.expose("belowAmount", { type: "Decimal", nullable: true }),
    topUpAmount: t.expose("topUpAmount", { type: "Decimal", nullable: true }),
    monthlyCap: t.expose("monthlyCap", { type: "Decimal", nullable: true }),
    paymentMethodSaved: t.exposeBoolean("paymentMethodSaved", {
      description: "Whether a card is saved (by a checkout top-up); automatic top-up can only be enabled then.",
    }),
  }),
});

export const Settings = builder.prismaObject("Settings", {
  fields: (t) => ({
    mandateId: t.exposeID("mandateId"),
    billingModel: t.expose("billingModel", { type: BillingModel }),
    defaultUserCredit: t.expose("defaultUserCredit", { type: "Decimal" }),
    warningThresholdPercent: t.expose("warningThresholdPercent", { type: "Decimal" }),
    blockOnZeroBalance: t.exposeBoolean("blockOnZeroBalance"),
    billingAddress: t.field({
      type: BillingAddress,
      nullable: true,
      resolve: (settings) => (settings.billingAddress as Address | null) ?? null,
    }),
    notifyEmails: t.field({ type: ["EmailAddress"], resolve: (settings) => settings.notifyEmails }),
    notifyOnWarning: t.exposeBoolean("notifyOnWarning"),
    allowedProviders: t.stringList({
      nullable: true,
      description: "Providers this mandate may use; null means all.",
      resolve: (settings) => (settings.allowedProviders as string[] | null) ?? null,
    }),
    autoTopUp: t.field({
      type: AutoTopUpSettings,
      select: { mandate: { select: { stripePaymentMethodId: true } } },
      resolve: (settings) => ({
        enabled: settings.autoTopUpEnabled,
        belowAmount: settings.autoTopUpBelow,
        topUpAmount: settings.autoTopUpAmount,
        monthlyCap: settings.autoTopUpMonthlyCap,
        paymentMethodSaved: !!settings.mandate.stripePaymentMethodId,
      }),
    }),
  }),
});

builder.queryField("settings", (t) =>
  t.prismaField({
    type: "Settings",
    args: { mandateId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ mandateAdmin: String(args.mandateId) }),
    resolve: (query, _root, args, ctx) => ctx.db.settings.findUniqueOrThrow({ ...query, where: { mandateId: String(args.mandateId) } }),
  }),
);

export const BillingAddressInput = builder.inputType("BillingAddressInput", {
  fields: (t) => ({
    company: t.string({ required: true }),
    street: t.string({ required: true }),
    zip: t.string({ required: true }),
    city: t.string({ required: true }),
    country: t.field({ type: "CountryCode", required: true }),
    vatNumber: t.string(),
  }),
});

const AutoTopUpInput = builder.inputType("AutoTopUpInput", {
  description: "Omitted amounts keep their stored value; enabling needs all three and a saved card.",
  fields: (t) => ({
    enabled: t.boolean({ required: true }),
    belowAmount: t.field({ type: "Decimal" }),
    topUpAmount: t.field({ type: "Decimal", description: "Whole rappen, at least 5 CHF and at most the configured top-up maximum." }),
    monthlyCap: t.field({
      type: "Decimal",
      description: "Most that automatic top-ups may charge in a calendar month (billing time zone).",
    }),
  }),
});

const UpdateSettingsInput = builder.inputType("UpdateSettingsInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    billingModel: t.field({ type: BillingModel }),
    defaultUserCredit: t.field({ type: "Decimal" }),
    warningThresholdPercent: t.field({ type: "Decimal" }),
    blockOnZeroBalance: t.boolean(),
    billingAddress: t.field({ type: BillingAddressInput }),
    notifyEmails: t.field({ type: ["EmailAddress"] }),
    notifyOnWarning: t.boolean(),
    allowedProviders: t.stringList({ description: "Providers this mandate may use; an explicit null allows all again." }),
    autoTopUp: t.field({ type: AutoTopUpInput }),
    language: t.field({ type: Locale, description: "Of the mandate's emails and reports (Mandate.language)." }),
  }),
});

const SettingsPayload = payloadType<{ settings: typeof Settings.$inferType }>("SettingsPayload", (t) => ({
  settings: t.field({ type: Settings, nullable: true, resolve: (p) => p.settings ?? null }),
}));

builder.mutationField("updateSettings", (t) =>
  t.field({
    type: SettingsPayload,
    args: { input: t.arg({ type: UpdateSettingsInput, required: true }) },
    authScopes: (_root, { input }) => ({ mandateAdmin: String(input.mandateId) }),
    resolve: (_root, { input }, ctx) => {
      const mandateId = String(input.mandateId);
      const given = Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined);
      if (!can.changeSettings(ctx.caller, mandateId, given)) {
        throw forbidden("The billing model, default user credit and blockOnZeroBalance create money: only a system admin may change them");
      }
      return payload(async () => ({
        settings: await updateSettings(ctx.billing, {
          ...input,
          mandateId,
          // An explicit null means "every provider"; an absent field leaves them as they are.
          allowAllProviders: "allowedProviders" in input && input.allowedProviders === null,
        }),
      }));
    },
  }),
);
