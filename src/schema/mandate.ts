import type { Mandate as MandateRow } from "@prisma/client";
import { upsertMandate } from "../billing/mandates/mandates.js";
import { can } from "../auth.js";
import { builder } from "../builder.js";
import { connectionType, decodeCursor, encodeCursor, pageCost, pageSize, toConnection } from "./connection.js";
import { rows } from "./cost.js";
import { query } from "./guard.js";
import { BillingModel, Locale } from "./enums.js";
import { BillingAddressInput } from "./settings.js";
import { payload, payloadType } from "./errors.js";

const autoTopUpsPage = (first: number | null | undefined) => Math.min(Math.max(first ?? 10, 0), 100);

export const Mandate = builder.prismaObject("Mandate", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    language: t.expose("language", { type: Locale, description: "The language of the mandate's emails and reports." }),
    settings: t.relation("settings", {
      nullable: false,
      onNull: "error",
      authScopes: (mandate) => ({ mandateAdmin: mandate.id }),
    }),
    autoTopUps: t.relation("autoTopUps", {
      description: "The mandate's latest automatic top-ups, newest first (first: at most 100).",
      args: { first: t.arg.int({ defaultValue: 10 }) },
      // Loaded with the mandate's own query (no query per mandate in a list).
      query: (args) => ({ orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: autoTopUpsPage(args.first) }),
      complexity: (args, ctx, field) => rows(autoTopUpsPage(args.first), ctx, field),
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
    billingAddress: t.field({ type: BillingAddressInput, description: "Needed by CREDIT_POSTPAY; absent: the stored one stays." }),
    language: t.field({ type: Locale, description: "Of the mandate's emails and reports; a new mandate's is EN when absent." }),
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

/** Text that an ILIKE pattern matches as it is (backslash is PostgreSQL's default LIKE escape). */
export const likeLiteral = (text: string) => text.replace(/[\\%_]/g, "\\$&");

const MandateConnection = connectionType<MandateRow>("Mandate", Mandate);

builder.queryField("mandates", (t) =>
  t.field({
    type: MandateConnection,
    description: "Every mandate for a system admin; otherwise the caller's own.",
    args: { first: t.arg.int(), after: t.arg.string(), search: t.arg.string() },
    complexity: pageCost,
    authScopes: { authenticated: true },
    resolve: (_root, args, ctx) =>
      query(async () => {
        const size = pageSize(args.first);
        const after = args.after ? decodeCursor(args.after, ["id"]).id : null;
        const visible = can.administerSystem(ctx.caller)
          ? {}
          : { id: { in: (ctx.caller?.mandateIds ?? []).filter((id) => can.enterMandate(ctx.caller, id)) } };
        const search = args.search?.trim();
        // Literal text: Prisma's contains is an ILIKE, whose % _ and \ would be wildcards.
        const contains = search ? { contains: likeLiteral(search), mode: "insensitive" as const } : null;
        const where = { ...visible, ...(contains ? { OR: [{ id: contains }, { name: contains }] } : {}) };
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
