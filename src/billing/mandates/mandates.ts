// Mandates (tenants): created with default settings, renamed; the root
// mandate that exists on every installation.
import type { BillingModel, Locale, Mandate } from "@prisma/client";
import { sql } from "../../db/sql.js";
import { inBooking } from "../ledger/booking.js";
import type { BillingContext } from "../shared/context.js";
import { validation } from "../shared/errors.js";
import { singleLineText } from "../shared/validation.js";
import { changeLanguage, changeSettings, parseBillingAddress, type BillingAddress } from "./settings.js";

export const ROOT_MANDATE_ID = "root";
const MANDATE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export interface UpsertMandateInput {
  id: string;
  name: string;
  billingModel?: BillingModel | null;
  /** Needed by CREDIT_POSTPAY, so a postpaid mandate can be created in one step. */
  billingAddress?: BillingAddress | null;
  /** Of its emails and reports; a new mandate's is EN when not given. */
  language?: Locale | null;
}

/**
 * Creates a mandate with default settings, or renames it; changes its model
 * (by the rules of a switch), billing address and language when given.
 */
export async function upsertMandate(ctx: BillingContext, input: UpsertMandateInput): Promise<Mandate> {
  if (!MANDATE_ID.test(input.id ?? "")) {
    throw validation("id must be 1-64 letters, digits or _ . : - and start with a letter or digit", ["input", "id"]);
  }
  // One line: the name goes into email subjects and logs.
  const name = singleLineText(input.name, ["input", "name"]);
  const billingAddress = input.billingAddress ? parseBillingAddress(input.billingAddress) : undefined;
  await inBooking(ctx, async (b) => {
    // Statements of their own (not deferred): the settings change below reads the row.
    await b.t.query(
      sql`INSERT INTO "Mandate" ("id", "name", "updatedAt") VALUES (${input.id}::text, ${name}::text, ${b.now.toISOString()}::timestamp(3))
        ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", "updatedAt" = EXCLUDED."updatedAt"`,
      sql`INSERT INTO "Settings" ("mandateId", "updatedAt") VALUES (${input.id}::text, ${b.now.toISOString()}::timestamp(3))
        ON CONFLICT ("mandateId") DO NOTHING`,
    );
    // Checked on every upsert: a mandate created as CREDIT_POSTPAY needs a billing address, here or stored.
    await changeSettings(b, input.id, {
      ...(input.billingModel ? { billingModel: input.billingModel } : {}),
      ...(billingAddress ? { billingAddress: { ...billingAddress } } : {}),
    });
    if (input.language) changeLanguage(b, input.id, input.language);
  });
  return ctx.db.mandate.findUniqueOrThrow({ where: { id: input.id } });
}

/** The root mandate exists with UNLIMITED billing; safe to call at every start. */
export async function ensureRootMandate(ctx: Pick<BillingContext, "sql">): Promise<void> {
  await ctx.sql.transaction(async (t) =>
    t.query(
      sql`INSERT INTO "Mandate" ("id", "name", "updatedAt") VALUES (${ROOT_MANDATE_ID}::text, 'Root', now()) ON CONFLICT ("id") DO NOTHING`,
      sql`INSERT INTO "Settings" ("mandateId", "billingModel", "updatedAt") VALUES (${ROOT_MANDATE_ID}::text, 'UNLIMITED', now())
        ON CONFLICT ("mandateId") DO NOTHING`,
    ),
  );
}
