// Who may do what: every root field for every role, the allowed and the
// denied side, as one table (spec, "Roles"). Each row is one `it`, named
// "<role> <operation> -> <expected outcome>", so a failing row names itself.
//
// Outcomes:
//   allowed          no FORBIDDEN/UNAUTHENTICATED (no error at all), the field is
//                    non-null, the target is visible, and a payload carries no
//                    userError except those the operation lists as "not a refusal"
//                    (e.g. "Top-ups are not available" without Stripe)
//   forbidden        errors[0].extensions.code FORBIDDEN and no data for the field
//   hidden           null (or the target left out of a list), no error: the
//                    answer a missing id gets
//   notFound         a NOT_FOUND userError, as for a missing id
//   unauthenticated  errors[0].extensions.code UNAUTHENTICATED (no token)
// An outsider's answer about mandate A must moreover equal, byte for byte, the
// answer about ids that do not exist: it must not reveal that A exists.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertMandate } from "../../src/billing/mandates/mandates.js";
import { updateSettings } from "../../src/billing/mandates/settings.js";
import { authorizeUsage } from "../../src/billing/usage/holds.js";
import { createTestApp, SYSADMIN, type GqlResult, type TestApp, type TestCaller } from "../support/app.js";
import { uniqueId } from "../support/billing.js";

type Role = "SYSADMIN" | "MANDATE_ADMIN" | "USER" | "SERVICE" | "OUTSIDER" | "ANONYMOUS";
type Outcome = "allowed" | "forbidden" | "hidden" | "notFound" | "unauthenticated";

/** The ids a row works on: the real ones, or (for the outsider's twin request) ids that exist nowhere. */
interface Fixture {
  /** Mandate A under PREPAY_MANDATE (one shared account). */
  A: string;
  /** Mandate A under PREPAY_USER (one account per user). */
  AU: string;
  /** Mandate A under CREDIT_POSTPAY (where a credit limit applies). */
  AP: string;
  /** A's shared account. */
  accountA: string;
  /** AP's shared account. */
  accountP: string;
  /** u1's and u2's own accounts in AU. */
  accountU1: string;
  accountU2: string;
  /** A new ACTIVE hold on A's account. */
  hold(): Promise<string>;
}

interface Operation {
  name: string;
  /** Which mandate A the role's token is for: PREPAY_MANDATE, PREPAY_USER or CREDIT_POSTPAY. */
  on: "A" | "AU" | "AP";
  /** The root field. */
  field: string;
  query: string;
  vars(f: Fixture): Record<string, unknown> | Promise<Record<string, unknown>>;
  expect: Record<Exclude<Role, "ANONYMOUS">, Outcome>;
  /** Whether an answer shows the target (default: the field is non-null). */
  visible?(value: any, f: Fixture): boolean;
  /** userError codes that are no refusal by role (the call was let through). */
  acceptUserErrors?: string[];
}

// The usual expectation rows.
const EVERYONE = { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "allowed", SERVICE: "allowed", OUTSIDER: "allowed" } as const;
const MEMBERS = { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "allowed", SERVICE: "forbidden", OUTSIDER: "forbidden" } as const;
const ADMINS = { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "forbidden", SERVICE: "forbidden", OUTSIDER: "forbidden" } as const;
const SYSADMIN_ONLY = {
  SYSADMIN: "allowed",
  MANDATE_ADMIN: "forbidden",
  USER: "forbidden",
  SERVICE: "forbidden",
  OUTSIDER: "forbidden",
} as const;
const GATEWAY = { SYSADMIN: "allowed", MANDATE_ADMIN: "forbidden", USER: "forbidden", SERVICE: "allowed", OUTSIDER: "forbidden" } as const;
/** An account-level change: the account is as unknown to non-admins as a missing one. */
const ACCOUNT_ADMINS = {
  SYSADMIN: "allowed",
  MANDATE_ADMIN: "allowed",
  USER: "notFound",
  SERVICE: "notFound",
  OUTSIDER: "notFound",
} as const;

const YEAR = new Date().getFullYear();
const USAGE = { provider: "anthropic", model: "claude-haiku-4-5" };
const key = () => `roles-${randomUUID()}`;

