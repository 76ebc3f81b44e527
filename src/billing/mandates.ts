// Mandates (tenants), their billing settings and per-account settings.
import { Prisma, type BillingAccount, type BillingModel, type Mandate, type Settings } from "@prisma/client";
import { prismaSqlTransaction, type Db } from "../db.js";
import { readSettings } from "./accounts.js";
import { inSqlTransaction, type BillingContext, type Tx } from "./context.js";
import { BillingError, notFound, validation } from "./errors.js";
import { finishMove } from "./ledger.js";
import { formatMoney, parseNonNegativeMoney, type DecimalInput } from "./money.js";
import { accountChanged, activeHoldsOfMandate, lockAndRead, lockMandateExclusively } from "./store.js";
import { requiredText } from "./validation.js";
import { rearmWarning } from "./warnings.js";
import { assertAutoTopUp, autoTopUpData, type AutoTopUpInput } from "./autotopup.js";

export const ROOT_MANDATE_ID = "root";
const MANDATE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export interface UpsertMandateInput {
  id: string;
  name: string;
  billingModel?: BillingModel | null;
}

/** Creates a mandate with default settings, or renames it (and changes its model when given). */
export async function upsertMandate(ctx: BillingContext, input: UpsertMandateInput): Promise<Mandate> {
  if (!MANDATE_ID.test(input.id ?? "")) {
    throw validation("id must be 1-64 letters, digits or _ . : - and start with a letter or digit", ["input", "id"]);
  }
  const name = requiredText(input.name, ["input", "name"]);
  return ctx.db.$transaction(async (tx) => {
    const mandate = await tx.mandate.upsert({ where: { id: input.id }, create: { id: input.id, name }, update: { name } });
    if (input.billingModel) await assertModelSwitchAllowed(tx, ctx, input.id, input.billingModel);
    const settings = await tx.settings.upsert({
      where: { mandateId: input.id },
      create: { mandateId: input.id, ...(input.billingModel ? { billingModel: input.billingModel } : {}) },
      update: input.billingModel ? { billingModel: input.billingModel } : {},
    });
    assertBillingAddress(settings);
    return mandate;
  });
}

/** The root mandate exists with UNLIMITED billing; safe to call at every start. */
export async function ensureRootMandate(db: Db): Promise<void> {
  await db.$transaction(async (tx) => {
    await tx.mandate.upsert({ where: { id: ROOT_MANDATE_ID }, create: { id: ROOT_MANDATE_ID, name: "Root" }, update: {} });
    await tx.settings.upsert({
      where: { mandateId: ROOT_MANDATE_ID },
      create: { mandateId: ROOT_MANDATE_ID, billingModel: "UNLIMITED" },
      update: {},
    });
  });
}

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
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export async function updateSettings(ctx: BillingContext, input: UpdateSettingsInput): Promise<Settings> {
  const data: Prisma.SettingsUpdateInput = {};
  if (input.billingModel) data.billingModel = input.billingModel;
  if (input.defaultUserCredit != null) {
    data.defaultUserCredit = formatMoney(parseNonNegativeMoney(input.defaultUserCredit, ["input", "defaultUserCredit"]));
  }
  if (input.warningThresholdPercent != null) {
    const percent = parseNonNegativeMoney(input.warningThresholdPercent, ["input", "warningThresholdPercent"]);
    if (percent.greaterThan(100)) {
      throw new BillingError("INVALID_AMOUNT", "warningThresholdPercent must be between 0 and 100", ["input", "warningThresholdPercent"]);
    }
    data.warningThresholdPercent = formatMoney(percent);
  }
  if (input.blockOnZeroBalance != null) data.blockOnZeroBalance = input.blockOnZeroBalance;
  if (input.notifyOnWarning != null) data.notifyOnWarning = input.notifyOnWarning;
  if (input.billingAddress) data.billingAddress = { ...parseBillingAddress(input.billingAddress) };
  if (input.notifyEmails) {
    input.notifyEmails.forEach((email, i) => {
      if (!EMAIL.test(email)) throw validation(`"${email}" is not an email address`, ["input", "notifyEmails", String(i)]);
    });
    data.notifyEmails = [...new Set(input.notifyEmails.map((e) => e.trim().toLowerCase()))];
  }
  if (input.allowAllProviders) {
    data.allowedProviders = Prisma.DbNull; // NULL: every provider
  } else if (input.allowedProviders) {
    data.allowedProviders = [...new Set(input.allowedProviders.map((p, i) => requiredText(p, ["input", "allowedProviders", String(i)]).toLowerCase()))];
  }
  if (input.autoTopUp) Object.assign(data, autoTopUpData(input.autoTopUp, ctx.topUpMax));
  // On the billing clock: a failed automatic top-up waits for settings saved after it (autotopup.ts).
  data.updatedAt = ctx.now();
  return ctx.db.$transaction(async (tx) => {
    await readSettings(tx, input.mandateId);
    if (input.billingModel) await assertModelSwitchAllowed(tx, ctx, input.mandateId, input.billingModel);
    const settings = await tx.settings.update({ where: { mandateId: input.mandateId }, data, include: { mandate: { select: { stripePaymentMethodId: true } } } });
    assertBillingAddress(settings);
    assertAutoTopUp(settings, settings.mandate);
    const { mandate: _, ...stored } = settings;
    return stored;
  });
}

