import { builder } from "../builder.js";
import { BillingModel } from "./enums.js";
import type { BillingAddress as Address } from "../billing/index.js";

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
  }),
});

builder.queryField("settings", (t) =>
  t.prismaField({
    type: "Settings",
    args: { mandateId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ mandateAdmin: String(args.mandateId) }),
    resolve: (query, _root, args, ctx) =>
      ctx.db.settings.findUniqueOrThrow({ ...query, where: { mandateId: String(args.mandateId) } }),
  }),
);
