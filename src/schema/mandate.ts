import type { Mandate as MandateRow } from "@prisma/client";
import { upsertMandate } from "../billing/index.js";
import { builder } from "../builder.js";
import { BillingModel } from "./enums.js";
import { payload, payloadType } from "./errors.js";

export const Mandate = builder.prismaObject("Mandate", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    settings: t.relation("settings", {
      nullable: false,
      onNull: "error",
      authScopes: (mandate) => ({ mandateAdmin: mandate.id }),
    }),
  }),
});

builder.queryField("mandate", (t) =>
  t.prismaField({
    type: "Mandate",
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    // A mandate the caller does not belong to looks exactly like a missing one.
    authScopes: (_root, args) => ({ mandateMember: String(args.id) }),
    unauthorizedResolver: () => null,
    resolve: (query, _root, args, ctx) => ctx.db.mandate.findUnique({ ...query, where: { id: String(args.id) } }),
  }),
);

const UpsertMandateInput = builder.inputType("UpsertMandateInput", {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ required: true }),
    billingModel: t.field({ type: BillingModel }),
  }),
});

const MandatePayload = payloadType<{ mandate: MandateRow }>("MandatePayload", (t) => ({
  mandate: t.field({ type: Mandate, nullable: true, resolve: (p) => p.mandate ?? null }),
}));

builder.mutationField("upsertMandate", (t) =>
  t.field({
    type: MandatePayload,
    args: { input: t.arg({ type: UpsertMandateInput, required: true }) },
    authScopes: { sysadmin: true },
    resolve: (_root, { input }, ctx) =>
      payload(async () => ({ mandate: await upsertMandate(ctx.billing, { ...input, id: String(input.id) }) })),
  }),
);