/**
 * A billing-model switch never moves money: each model pays from its own
 * accounts (accounts.ts), and balances on accounts the new model does not
 * use stay there, visible to admins, until an admin moves them
 * (transferBalance). A hold would settle on an account the new model does
 * not use, so a switch waits until none is active. The mandate's exclusive
 * lock waits for moves in flight and keeps new ones out until the switch
 * commits (store.ts).
 */
async function assertModelSwitchAllowed(tx: Tx, ctx: BillingContext, mandateId: string, model: BillingModel): Promise<void> {
  const current = await tx.settings.findUnique({ where: { mandateId }, select: { billingModel: true } });
  if (!current || current.billingModel === model) return;
  const t = prismaSqlTransaction(tx);
  const [, [{ holds }]] = await t.query(lockMandateExclusively(mandateId), activeHoldsOfMandate(mandateId, ctx.now()));
  if (Number(holds) > 0) {
    throw validation(
      `The billing model cannot change while ${holds} hold(s) are active: settle or release them (or let them expire) first`,
      ["input", "billingModel"],
    );
  }
}

function parseBillingAddress(address: BillingAddress): BillingAddress {
  const field = (name: keyof BillingAddress) => ["input", "billingAddress", name];
  const country = requiredText(address.country, field("country")).toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw validation("country must be an ISO 3166-1 alpha-2 code such as CH", field("country"));
  return {
    company: requiredText(address.company, field("company")),
    street: requiredText(address.street, field("street")),
    zip: requiredText(address.zip, field("zip")),
    city: requiredText(address.city, field("city")),
    country,
    vatNumber: address.vatNumber?.trim() || null,
  };
}

/** A postpaid mandate is invoiced: it needs somewhere to send the invoice. */
function assertBillingAddress(settings: Settings) {
  if (settings.billingModel === "CREDIT_POSTPAY" && !settings.billingAddress) {
    throw new BillingError(
      "BILLING_ADDRESS_REQUIRED",
      "CREDIT_POSTPAY needs a billing address: set billingAddress in the same update",
      ["input", "billingAddress"],
    );
  }
}

export interface UpdateBillingAccountInput {
  accountId: string;
  creditLimit?: DecimalInput | null;
  warningThreshold?: DecimalInput | null;
  enabled?: boolean | null;
}

/** Changes an account's limit, threshold or enabled flag; the warning state follows at once. */
export async function updateBillingAccount(ctx: BillingContext, input: UpdateBillingAccountInput): Promise<BillingAccount> {
  const creditLimit = input.creditLimit != null ? parseNonNegativeMoney(input.creditLimit, ["input", "creditLimit"]) : null;
  const warningThreshold =
    input.warningThreshold != null ? parseNonNegativeMoney(input.warningThreshold, ["input", "warningThreshold"]) : null;
  await inSqlTransaction(ctx, async (t, emit) => {
    const now = ctx.now();
    const { account, settings } = await lockAndRead(t, { accountId: input.accountId }, now);
    if (!account || !settings) throw notFound("Billing account", ["input", "accountId"]);
    // A setting the billing model does not use would be stored and shown, and do nothing: refused.
    if (creditLimit !== null && settings.billingModel !== "CREDIT_POSTPAY") {
      throw validation(`creditLimit applies only under CREDIT_POSTPAY; this mandate is ${settings.billingModel}`, ["input", "creditLimit"]);
    }
    if (warningThreshold !== null && settings.billingModel === "UNLIMITED") {
      throw validation("warningThreshold does not apply under UNLIMITED: an unlimited account never warns", ["input", "warningThreshold"]);
    }
    rearmWarning(t, account, settings, now);
    if (creditLimit !== null) account.creditLimit = creditLimit;
    if (warningThreshold !== null) account.warningThreshold = warningThreshold;
    if (input.enabled != null) account.enabled = input.enabled;
    accountChanged(t, account, now);
    finishMove(t, account, settings, now, emit);
  });
  return ctx.db.billingAccount.findUniqueOrThrow({ where: { id: input.accountId } });
}
