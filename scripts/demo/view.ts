// The demo's live view: in a terminal, two lines redrawn in place
// (cli-progress) with events printed above them; elsewhere (a pipe, CI), the
// events as they happen and a status line every few seconds.
import cliProgress from "cli-progress";
import { Decimal } from "decimal.js";

export interface Status {
  balance: Decimal;
  /** What the bar measures the balance against (the last top-up's balance). */
  scale: Decimal;
  calls: number;
  booked: number;
  released: number;
  refused: number;
  spendByProvider: Map<string, Decimal>;
}

export interface View {
  event(line: string): void;
  update(status: Status): void;
  stop(): void;
}

const chf = (amount: Decimal) => amount.toFixed(6);

export function spendLine(spend: Map<string, Decimal>): string {
  const parts = [...spend].sort(([a], [b]) => a.localeCompare(b)).map(([provider, amount]) => `${provider} ${chf(amount)}`);
  return parts.length ? parts.join(" · ") : "nothing yet";
}

function fields(status: Status) {
  return {
    balance: chf(status.balance),
    calls: status.calls,
    booked: status.booked,
    released: status.released,
    refused: status.refused,
    spend: spendLine(status.spendByProvider),
  };
}

/** The bar's fill: a ratio for display, never an amount. */
const percent = (status: Status) =>
  status.scale.isZero() ? 0 : Math.max(0, Math.min(100, status.balance.div(status.scale).times(100).round().toNumber()));

export function createView(interactive: boolean, statusEveryMs: number): View {
  return interactive ? terminalView() : lineView(statusEveryMs);
}

function terminalView(): View {
  const bars = new cliProgress.MultiBar(
    { stream: process.stdout, hideCursor: true, clearOnComplete: false, autopadding: true, barsize: 24 },
    cliProgress.Presets.shades_classic,
  );
  const empty = { balance: "", calls: 0, booked: 0, released: 0, refused: 0, spend: "" };
  const balance = bars.create(100, 100, empty, {
    format: " balance {bar} {balance} CHF | {calls} calls: {booked} booked, {released} released, {refused} refused",
  });
  const spend = bars.create(100, 0, empty, { format: " spend   {spend}" });
  return {
    event: (line) => bars.log(`${line}\n`),
    update: (status) => {
      balance.update(percent(status), fields(status));
      spend.update(0, fields(status));
    },
    stop: () => bars.stop(),
  };
}

function lineView(statusEveryMs: number): View {
  let latest: Status | undefined;
  let printed: Status | undefined;
  const print = () => {
    if (!latest || latest === printed) return;
    printed = latest;
    const f = fields(latest);
    console.log(
      `  · balance ${f.balance} CHF | ${f.calls} calls: ${f.booked} booked, ${f.released} released, ${f.refused} refused | spend ${f.spend}`,
    );
  };
  const timer = setInterval(print, statusEveryMs);
  return {
    event: (line) => console.log(line),
    update: (status) => (latest = { ...status }),
    stop: () => {
      clearInterval(timer);
      print();
    },
  };
}
