// Recomputes the usage rollups (UsageStatistics) from the ledger and corrects
// what differs, with a progress bar over the accounts:
//
//   npm run stats:rebuild [-- --mandate ID] [--dry-run]
//
// Uses the configured database (DATABASE_URL, else the embedded database in
// SALDO_DATA_DIR) and the billing time zone (BILLING_TIME_ZONE). Safe while
// the server serves on PostgreSQL: each account is rebuilt under the account
// lock every debit takes (src/billing/rebuild.ts). The embedded database
// belongs to one process: while a server runs on it, this script stops with
// the database's message (stop the server, or use PostgreSQL).
//
// Prints every difference it corrected and a summary. Exit code 0 when done
// (also when something was corrected), 1 on an error, 2 on bad arguments.
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { BillingError } from "../src/billing/shared/errors.js";
import { rebuildRollups, type RollupDifference, type RollupValues } from "../src/billing/statistics/rebuild.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { DatabaseOpenError, openDatabase, type Database } from "../src/db/open.js";

const usage = "usage: npm run stats:rebuild [-- --mandate ID] [--dry-run]";

function parse() {
  try {
    return parseArgs({
      options: {
        mandate: { type: "string", short: "m" },
        "dry-run": { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    console.error((error as Error).message);
    console.error(usage);
    process.exit(2);
  }
}

const shares = (s: Record<string, string>) =>
  Object.keys(s).length === 0
    ? "{}"
    : `{ ${Object.entries(s)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ")} }`;

/** What differs between a stored and an expected row, field by field. */
function describe(d: RollupDifference): string {
  const where = `${d.mandateId} / ${d.accountKey} (${d.accountId}) ${d.period.padEnd(5)} ${d.periodStart}`;
  const figures = (v: RollupValues) =>
    `total ${v.totalCost}, count ${v.transactionCount}, providers ${shares(v.costByProvider)}, features ${shares(v.costByFeature)}`;
  if (d.kind === "missing") return `${where}  missing: ${figures(d.expected!)}`;
  if (d.kind === "extra") return `${where}  no debits, removed: ${figures(d.stored!)}`;
  const s = d.stored!;
  const e = d.expected!;
  const changes: string[] = [];
  if (s.totalCost !== e.totalCost) changes.push(`total ${s.totalCost} -> ${e.totalCost}`);
  if (s.transactionCount !== e.transactionCount) changes.push(`count ${s.transactionCount} -> ${e.transactionCount}`);
  if (shares(s.costByProvider) !== shares(e.costByProvider))
    changes.push(`providers ${shares(s.costByProvider)} -> ${shares(e.costByProvider)}`);
  if (shares(s.costByFeature) !== shares(e.costByFeature))
    changes.push(`features ${shares(s.costByFeature)} -> ${shares(e.costByFeature)}`);
  if (s.mandateId !== e.mandateId) changes.push(`mandate ${s.mandateId} -> ${e.mandateId}`);
  // Equal after normalising (e.g. "1.5" where the ledger writes "1.500000"): the stored text is rewritten.
  if (changes.length === 0) changes.push(`stored ${figures(s)}`);
  return `${where}  wrong: ${changes.join("; ")}`;
}

async function main(): Promise<number> {
  const args = parse();
  if (args.help) {
    console.log(usage);
    return 0;
  }
  const dryRun = args["dry-run"] ?? false;
  const config = loadConfig();
  const where = config.DATABASE_URL
    ? `PostgreSQL ${config.DATABASE_URL.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")}`
    : `the embedded database in ${config.SALDO_DATA_DIR}`;
  console.log(
    `${dryRun ? "Checking" : "Rebuilding"} usage statistics of ${args.mandate ? `mandate ${args.mandate}` : "every mandate"} ` +
      `on ${where}, periods in ${config.BILLING_TIME_ZONE}.`,
  );
  let database: Database | undefined;
  // Interactive: a bar on the terminal, differences printed above it. Otherwise plain lines.
  const interactive = Boolean(process.stdout.isTTY && process.stderr.isTTY);
  const bars = interactive
    ? new cliProgress.MultiBar(
        {
          format: " {bar} {percentage}% | {value}/{total} accounts | {found} differences | ETA {eta_formatted}",
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let bar: cliProgress.SingleBar | undefined;
  let found = 0;
  let lastPercent = -1;
  try {
    database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.SALDO_DATA_DIR, poolSize: 2 });
    const report = await rebuildRollups(database, {
      mandateId: args.mandate,
      timeZone: config.BILLING_TIME_ZONE,
      dryRun,
      onProgress: (p) => {
        found += p.differences.length;
        if (bars) {
          bar ??= bars.create(p.total, 0, { found: 0 });
          for (const d of p.differences) bars.log(`${describe(d)}\n`);
          bar.update(p.done, { found });
          // Redraw now: prints the logged lines above the bar.
          if (p.differences.length > 0 || p.done === p.total) bars.update();
        } else {
          for (const d of p.differences) console.log(describe(d));
          const percent = Math.floor((p.done / p.total) * 10) * 10;
          if (percent !== lastPercent) {
            lastPercent = percent;
            console.error(`  ${p.done}/${p.total} accounts (${percent} %)`);
          }
        }
      },
    });
    bars?.stop();
    const kinds = (["missing", "wrong", "extra"] as const)
      .map((kind) => [kind, report.differences.filter((d) => d.kind === kind).length] as const)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${kind}`);
    const what =
      report.differences.length === 0
        ? "all rollups equal the ledger"
        : `${report.differences.length} row(s) differed from the ledger (${kinds.join(", ")}), ${dryRun ? "NOT corrected (dry run)" : "corrected"}`;
    console.log(
      `Checked ${report.accounts} account(s), ${report.rows} rollup row(s), in ${(report.milliseconds / 1000).toFixed(1)} s: ${what}.`,
    );
    return 0;
  } catch (error) {
    bars?.stop();
    if (error instanceof DatabaseOpenError || error instanceof BillingError) {
      console.error(`stats:rebuild: ${error.message}`);
    } else {
      console.error("stats:rebuild failed:", error instanceof Error ? (error.stack ?? error.message) : error);
    }
    return 1;
  } finally {
    await database?.close().catch(() => undefined);
  }
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  code = error instanceof ConfigError ? 2 : 1;
}
process.exit(code);
