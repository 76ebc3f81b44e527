// The billing domain: everything that decides about money. The GraphQL layer,
// the Stripe webhook and the scheduler call these functions and nothing below.
export * from "./accounts.js";
export * from "./context.js";
export * from "./errors.js";
export * from "./ledger.js";
export * from "./mandates.js";
export * from "./money.js";
export * from "./periods.js";
export * from "./pricing.js";
export * from "./usage.js";
export * from "./warnings.js";
export { addDebitToRollups, UNATTRIBUTED } from "./statistics.js";
export * from "./balances.js";
export * from "./history.js";
export * from "./reports.js";
export * from "./labels.js";
export * from "./topups.js";
export * from "./autotopup.js";
