// A mandate's billing settings: validated field by field, merged with what
// is stored under the Settings row lock, checked as a whole (billing address,
// automatic top-up, the rules of a billing-model switch), written once.
import { Prisma, type BillingModel, type Locale, type Settings } from "@prisma/client";
import { rawSql, sql, type SqlRow } from "../../db/sql.js";
import { inBooking, type Booking } from "../ledger/booking.js";
import { lockMandateExclusively } from "../ledger/store/locks.js";
import { activeHoldsOfMandate } from "../ledger/store/reads.js";
import { SettingsTable } from "../ledger/store/tables.js";
import { assertAutoTopUp, autoTopUpData, type AutoTopUpInput } from "../payments/autotopup.js";
import type { BillingContext } from "../shared/context.js";
import { BillingError, notFound, validation } from "../shared/errors.js";
import { formatMoney, parseNonNegativeMoney, type DecimalInput } from "../shared/money.js";
import { identifier, optionalText, requiredText } from "../shared/validation.js";

export interface BillingAddress {
  company: string;
  street: string;
  zip: string;
  city: string;
  country: string;
  vatNumber?: string | null;
}

export interface UpdateSettingsInput {
  mandateId: string;
  billingModel?: BillingModel | null;
  defaultUserCredit?: DecimalInput | null;
  warningThresholdPercent?: DecimalInput | null;
  blockOnZeroBalance?: boolean | null;
  billingAddress?: BillingAddress | null;
  notifyEmails?: string[] | null;
  notifyOnWarning?: boolean | null;
  /** null leaves them as they are; to allow every provider again pass allowAllProviders. */
  allowedProviders?: string[] | null;
  allowAllProviders?: boolean | null;
  /** Replaces the given fields of the automatic top-up settings. */
  autoTopUp?: AutoTopUpInput | null;
  /** The mandate's language (emails and reports), kept on the mandate. */
  language?: Locale | null;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Settings columns an update may change, as they will be stored. */
type SettingsPatch = Partial<Omit<Settings, "mandateId" | "updatedAt">>;

export async function updateSettings(ctx: BillingContext, input: UpdateSettingsInput): Promise<Settings> {
  const patch: SettingsPatch = {};
  const decimal = (value: DecimalInput, field: string) => new Prisma.Decimal(formatMoney(parseNonNegativeMoney(value, ["input", field])));
  if (input.billingModel) patch.billingModel = input.billingModel;
  if (input.defaultUserCredit != null) patch.defaultUserCredit = decimal(input.defaultUserCredit, "defaultUserCredit");
  if (input.warningThresholdPercent != null) {
    patch.warningThresholdPercent = decimal(input.warningThresholdPercent, "warningThresholdPercent");
    if (patch.warningThresholdPercent.greaterThan(100)) {
      throw new BillingError("INVALID_AMOUNT", "warningThresholdPercent must be between 0 and 100", ["input", "warningThresholdPercent"]);
    }
  }
  if (input.blockOnZeroBalance != null) patch.blockOnZeroBalance = input.blockOnZeroBalance;
  if (input.notifyOnWarning != null) patch.notifyOnWarning = input.notifyOnWarning;
  if (input.billingAddress) patch.billingAddress = { ...parseBillingAddress(input.billingAddress) };
  if (input.notifyEmails) patch.notifyEmails = parseNotifyEmails(input.notifyEmails);
  if (input.allowAllProviders) {
    patch.allowedProviders = null; // every provider
  } else if (input.allowedProviders) {
    patch.allowedProviders = parseAllowedProviders(input.allowedProviders);
  }
  if (input.autoTopUp) Object.assign(patch, autoTopUpData(input.autoTopUp, ctx.topUpMax));
  return inBooking(ctx, async (b) => {
    const settings = await changeSettings(b, input.mandateId, patch);
    if (input.language) changeLanguage(b, input.mandateId, input.language);
    return settings;
  });
}

/** The language of the mandate's emails and reports, written with the booking's COMMIT. */
export function changeLanguage(b: Booking, mandateId: string, language: Locale): void {
  if (language !== "EN" && language !== "DE") throw validation(`language must be EN or DE, got ${language}`, ["input", "language"]);
  b.writes.also(
    sql`UPDATE "Mandate" SET "language" = ${language}::"Locale", "updatedAt" = ${b.now.toISOString()}::timestamp(3) WHERE "id" = ${mandateId}::text`,
  );
}

/**
 * Merges `patch` into the mandate's stored settings under the Settings row
 * lock, checks the result as a whole, and writes it with the booking's
 * COMMIT. Saved on the billing clock: a failed automatic top-up waits for
 * settings saved after it (payments/autotopup.ts).
 */
export async function changeSettings(b: Booking, mandateId: string, patch: SettingsPatch): Promise<Settings> {
  const [[row]] = await b.t.query(
    sql`SELECT ${SettingsTable.json("s")} AS "settings", m."stripePaymentMethodId"
      FROM "Settings" s JOIN "Mandate" m ON m."id" = s."mandateId" WHERE s."mandateId" = ${mandateId}::text FOR UPDATE OF s`,
  );
  if (!row) throw notFound(`Mandate "${mandateId}"`, ["input", "mandateId"]);
  const stored = SettingsTable.parse(row.settings as SqlRow);
  if (patch.billingModel && patch.billingModel !== stored.billingModel) await assertModelSwitchAllowed(b, mandateId);
  // An absent field (undefined) keeps what is stored; null clears it.
  const given = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
  const settings: Settings = { ...stored, ...given, updatedAt: b.now };
  assertBillingAddress(settings);
  assertAutoTopUp(settings, { stripePaymentMethodId: row.stripePaymentMethodId as string | null });
  b.writes.also(
    sql`UPDATE "Settings" s SET ${SETTINGS_WRITES}
      FROM json_populate_record(NULL::"Settings", (${SettingsTable.send([settings])}::json) -> 0) v WHERE s."mandateId" = v."mandateId"`,
  );
  return settings;
}

const SETTINGS_WRITES = rawSql(
  Object.keys(SettingsTable.columns)
    .filter((c) => c !== "mandateId")
    .map((c) => `"${c}" = v."${c}"`)
    .join(", "),
);

/**
 * A billing-model switch never moves money: each model pays from its own
 * accounts (ledger/accounts.ts), and balances on accounts the new model does
 * not use stay there, visible to admins, until an admin moves them
 * (transferBalance). A hold would settle on an account the new model does
 * not use, so a switch waits until none is active. The mandate's exclusive
 * lock waits for moves in flight and keeps new ones out until the switch
 * commits (ledger/store/locks.ts).
 */
async function assertModelSwitchAllowed(b: Booking, mandateId: string): Promise<void> {
  const [, [{ holds }]] = await b.t.query(lockMandateExclusively(mandateId), activeHoldsOfMandate(mandateId, b.now));
  if (Number(holds) > 0) {
    throw validation(
      `The billing model cannot change while ${holds} hold(s) are active: settle or release them (or let them expire) first`,
      ["input", "billingModel"],
    );
  }
}

/** Every warning goes to every address: a short list. */
export const MAX_NOTIFY_EMAILS = 20;
export const MAX_ALLOWED_PROVIDERS = 100;

/** A list entry in messages: its position and value, e.g. allowedProviders[3] (""). */
const entry = (list: string, i: number, value: string) => `${list}[${i}] (${JSON.stringify(value)})`;

function parseNotifyEmails(emails: string[]): string[] {
  const field = ["input", "notifyEmails"];
  emails.forEach((email, i) => {
    if (!EMAIL.test(email.trim())) throw validation(`${entry("notifyEmails", i, email)} is not an email address`, [...field, String(i)]);
  });
  const unique = [...new Set(emails.map((e) => e.trim().toLowerCase()))];
  if (unique.length > MAX_NOTIFY_EMAILS)
    throw validation(`notifyEmails has ${unique.length} addresses; at most ${MAX_NOTIFY_EMAILS} are allowed`, field);
  return unique;
}

/** Lower case, trimmed, each once; an empty entry is named by its position and value. */
function parseAllowedProviders(providers: string[]): string[] {
  const field = ["input", "allowedProviders"];
  const parsed = providers.map((provider, i) => {
    const at = [...field, String(i)];
    if (!provider.trim())
      throw validation(`${entry("allowedProviders", i, provider)} must not be empty: name a provider such as "openai"`, at);
    return identifier(provider.trim(), at, "provider").toLowerCase();
  });
  const unique = [...new Set(parsed)];
  if (unique.length > MAX_ALLOWED_PROVIDERS) {
    throw validation(`allowedProviders has ${unique.length} providers; at most ${MAX_ALLOWED_PROVIDERS} are allowed`, field);
  }
  return unique;
}

export function parseBillingAddress(address: BillingAddress): BillingAddress {
  const field = (name: keyof BillingAddress) => ["input", "billingAddress", name];
  const country = requiredText(address.country, field("country")).toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw validation("country must be an ISO 3166-1 alpha-2 code such as CH", field("country"));
  return {
    company: requiredText(address.company, field("company")),
    street: requiredText(address.street, field("street")),
    zip: requiredText(address.zip, field("zip")),
    city: requiredText(address.city, field("city")),
    country,
    vatNumber: optionalText(address.vatNumber, field("vatNumber")),
  };
}

/** A postpaid mandate is invoiced: it needs somewhere to send the invoice. */
function assertBillingAddress(settings: Settings) {
  if (settings.billingModel === "CREDIT_POSTPAY" && !settings.billingAddress) {
    throw new BillingError("BILLING_ADDRESS_REQUIRED", "CREDIT_POSTPAY needs a billing address: set billingAddress in the same update", [
      "input",
      "billingAddress",
    ]);
  }
}
