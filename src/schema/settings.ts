import { updateSettings } from "../billing/index.js";
import { builder } from "../builder.js";
import { can } from "../auth.js";
import { payload, payloadType } from "./errors.js";
import { forbidden } from "./guard.js";
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

const BillingAddressInput = builder.inputType("BillingAddressInput", {
  fields: (t) => ({
    company: t.string({ required: true }),
    street: t.string({ required: true }),
    zip: t.string({ required: true }),
    city: t.string({ required: true }),
    country: t.field({ type: "CountryCode", required: true }),
    vatNumber: t.string(),
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
