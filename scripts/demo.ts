// npm run demo: Saldo's whole loop in one command, on the embedded database.
// It starts a server (or uses --url), creates a demo mandate with a warning
// threshold and allowed providers, and runs a simulated AI gateway through
// the client (saldo/client) until the balance crosses the warning and runs
// out; then an admin tops it up, which re-arms the warning. It checks the
// ledger against what the gateway booked, stops by itself, and leaves the
// data to explore in GraphiQL.
//
//   npm run demo                                        # starts Saldo on ./data (SALDO_DATA_DIR)
//   npm run demo -- --url http://localhost:4000/graphql # against a running server (same JWT_SECRET)
//   npm run demo -- --short                             # a quick run (the test's)
import path from "node:path";
import { parseArgs } from "node:util";
import { Decimal } from "decimal.js";
import { createClient as createSseClient } from "graphql-sse";
import {
  createSaldoClient,
  InsufficientBalanceError,
  ProviderNotAllowedError,
  SaldoRequestError,
  type GuardResult,
  type SaldoClient,
} from "saldo/client";
import { signToken, type Role } from "../src/auth.js";
import { loadConfig } from "../src/config.js";
import { aiCall, pickFeature, ProviderFailure, RESEARCH, USERS, type Feature } from "./demo/gateway.js";
import {
  DemoBalanceDocument,
  DemoCreditDocument,
  DemoMandateDocument,
  DemoSettingsDocument,
  DemoSpendDocument,
  DemoWarningDocument,
  type DemoWarningSubscription,
} from "./demo/generated/graphql.js";
import { ServerStartError, startServer, useServer, type DemoServer } from "./demo/server.js";
import { createView, spendLine, type Status } from "./demo/view.js";