const Q = {
  mandate: `query($id: ID!) { mandate(id: $id) { id name } }`,
  mandateAdminView: `query($id: ID!) { mandate(id: $id) { id settings { billingModel } accounts { totalCount } } }`,
  mandateBalance: `query($id: ID!) { mandate(id: $id) { id balance { accountId userId balance } } }`,
  mandates: `query($search: String) { mandates(search: $search) { totalCount edges { node { id } } } }`,
  billingAccount: `query($id: ID!) { billingAccount(id: $id) { id userId balance } }`,
  balance: `query($mandateId: ID!, $userId: String) { balance(mandateId: $mandateId, userId: $userId) { accountId userId balance } }`,
  transactions: `query($mandateId: ID!, $userId: String) {
    transactions(mandateId: $mandateId, filter: { userId: $userId }) { totalCount edges { node { id createdByUserId } } } }`,
  usageStatistics: `query($mandateId: ID!, $userId: String, $year: Int!) {
    usageStatistics(mandateId: $mandateId, userId: $userId, period: MONTH, year: $year) { userId totals { totalCost transactionCount } } }`,
  settings: `query($mandateId: ID!) { settings(mandateId: $mandateId) { mandateId billingModel } }`,
  checkBilling: `query($input: CheckBillingInput!) { checkBilling(input: $input) { allowed reason } }`,
  usageAuthorization: `query($id: ID!) { usageAuthorization(id: $id) { id status amount } }`,
  upsertMandate: `mutation($input: UpsertMandateInput!) { upsertMandate(input: $input) { mandate { id } userErrors { code message } } }`,
  updateSettings: `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { settings { mandateId } userErrors { code message } } }`,
  updateBillingAccount: `mutation($input: UpdateBillingAccountInput!) {
    updateBillingAccount(input: $input) { account { id } userErrors { code message } } }`,
  creditAccount: `mutation($input: CreditAccountInput!) { creditAccount(input: $input) { transaction { id } account { id } userErrors { code message } } }`,
  adjustAccount: `mutation($input: AdjustAccountInput!) { adjustAccount(input: $input) { transaction { id } userErrors { code message } } }`,
  authorizeUsage: `mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { authorization { id } userErrors { code message } } }`,
  settleUsage: `mutation($input: SettleUsageInput!) { settleUsage(input: $input) { transaction { id } userErrors { code message } } }`,
  releaseUsage: `mutation($input: ReleaseUsageInput!) { releaseUsage(input: $input) { authorization { id status } userErrors { code message } } }`,
  recordUsage: `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { transaction { id } account { id } userErrors { code message } } }`,
  recordUsages: `mutation($inputs: [RecordUsageInput!]!) { recordUsages(inputs: $inputs) { results { transaction { id } userErrors { code } } userErrors { code message } } }`,
  upsertPrice: `mutation($input: UpsertPriceInput!) { upsertPrice(input: $input) { price { provider model } userErrors { code message } } }`,
  createTopUpCheckout: `mutation($input: CreateTopUpCheckoutInput!) {
    createTopUpCheckout(input: $input) { checkout { id url } userErrors { code message } } }`,
};

const topUp = (mandateId: string, userId?: string) => ({
  input: {
    mandateId,
    ...(userId ? { userId } : {}),
    amount: "20",
    successUrl: "https://app.example/ok",
    cancelUrl: "https://app.example/cancel",
  },
});
const NO_STRIPE = ["VALIDATION_FAILED"]; // "Top-ups are not available": no payment provider in tests

