// The Pothos schema builder: plugins and scalars, no types (those live in
// src/schema/<domain>.ts). Scope-auth comes first so it guards every field;
// complexity gives every field its cost (src/schema/cost.ts).
import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import PrismaPlugin from "@pothos/plugin-prisma";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { Prisma } from "@prisma/client";
import { GraphQLError } from "graphql";
import { CountryCodeResolver, DateResolver, DateTimeResolver, EmailAddressResolver } from "graphql-scalars";
import { can } from "./auth.js";
import { type Decimal } from "./billing/shared/money.js";
import type { Context } from "./context.js";
import type PrismaTypes from "./generated/pothos-prisma-types.js";
import { defaultFieldCost } from "./schema/cost.js";
import InputChecksPlugin from "./schema/inputs.js";
import { getDatamodel } from "./generated/pothos-prisma-types.js";

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    authenticated: boolean;
    sysadmin: boolean;
    gateway: boolean;
    mandateAdmin: string;
    mandateMember: string;
  };
  Scalars: {
    Decimal: { Input: Decimal; Output: Decimal | Prisma.Decimal | string };
    DateTime: { Input: Date; Output: Date };
    Date: { Input: Date; Output: Date | string };
    EmailAddress: { Input: string; Output: string };
    CountryCode: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
  // Input checks last: they run after the caller is authorized (src/schema/inputs.ts).
  plugins: [ScopeAuthPlugin, PrismaPlugin, ComplexityPlugin, InputChecksPlugin],
  // Each field's cost (src/schema/cost.ts). The limit is checked once per
  // operation before it runs (useQueryCost in src/yoga.ts), not by the
  // plugin's own per-resolver check.
  complexity: { fieldComplexity: defaultFieldCost, disabled: true },
  scopeAuth: {
    authScopes: (ctx) => ({
      authenticated: ctx.caller !== null,
      sysadmin: can.administerSystem(ctx.caller),
      gateway: can.operateGateway(ctx.caller),
      mandateAdmin: (mandateId) => can.administerMandate(ctx.caller, mandateId),
      mandateMember: (mandateId) => can.enterMandate(ctx.caller, mandateId),
    }),
    unauthorizedError: (_parent, ctx) =>
      ctx.caller
        ? new GraphQLError("You are not allowed to do this", { extensions: { code: "FORBIDDEN" } })
        : new GraphQLError("Authentication required: send Authorization: Bearer <token>", {
            extensions: { code: "UNAUTHENTICATED", http: { status: 401 } },
          }),
  },
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: process.env.NODE_ENV === "production" ? null : "warn",
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("Date", DateResolver);
builder.addScalarType("EmailAddress", EmailAddressResolver);
builder.addScalarType("CountryCode", CountryCodeResolver);
