import type { Mandate as MandateRow } from "@prisma/client";
import { upsertMandate } from "../billing/mandates/mandates.js";
import { can } from "../auth.js";
import { builder } from "../builder.js";
import { connectionType, decodeCursor, encodeCursor, pageSize, toConnection } from "./connection.js";
import { query } from "./guard.js";
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
    autoTopUps: t.relation("autoTopUps", {
      description: "The mandate's latest automatic top-ups, newest first (first: at most 100).",
      args: { first: t.arg.int({ defaultValue: 10 }) },
      // Loaded with the mandate's own query (no query per mandate in a list).
      query: (args) => ({ orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: Math.min(Math.max(args.first ?? 10, 0), 100) }),
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
    unauthorizedResolver: (_root, _args, ctx, _info, error) => {
      if (!ctx.caller) throw error;
      return null;
    },
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

const MandateConnection = connectionType<MandateRow>("Mandate", Mandate);

builder.queryField("mandates", (t) =>
  t.field({
    type: MandateConnection,
    description: "Every mandate for a system admin; otherwise the caller's own.",
    args: { first: t.arg.int(), after: t.arg.string(), search: t.arg.string() },
    authScopes: { authenticated: true },
    resolve: (_root, args, ctx) =>
      query(async () => {
        const size = pageSize(args.first);
        const after = args.after ? decodeCursor(args.after, ["id"]).id : null;
        const visible = can.administerSystem(ctx.caller)
          ? {}
          : { id: { in: (ctx.caller?.mandateIds ?? []).filter((id) => can.enterMandate(ctx.caller, id)) } };
        const search = args.search?.trim();
        const where = {
          ...visible,
          ...(search
            ? { OR: [{ id: { contains: search, mode: "insensitive" as const } }, { name: { contains: search, mode: "insensitive" as const } }] }
            : {}),
        };
        const [rows, totalCount] = await Promise.all([
          ctx.db.mandate.findMany({ where: { AND: [where, after ? { id: { gt: after } } : {}] }, orderBy: { id: "asc" }, take: size + 1 }),
          ctx.db.mandate.count({ where }),
        ]);
        const nodes = rows.slice(0, size);
        return toConnection({
          nodes,
          cursors: nodes.map((m) => encodeCursor({ id: m.id })),
          totalCount,
          hasNextPage: rows.length > size,
          hasPreviousPage: after !== null,
        });
      }),
  }),
);