const OPERATIONS: Operation[] = [
  // ---- Query ----
  { name: "viewer", on: "A", field: "viewer", query: `{ viewer { userId roles mandateIds } }`, vars: () => ({}), expect: EVERYONE },
  {
    name: "mandate(A)",
    on: "A",
    field: "mandate",
    query: Q.mandate,
    vars: (f) => ({ id: f.A }),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "allowed", SERVICE: "hidden", OUTSIDER: "hidden" },
  },
  {
    name: "mandate(A) { settings accounts }",
    on: "A",
    field: "mandate",
    query: Q.mandateAdminView,
    vars: (f) => ({ id: f.A }),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "forbidden", SERVICE: "hidden", OUTSIDER: "hidden" },
  },
  {
    name: "mandate(A PREPAY_USER) { balance }",
    on: "AU",
    field: "mandate",
    query: Q.mandateBalance,
    vars: (f) => ({ id: f.AU }),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "allowed", SERVICE: "hidden", OUTSIDER: "hidden" },
  },
  {
    name: "mandates(search: A)",
    on: "A",
    field: "mandates",
    query: Q.mandates,
    vars: (f) => ({ search: f.A }),
    visible: (value, f) => value.edges.some((e: { node: { id: string } }) => e.node.id === f.A),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "allowed", SERVICE: "hidden", OUTSIDER: "hidden" },
  },
  {
    name: "billingAccount(A's shared account)",
    on: "A",
    field: "billingAccount",
    query: Q.billingAccount,
    vars: (f) => ({ id: f.accountA }),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "allowed", SERVICE: "hidden", OUTSIDER: "hidden" },
  },
  {
    name: "billingAccount(PREPAY_USER: u1's own account)",
    on: "AU",
    field: "billingAccount",
    query: Q.billingAccount,
    vars: (f) => ({ id: f.accountU1 }),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "allowed", SERVICE: "hidden", OUTSIDER: "hidden" },
  },
  {
    name: "billingAccount(PREPAY_USER: u2's account)",
    on: "AU",
    field: "billingAccount",
    query: Q.billingAccount,
    vars: (f) => ({ id: f.accountU2 }),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "hidden", SERVICE: "hidden", OUTSIDER: "hidden" },
  },
  { name: "balance(A)", on: "A", field: "balance", query: Q.balance, vars: (f) => ({ mandateId: f.A }), expect: MEMBERS },
  {
    name: "balance(A, userId: u2)",
    on: "A",
    field: "balance",
    query: Q.balance,
    vars: (f) => ({ mandateId: f.A, userId: "u2" }),
    expect: ADMINS,
  },
  {
    name: "balance(PREPAY_USER, userId: u1)",
    on: "AU",
    field: "balance",
    query: Q.balance,
    vars: (f) => ({ mandateId: f.AU, userId: "u1" }),
    visible: (value) => value.userId === "u1",
    expect: MEMBERS,
  },
  {
    name: "balance(PREPAY_USER, userId: u2)",
    on: "AU",
    field: "balance",
    query: Q.balance,
    vars: (f) => ({ mandateId: f.AU, userId: "u2" }),
    visible: (value) => value.userId === "u2",
    expect: ADMINS,
  },
  { name: "transactions(A)", on: "A", field: "transactions", query: Q.transactions, vars: (f) => ({ mandateId: f.A }), expect: MEMBERS },
  {
    name: "transactions(A, filter.userId: u2)",
    on: "A",
    field: "transactions",
    query: Q.transactions,
    vars: (f) => ({ mandateId: f.A, userId: "u2" }),
    expect: ADMINS,
  },
  {
    name: "transactions(PREPAY_USER, filter.userId: u1)",
    on: "AU",
    field: "transactions",
    query: Q.transactions,
    vars: (f) => ({ mandateId: f.AU, userId: "u1" }),
    expect: MEMBERS,
  },
  {
    name: "transactions(PREPAY_USER, filter.userId: u2)",
    on: "AU",
    field: "transactions",
    query: Q.transactions,
    vars: (f) => ({ mandateId: f.AU, userId: "u2" }),
    expect: ADMINS,
  },
  {
    name: "usageStatistics(A)",
    on: "A",
    field: "usageStatistics",
    query: Q.usageStatistics,
    vars: (f) => ({ mandateId: f.A, year: YEAR }),
    expect: MEMBERS,
  },
  {
    name: "usageStatistics(A, userId: u2)",
    on: "A",
    field: "usageStatistics",
    query: Q.usageStatistics,
    vars: (f) => ({ mandateId: f.A, userId: "u2", year: YEAR }),
    expect: ADMINS,
  },
  {
    name: "usageStatistics(PREPAY_USER, userId: u1)",
    on: "AU",
    field: "usageStatistics",
    query: Q.usageStatistics,
    vars: (f) => ({ mandateId: f.AU, userId: "u1", year: YEAR }),
    expect: MEMBERS,
  },
  {
    name: "usageStatistics(PREPAY_USER, userId: u2)",
    on: "AU",
    field: "usageStatistics",
    query: Q.usageStatistics,
    vars: (f) => ({ mandateId: f.AU, userId: "u2", year: YEAR }),
    expect: ADMINS,
  },
  { name: "settings(A)", on: "A", field: "settings", query: Q.settings, vars: (f) => ({ mandateId: f.A }), expect: ADMINS },
  {
    name: "checkBilling(A)",
    on: "A",
    field: "checkBilling",
    query: Q.checkBilling,
    vars: (f) => ({ input: { mandateId: f.A, ...USAGE, estimatedCost: "0.01" } }),
    expect: GATEWAY,
  },
  {
    name: "prices",
    on: "A",
    field: "prices",
    query: `{ prices(provider: "anthropic") { provider model } }`,
    vars: () => ({}),
    expect: EVERYONE,
  },
  {
    name: "quote",
    on: "A",
    field: "quote",
    query: `query($input: QuoteInput!) { quote(input: $input) { baseCostChf costChf } }`,
    vars: () => ({ input: { ...USAGE, usage: { inputTokens: 1000, outputTokens: 100 } } }),
    expect: EVERYONE,
  },
  {
    name: "usageAuthorization(a hold on A)",
    on: "A",
    field: "usageAuthorization",
    query: Q.usageAuthorization,
    vars: async (f) => ({ id: await f.hold() }),
    expect: { SYSADMIN: "allowed", MANDATE_ADMIN: "allowed", USER: "hidden", SERVICE: "allowed", OUTSIDER: "hidden" },
  },
  {
    name: "modelLabels",
    on: "A",
    field: "modelLabels",
    query: `{ modelLabels(locale: EN) { model label } }`,
    vars: () => ({}),
    expect: EVERYONE,
  },

  // ---- Mutation ----
  {
    name: "upsertMandate(A)",
    on: "A",
    field: "upsertMandate",
    query: Q.upsertMandate,
    vars: (f) => ({ input: { id: f.A, name: "Mandate A" } }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "updateSettings(A: notifyEmails, notifyOnWarning)",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({ input: { mandateId: f.A, notifyEmails: ["billing@example.com"], notifyOnWarning: true } }),
    expect: ADMINS,
  },
  {
    name: "updateSettings(A: allowedProviders)",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({ input: { mandateId: f.A, allowedProviders: ["anthropic", "openai", "perplexity", "tavily"] } }),
    expect: ADMINS,
  },
  {
    name: "updateSettings(A: billingAddress)",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({
      input: {
        mandateId: f.A,
        billingAddress: { company: "Acme AG", street: "Bahnhofstrasse 1", zip: "8001", city: "Zürich", country: "CH" },
      },
    }),
    expect: ADMINS,
  },
  {
    name: "updateSettings(A: warningThresholdPercent)",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({ input: { mandateId: f.A, warningThresholdPercent: "10" } }),
    expect: ADMINS,
  },
  {
    name: "updateSettings(A: billingModel) [money]",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({ input: { mandateId: f.A, billingModel: "PREPAY_MANDATE" } }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "updateSettings(A: defaultUserCredit) [money]",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({ input: { mandateId: f.A, defaultUserCredit: "10" } }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "updateSettings(A: blockOnZeroBalance) [money]",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({ input: { mandateId: f.A, blockOnZeroBalance: true } }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "updateSettings(A: notifyEmails + billingModel) [money mixed in]",
    on: "A",
    field: "updateSettings",
    query: Q.updateSettings,
    vars: (f) => ({ input: { mandateId: f.A, notifyEmails: ["billing@example.com"], billingModel: "PREPAY_MANDATE" } }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "updateBillingAccount(A: warningThreshold)",
    on: "A",
    field: "updateBillingAccount",
    query: Q.updateBillingAccount,
    vars: (f) => ({ input: { accountId: f.accountA, warningThreshold: "5" } }),
    expect: ACCOUNT_ADMINS,
  },
  {
    name: "updateBillingAccount(A: enabled)",
    on: "A",
    field: "updateBillingAccount",
    query: Q.updateBillingAccount,
    vars: (f) => ({ input: { accountId: f.accountA, enabled: true } }),
    expect: ACCOUNT_ADMINS,
  },
  {
    name: "updateBillingAccount(A postpay: creditLimit) [money]",
    on: "AP",
    field: "updateBillingAccount",
    query: Q.updateBillingAccount,
    vars: (f) => ({ input: { accountId: f.accountP, creditLimit: "0" } }),
    expect: { ...ACCOUNT_ADMINS, MANDATE_ADMIN: "forbidden" },
  },
  {
    name: "creditAccount(A)",
    on: "A",
    field: "creditAccount",
    query: Q.creditAccount,
    vars: (f) => ({ input: { mandateId: f.A, amount: "1", description: "roles test", idempotencyKey: key() } }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "adjustAccount(A)",
    on: "A",
    field: "adjustAccount",
    query: Q.adjustAccount,
    vars: (f) => ({ input: { mandateId: f.A, amount: "-0.5", description: "roles test", idempotencyKey: key() } }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "authorizeUsage(A)",
    on: "A",
    field: "authorizeUsage",
    query: Q.authorizeUsage,
    vars: (f) => ({ input: { mandateId: f.A, userId: "u1", ...USAGE, estimatedCost: "0.01", idempotencyKey: key() } }),
    expect: GATEWAY,
  },
  {
    name: "settleUsage(a hold on A)",
    on: "A",
    field: "settleUsage",
    query: Q.settleUsage,
    vars: async (f) => ({ input: { authorizationId: await f.hold(), cost: "0.01" } }),
    expect: GATEWAY,
  },
  {
    name: "releaseUsage(a hold on A)",
    on: "A",
    field: "releaseUsage",
    query: Q.releaseUsage,
    vars: async (f) => ({ input: { authorizationId: await f.hold() } }),
    expect: GATEWAY,
  },
  {
    name: "recordUsage(A)",
    on: "A",
    field: "recordUsage",
    query: Q.recordUsage,
    vars: (f) => ({ input: { mandateId: f.A, userId: "u1", ...USAGE, cost: "0.01", idempotencyKey: key() } }),
    expect: GATEWAY,
  },
  {
    name: "recordUsages(A)",
    on: "A",
    field: "recordUsages",
    query: Q.recordUsages,
    vars: (f) => ({ inputs: [{ mandateId: f.A, userId: "u1", ...USAGE, cost: "0.01", idempotencyKey: key() }] }),
    expect: GATEWAY,
  },
  {
    name: "upsertPrice",
    on: "A",
    field: "upsertPrice",
    query: Q.upsertPrice,
    vars: () => ({
      input: { provider: "roles-test", model: "m1", inputPerMillionTokensUsd: "1", outputPerMillionTokensUsd: "2", perRequestUsd: "0" },
    }),
    expect: SYSADMIN_ONLY,
  },
  {
    name: "createTopUpCheckout(A)",
    on: "A",
    field: "createTopUpCheckout",
    query: Q.createTopUpCheckout,
    vars: (f) => topUp(f.A),
    acceptUserErrors: NO_STRIPE,
    expect: MEMBERS,
  },
  {
    name: "createTopUpCheckout(A, userId: u2)",
    on: "A",
    field: "createTopUpCheckout",
    query: Q.createTopUpCheckout,
    vars: (f) => topUp(f.A, "u2"),
    acceptUserErrors: NO_STRIPE,
    expect: ADMINS,
  },
  {
    name: "createTopUpCheckout(PREPAY_USER, userId: u1)",
    on: "AU",
    field: "createTopUpCheckout",
    query: Q.createTopUpCheckout,
    vars: (f) => topUp(f.AU, "u1"),
    acceptUserErrors: NO_STRIPE,
    expect: MEMBERS,
  },
  {
    name: "createTopUpCheckout(PREPAY_USER, userId: u2)",
    on: "AU",
    field: "createTopUpCheckout",
    query: Q.createTopUpCheckout,
    vars: (f) => topUp(f.AU, "u2"),
    acceptUserErrors: NO_STRIPE,
    expect: ADMINS,
  },
];

const ROLES: Role[] = ["SYSADMIN", "MANDATE_ADMIN", "USER", "SERVICE", "OUTSIDER", "ANONYMOUS"];

interface Row {
  role: Role;
  op: Operation;
  outcome: Outcome;
}

const ROWS: Row[] = OPERATIONS.flatMap((op) =>
  ROLES.map((role) => ({ role, op, outcome: role === "ANONYMOUS" ? ("unauthenticated" as const) : op.expect[role] })),
);

/** What a response amounts to, in the words of the table (or a description of the surprise). */
function outcomeOf(res: GqlResult<any>, op: Operation, f: Fixture): string {
  const error = res.errors?.[0];
  if (error) {
    const code = error.extensions?.code;
    if (code === "FORBIDDEN") return "forbidden";
    if (code === "UNAUTHENTICATED") return "unauthenticated";
    return `error ${code}: ${error.message}`;
  }
  const value = res.data?.[op.field];
  if (value === null || value === undefined) return "hidden";
  const userErrors: { code: string; message: string }[] = value.userErrors ?? [];
  if (userErrors.some((e) => e.code === "NOT_FOUND")) return "notFound";
  const unexpected = userErrors.filter((e) => !(op.acceptUserErrors ?? []).includes(e.code));
  if (unexpected.length > 0) return `userError ${unexpected[0].code}: ${unexpected[0].message}`;
  if (op.visible && !op.visible(value, f)) return "hidden";
  return "allowed";
}

let app: TestApp;
let fixture: Fixture;
let B: string;

/** The same ids, pointing at nothing: what an outsider's view of A must look like. */
const missing: Fixture = {
  A: "missing-mandate",
  AU: "missing-mandate-u",
  AP: "missing-mandate-p",
  accountA: randomUUID(),
  accountP: randomUUID(),
  accountU1: randomUUID(),
  accountU2: randomUUID(),
  hold: async () => randomUUID(),
};

function callerFor(role: Role, mandateId: string): TestCaller | undefined {
  switch (role) {
    case "SYSADMIN":
      return SYSADMIN;
    case "MANDATE_ADMIN":
      return { roles: ["MANDATE_ADMIN"], mandateIds: [mandateId], userId: "admin-a" };
    case "USER":
      return { roles: ["USER"], mandateIds: [mandateId], userId: "u1" };
    case "SERVICE":
      return { roles: ["SERVICE"], userId: "gateway" };
    case "OUTSIDER":
      return { roles: ["MANDATE_ADMIN"], mandateIds: [B], userId: "admin-b" };
    case "ANONYMOUS":
      return undefined;
  }
}

/** A SYSADMIN call that must succeed. */
async function asSysadmin(query: string, variables: Record<string, unknown>) {
  const res = await app.gql(query, variables, SYSADMIN);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  const payload = Object.values(res.data as Record<string, any>)[0];
  expect(payload.userErrors ?? []).toEqual([]);
  return payload;
}

beforeAll(async () => {
  app = await createTestApp();
  const A = uniqueId("a");
  const AU = uniqueId("au");
  B = uniqueId("b");
  await asSysadmin(Q.upsertMandate, { input: { id: A, name: "Mandate A" } });
  await asSysadmin(Q.upsertMandate, { input: { id: AU, name: "Mandate A (per user)", billingModel: "PREPAY_USER" } });
  await asSysadmin(Q.upsertMandate, { input: { id: B, name: "Mandate B" } });
  const credit = (mandateId: string, userId?: string) =>
    asSysadmin(Q.creditAccount, { input: { mandateId, userId, amount: "100", description: "setup", idempotencyKey: key() } });
  const AP = uniqueId("ap");
  await upsertMandate(app.billing, { id: AP, name: "Mandate A (postpay)" });
  await updateSettings(app.billing, {
    mandateId: AP,
    billingModel: "CREDIT_POSTPAY",
    billingAddress: { company: "A AG", street: "Weg 1", zip: "8000", city: "Zürich", country: "CH" },
  });
  const accountA = (await credit(A)).account.id;
  const accountP = (await credit(AP)).account.id;
  const accountU1 = (await credit(AU, "u1")).account.id;
  const accountU2 = (await credit(AU, "u2")).account.id;
  await credit(B);
  // Usage of two users on the shared account of A, and of each user in AU.
  for (const [mandateId, userId, cost] of [
    [A, "u1", "1.5"],
    [A, "u2", "2.25"],
    [AU, "u1", "0.75"],
    [AU, "u2", "3"],
  ]) {
    await asSysadmin(Q.recordUsage, { input: { mandateId, userId, ...USAGE, cost, idempotencyKey: key() } });
  }
  fixture = {
    A,
    AU,
    AP,
    accountA,
    accountP,
    accountU1,
    accountU2,
    hold: async () => {
      const result = await authorizeUsage(app.billing, {
        mandateId: A,
        userId: "u1",
        ...USAGE,
        estimatedCost: "0.01",
        idempotencyKey: key(),
      });
      return result.authorization!.id;
    },
  };
});

afterAll(async () => {
  await app?.close();
});

describe("roles × root fields", () => {
  it.each(ROWS.map((row) => [`${row.role.padEnd(13)} ${row.op.name} -> ${row.outcome}`, row] as const))("%s", async (_name, row) => {
    const { role, op, outcome } = row;
    const mandateId = fixture[op.on];
    const caller = callerFor(role, mandateId);
    const res = await app.gql(op.query, await op.vars(fixture), caller);
    expect(outcomeOf(res, op, fixture), JSON.stringify(res)).toBe(outcome);
    if (outcome === "forbidden" || outcome === "unauthenticated") {
      // A refusal carries nothing of what was asked.
      expect(res.data?.[op.field] ?? null).toBeNull();
    }
    if (role === "OUTSIDER") {
      // Not even A's existence shows: the same request about ids that exist nowhere answers the same.
      const twin = await app.gql(op.query, await op.vars(missing), caller);
      expect(res).toEqual(twin);
    }
  });
});

describe("a USER under PREPAY_MANDATE sees only their own part of the shared account", () => {
  const u1 = () => callerFor("USER", fixture.A);

  it("transactions(mandateId) lists only the user's own transactions", async () => {
    const res = await app.gql(Q.transactions, { mandateId: fixture.A }, u1());
    expect(res.errors).toBeUndefined();
    const users = res.data.transactions.edges.map((e: any) => e.node.createdByUserId);
    expect(users.length).toBeGreaterThan(0);
    expect(new Set(users)).toEqual(new Set(["u1"]));
  });

  it("usageStatistics(mandateId) counts only the user's own usage", async () => {
    const res = await app.gql(Q.usageStatistics, { mandateId: fixture.A, year: YEAR }, u1());
    expect(res.errors).toBeUndefined();
    const admin = await app.gql(Q.usageStatistics, { mandateId: fixture.A, userId: "u1", year: YEAR }, SYSADMIN);
    expect(res.data.usageStatistics).toEqual(admin.data.usageStatistics);
  });

  it("the shared balance is theirs to see", async () => {
    const res = await app.gql(Q.balance, { mandateId: fixture.A }, u1());
    expect(res.errors).toBeUndefined();
    expect(res.data.balance).toMatchObject({ accountId: fixture.accountA, userId: null });
  });

  it("billingAccount(shared).transactions shows no other user's transactions", async () => {
    const res = await app.gql(
      `query($id: ID!) { billingAccount(id: $id) { id transactions(first: 100) { edges { node { createdByUserId description } } } } }`,
      { id: fixture.accountA },
      u1(),
    );
    const nodes: { createdByUserId: string | null }[] = res.data?.billingAccount?.transactions?.edges.map((e: any) => e.node) ?? [];
    const othersUsage = nodes.filter((n) => n.createdByUserId === "u2");
    expect(othersUsage, "u1 reads u2's transactions through billingAccount.transactions").toEqual([]);
  });

  it("billingAccount(shared).usageStatistics shows no other user's usage", async () => {
    const res = await app.gql(
      `query($id: ID!) { billingAccount(id: $id) { id usageStatistics(period: YEAR) { totalCost transactionCount } } }`,
      { id: fixture.accountA },
      u1(),
    );
    const own = await app.gql(Q.usageStatistics, { mandateId: fixture.A, userId: "u1", year: YEAR }, SYSADMIN);
    const ownCost = own.data.usageStatistics.totals.totalCost;
    const rows: { totalCost: string }[] = res.data?.billingAccount?.usageStatistics ?? [];
    for (const row of rows) {
      expect(row.totalCost, "u1 reads the whole shared account's (everyone's) usage through billingAccount.usageStatistics").toBe(ownCost);
    }
  });
});