const { values: args } = parseArgs({
  options: { url: { type: "string" }, short: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
});
if (args.help) {
  console.log("usage: npm run demo [-- --url http://localhost:4000/graphql] [-- --short]");
  process.exit(0);
}

const MODES = {
  // About a minute of traffic: ~5 calls a second, each taking 0.3-1.5 s, at most 8 at a time.
  full: {
    credit: "5",
    topUp: "5",
    intervalMs: 200,
    latency: [300, 1_500] as [number, number],
    concurrency: 8,
    refusalsToStop: 5,
    callsAfterTopUp: 30,
    statusEveryMs: 3_000,
    limitMs: 180_000,
  },
  short: {
    credit: "2",
    topUp: "2",
    intervalMs: 10,
    latency: [5, 40] as [number, number],
    concurrency: 4,
    refusalsToStop: 3,
    callsAfterTopUp: 10,
    statusEveryMs: 1_000,
    limitMs: 90_000,
  },
};
const mode = args.short ? MODES.short : MODES.full;
const ALLOWED_PROVIDERS = ["anthropic", "openai", "tavily"];
const WARNING_PERCENT = "25";
/** Every 13th call fails at the provider (its hold is released); calls 4 and 60 ask for a provider the mandate may not use. */
const failsAtProvider = (n: number) => n % 13 === 7;
const asksRefusedProvider = (n: number) => n === 4 || n === 60;

const config = loadConfig();
/** When the gateway's traffic started: the events' clock. */
let started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(1).padStart(5);
let server: DemoServer | undefined;

process.once("SIGINT", () => {
  console.log("\ninterrupted: stopping");
  void (server?.stop() ?? Promise.resolve()).then(() => process.exit(130));
});

async function main(): Promise<boolean> {
  const relative = path.relative(process.cwd(), path.resolve(config.SALDO_DATA_DIR));
  const dataDir = relative.startsWith("..") ? path.resolve(relative) : `./${relative}`;
  if (args.url) {
    server = await useServer(args.url);
    console.log(`Saldo at ${server.origin} (tokens signed with JWT_SECRET${config.usingDevSecret ? ", the development secret" : ""})`);
  } else {
    console.log(`Starting Saldo on the embedded database in ${dataDir} (a first start creates it: up to a minute)…`);
    server = await startServer(config.SALDO_DATA_DIR);
    console.log(`Saldo runs at ${server.origin}/graphql`);
  }
  const url = `${server.origin}/graphql`;
  const sign = (roles: Role[], userId: string, mandateIds: string[] = []) => signToken({ roles, userId, mandateIds }, config.JWT_SECRET);

  // --- the demo mandate, its people and its tokens
  const mandateId = `demo-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-")}`;
  const admin = createSaldoClient({ url, token: await sign(["SYSADMIN"], "demo-sysadmin") });
  const gateway = createSaldoClient({ url, token: await sign(["SERVICE"], "demo-gateway") });
  const watcher = await sign(["MANDATE_ADMIN"], "demo-admin", [mandateId]);

  const created = await admin.request(DemoMandateDocument, { id: mandateId, name: "Demo AG (npm run demo)" });
  expectNoErrors("upsertMandate", created.upsertMandate.userErrors);
  const settings = await admin.request(DemoSettingsDocument, {
    input: { mandateId, allowedProviders: ALLOWED_PROVIDERS, warningThresholdPercent: WARNING_PERCENT },
  });
  expectNoErrors("updateSettings", settings.updateSettings.userErrors);
  const credit = await topUp(admin, mandateId, mode.credit, "welcome");
  console.log(
    `Mandate ${mandateId}: PREPAY_MANDATE, providers ${ALLOWED_PROVIDERS.join(", ")}, ${mode.credit} CHF credited, ` +
      `warning at ${WARNING_PERCENT} % = ${credit.warningThreshold} CHF`,
  );
  if ((await fetch(`${server.origin}/app`).catch(() => undefined))?.status === 200) {
    console.log(`Dashboard: ${server.origin}/app  (sign in with the token below)`);
  }
  console.log(`Watch live in GraphiQL: ${url}  with the header {"Authorization": "Bearer <token>"} and`);
  console.log(`  subscription { balanceChanged(mandateId: "${mandateId}") { balance available isWarning } }`);
  console.log(`Token (mandate admin of ${mandateId}, 12 h): ${watcher}\n`);

  const view = createView(process.stdout.isTTY === true, mode.statusEveryMs);

  // --- the warning, live: fires once when the balance falls to the threshold
  const warnings: DemoWarningSubscription["balanceWarning"][] = [];
  const live = createSseClient({ url, singleConnection: false, retryAttempts: 3, headers: { authorization: `Bearer ${watcher}` } });
  const subscribed = new Promise<void>((resolve) => {
    live.subscribe<DemoWarningSubscription>(
      { query: String(DemoWarningDocument), variables: { mandateId } },
      {
        next: ({ data }) => {
          if (!data) return;
          warnings.push(data.balanceWarning);
          view.event(
            `${seconds()}s ⚠ balanceWarning: available ${data.balanceWarning.balance.available} CHF (balance less holds) fell to the threshold ` +
              `${data.balanceWarning.threshold} CHF; it fires once per crossing, rising above it (a top-up) re-arms it`,
          );
        },
        error: (error) =>
          view.event(`${seconds()}s balanceWarning subscription failed: ${(error as Error)?.message ?? JSON.stringify(error)}`),
        complete: () => undefined,
      },
      { connected: () => resolve() },
    );
  });
  await Promise.race([subscribed, sleep(5_000)]);
  await sleep(300); // the server subscribes to its event bus just after the stream opens

  // --- the simulated gateway
  const status: Status = {
    balance: new Decimal(credit.balance),
    scale: new Decimal(credit.balance),
    calls: 0,
    booked: 0,
    released: 0,
    refused: 0,
    spendByProvider: new Map(),
  };
  let spent = new Decimal(0);
  let balanceAt = "";
  let refusedForBalance = 0;
  const problems: string[] = [];
  const inFlight = new Set<Promise<void>>();

  const onBooked = (feature: Feature, booked: GuardResult<undefined>) => {
    status.booked++;
    const { transaction } = booked;
    if (!transaction) return;
    const amount = new Decimal(transaction.amount);
    spent = spent.plus(amount);
    status.spendByProvider.set(feature.provider, (status.spendByProvider.get(feature.provider) ?? new Decimal(0)).plus(amount));
    // Answers arrive out of order: show the balance after the latest booking.
    if (transaction.createdAt >= balanceAt) {
      balanceAt = transaction.createdAt;
      status.balance = new Decimal(transaction.balanceAfter);
    }
  };

  const onRefused = (feature: Feature, error: unknown) => {
    const call = `${feature.code} (${feature.provider} ${feature.model})`;
    if (error instanceof ProviderFailure) {
      status.released++;
      if (status.released <= 3)
        view.event(`${seconds()}s ↺ ${call} failed at the provider (${error.message}): hold released, nothing booked`);
    } else if (error instanceof ProviderNotAllowedError) {
      status.refused++;
      view.event(`${seconds()}s ✗ ${call} refused before the call: ProviderNotAllowedError (allowed: ${ALLOWED_PROVIDERS.join(", ")})`);
    } else if (error instanceof InsufficientBalanceError) {
      status.refused++;
      refusedForBalance++;
      if (refusedForBalance === 1) {
        view.event(
          `${seconds()}s ✗ ${call} refused before the call: InsufficientBalanceError (available ${error.check.available} CHF, estimate ${error.check.requiredAmount} CHF)`,
        );
      }
    } else {
      problems.push(`${call}: ${(error as Error)?.stack ?? error}`);
      view.event(`${seconds()}s ✗ ${call}: ${(error as Error)?.message ?? error}`);
    }
  };

  const launch = () => {
    const n = ++status.calls;
    const feature = asksRefusedProvider(n) ? RESEARCH : pickFeature();
    const call = aiCall(gateway, mandateId, USERS[n % USERS.length], feature, { latency: mode.latency, fails: failsAtProvider(n) })
      .then(
        (booked) => onBooked(feature, booked),
        (error) => onRefused(feature, error),
      )
      .finally(() => {
        inFlight.delete(call);
        view.update(status);
      });
    inFlight.add(call);
  };

  /** Calls at a steady rate (at most `concurrency` at a time) until `done`, then waits for those still running. */
  const traffic = async (done: () => boolean) => {
    while (!done() && Date.now() < deadline) {
      if (inFlight.size >= mode.concurrency) {
        await Promise.race(inFlight);
        continue;
      }
      launch();
      await sleep(mode.intervalMs);
    }
    await Promise.all(inFlight);
  };

  started = Date.now();
  const deadline = started + mode.limitMs;
  view.update(status);
  await traffic(() => refusedForBalance >= mode.refusalsToStop);
  // The event is published after the debit's commit: give it a moment to arrive.
  for (let waited = 0; warnings.length === 0 && waited < 5_000; waited += 100) await sleep(100);
  const warningsBeforeTopUp = warnings.length;
  const low = (await admin.request(DemoBalanceDocument, { mandateId })).balance;
  view.event(
    `${seconds()}s balance ${low.balance} CHF, available ${low.available} CHF, isWarning ${low.isWarning}: the gateway's calls are refused`,
  );

  const refill = await topUp(admin, mandateId, mode.topUp, "top-up");
  status.balance = new Decimal(refill.balance);
  status.scale = status.balance;
  view.event(
    `${seconds()}s + admin top-up of ${mode.topUp} CHF (creditAccount): balance ${refill.balance} CHF; warning re-armed ` +
      `(isWarning ${refill.isWarning}, threshold now ${refill.warningThreshold} CHF)`,
  );
  view.update(status);
  const callsBefore = status.calls;
  const spentBefore = spent;
  // A little more traffic, well above the new threshold.
  await traffic(() => status.calls - callsBefore >= mode.callsAfterTopUp || spent.minus(spentBefore).gte(new Decimal(mode.topUp).div(2)));
  view.stop();
  live.dispose();

  // --- what Saldo's ledger says, against what the gateway booked
  const final = (await admin.request(DemoBalanceDocument, { mandateId })).balance;
  const { totals } = (await admin.request(DemoSpendDocument, { mandateId, year: new Date().getFullYear() })).usageStatistics;
  const credited = new Decimal(mode.credit).plus(mode.topUp);
  const serverSpend = new Map(totals.byProvider.map((share) => [share.key, new Decimal(share.cost)]));
  const checks: [string, boolean][] = [
    [
      `balance ${final.balance} = ${credited.toFixed(6)} credited − ${spent.toFixed(6)} booked, nothing held (${final.held})`,
      new Decimal(final.balance).eq(credited.minus(spent)) && new Decimal(final.held).isZero(),
    ],
    [
      `usage statistics: ${totals.transactionCount} debits, ${totals.totalCost} CHF, by provider as the gateway counted`,
      new Decimal(totals.totalCost).eq(spent) &&
        totals.transactionCount === status.booked &&
        sameSpend(serverSpend, status.spendByProvider),
    ],
    // Once per crossing: a hold settled below its estimate (or released) can lift what may be spent above the
    // threshold again and re-arm it, so calls near the threshold may cross more than once.
    [
      `balanceWarning fired ${warningsBeforeTopUp} time(s) on the way down (once per crossing), ${warnings.length - warningsBeforeTopUp} after the top-up`,
      warningsBeforeTopUp >= 1 && warnings.length === warningsBeforeTopUp,
    ],
    [
      `top-up re-armed the warning (isWarning ${refill.isWarning}, now ${final.isWarning})`,
      low.isWarning && !refill.isWarning && !final.isWarning,
    ],
    ["no unexpected errors", problems.length === 0],
  ];

  const refusedForProvider = status.refused - refusedForBalance;
  console.log(
    `\n${status.calls} calls in ${seconds().trim()} s — ${status.booked} booked, ${status.released} released, ${status.refused} refused (${refusedForProvider} provider not allowed, ${refusedForBalance} insufficient balance)`,
  );
  console.log(`Spend by provider: ${spendLine(status.spendByProvider)} (total ${spent.toFixed(6)} CHF)`);
  for (const [line, ok] of checks) console.log(`${ok ? "✓" : "✗"} ${line}`);
  for (const problem of problems) console.error(problem);

  console.log(`\nThe data stays ${server.started ? `in ${dataDir}` : `on ${url}`} (mandate ${mandateId}). Explore it in GraphiQL:`);
  if (server.started) console.log(`  npm start   # then open http://localhost:${config.PORT}/graphql`);
  console.log(`  Headers: {"Authorization": "Bearer ${watcher}"}`);
  console.log(
    `  { balance(mandateId: "${mandateId}") { balance available isWarning warningThreshold }\n` +
      `    transactions(mandateId: "${mandateId}", first: 20) { edges { node { transactionType amount aicoreProvider aicoreModel featureCode createdByUserId createdAt } } }\n` +
      `    usageStatistics(mandateId: "${mandateId}", period: DAY, year: ${new Date().getFullYear()}, month: ${new Date().getMonth() + 1}) { totals { totalCost byProvider { key cost } byFeature { key cost } } } }`,
  );
  return checks.every(([, ok]) => ok);
}

async function topUp(admin: SaldoClient, mandateId: string, amount: string, key: string) {
  const { creditAccount } = await admin.request(DemoCreditDocument, {
    input: {
      mandateId,
      amount,
      description: key === "welcome" ? "Welcome credit (demo)" : "Top-up by an admin (demo)",
      idempotencyKey: `${mandateId}:${key}`,
    },
  });
  expectNoErrors("creditAccount", creditAccount.userErrors);
  return creditAccount.account!;
}

function expectNoErrors(operation: string, userErrors: { code: string; message: string }[]) {
  if (userErrors.length > 0) throw new Error(`${operation}: ${userErrors.map((e) => `${e.code}: ${e.message}`).join("; ")}`);
}

function sameSpend(a: Map<string, Decimal>, b: Map<string, Decimal>): boolean {
  return a.size === b.size && [...a].every(([key, amount]) => b.get(key)?.eq(amount));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ok = false;
try {
  ok = await main();
} catch (error) {
  if (error instanceof ServerStartError) console.error(error.message);
  else if (error instanceof SaldoRequestError && error.code === "UNAUTHENTICATED") {
    console.error(`${error.message}\nThe server rejected the demo's tokens: run the demo with the server's JWT_SECRET.`);
  } else console.error(error);
} finally {
  await server?.stop();
}
process.exit(ok ? 0 : 1);
