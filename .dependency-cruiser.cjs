// One direction of dependency (README, "Layout"), checked in CI:
//   src/db  <-  billing/shared  <-  billing/ledger  <-  billing/{usage, payments, statistics, mandates}
//   billing/pricing depends on billing/shared only;
//   the edges (schema, notify, stripe, http, the server's wiring) depend on billing, never the reverse.
/** @type {import('dependency-cruiser').IConfiguration} */
const BILLING_ABOVE_LEDGER = "^src/billing/(usage|payments|statistics|mandates)/";
const EDGES = "^src/(schema|notify|stripe|http|app\\.ts|server\\.ts|yoga\\.ts|context\\.ts|auth\\.ts|builder\\.ts|pubsub\\.ts|config\\.ts)";

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "No import cycles in src/.", from: { path: "^src/" }, to: { circular: true } },
    {
      name: "billing-uses-no-edge",
      severity: "error",
      comment: "The domain never imports the API, email, Stripe or HTTP edges; they call it.",
      from: { path: "^src/billing/" },
      to: { path: EDGES },
    },
    {
      name: "billing-knows-no-stripe",
      severity: "error",
      comment: "Stripe's client and vocabulary live in src/stripe; the domain owns a payment port (billing/payments/provider.ts).",
      from: { path: "^src/billing/" },
      to: { path: "node_modules/stripe/" },
    },
    {
      name: "db-is-the-bottom",
      severity: "error",
      comment: "src/db opens databases and runs SQL; it knows nothing of billing or the edges (it may log: src/log.ts is a leaf).",
      from: { path: "^src/db/" },
      to: { path: "^src/(?!db/|log\\.ts$)" },
    },
    {
      name: "log-is-a-leaf",
      severity: "error",
      comment: "src/log.ts (the logger, issue 16) is imported by every layer, so it imports nothing of Saldo.",
      from: { path: "^src/log\\.ts$" },
      to: { path: "^src/" },
    },
    {
      name: "shared-is-basic",
      severity: "error",
      comment: "billing/shared (money, errors, validation, context) depends on no other part of the domain.",
      from: { path: "^src/billing/shared/" },
      to: { path: "^src/billing/(?!shared/)" },
    },
    {
      name: "pricing-is-basic",
      severity: "error",
      comment: "Pricing is arithmetic on the catalog: it depends on billing/shared only.",
      from: { path: "^src/billing/pricing/" },
      to: { path: "^src/billing/(?!(shared|pricing)/)" },
    },
    {
      name: "ledger-below-its-users",
      severity: "error",
      comment: "The ledger is used by usage, payments, statistics and mandates, never the reverse.",
      from: { path: "^src/billing/ledger/" },
      to: { path: `${BILLING_ABOVE_LEDGER}|^src/billing/pricing/` },
    },
    {
      name: "usage-payments-statistics-are-siblings",
      severity: "error",
      comment: "Usage, payments and statistics do not depend on each other or on mandates.",
      from: { path: "^src/billing/(usage|payments|statistics)/" },
      to: { path: "^src/billing/(usage|payments|statistics|mandates)/", pathNot: "^src/billing/$1/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "src/generated" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
