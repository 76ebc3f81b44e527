// Bounded load on a real server while a fault happens, and what it proves
// afterwards. Every request has its own idempotency key, kept with its body,
// so that after the fault each one can be sent again as a client's retry
// would be: what was acknowledged must come back the same and book nothing
// twice, and what failed must book exactly once.
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { signToken } from "../../src/auth.js";
import { openDatabase } from "../../src/db/open.js";
import { beforeAll, expect, it } from "vitest";
import { expectLedgerInvariants } from "./billing.js";
import { sleep, type SaldoProcess } from "./fault-infra.js";

export type Operation = "credit" | "record" | "authorize" | "settle";

export type Outcome =
  { kind: "ack"; id: string; status: number } | { kind: "failed"; label: string; status?: number; retryAfter?: string | null };

export interface SentRequest {
  operation: Operation;
  mandateId: string;
  token: string;
  body: string;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  resent?: Outcome;
  resentAt?: number;
}

const CREDIT = `mutation($input: CreditAccountInput!) { creditAccount(input: $input) { transaction { id } userErrors { code message } } }`;
const RECORD = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { transaction { id } userErrors { code message } } }`;
const AUTHORIZE = `mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { authorization { id } userErrors { code message } } }`;
const SETTLE = `mutation($input: SettleUsageInput!) { settleUsage(input: $input) { transaction { id } userErrors { code message } } }`;
const UPSERT = `mutation($id: ID!, $name: String!) { upsertMandate(input: { id: $id, name: $name }) { userErrors { code message } } }`;

/** Transactions written while setting up (not part of the load): their keys start with this. */
const SETUP_KEY = "setup-";

export interface Callers {
  admin: string;
  gateway: string;
}

export async function callers(secret: string): Promise<Callers> {
  return {
    admin: await signToken({ roles: ["SYSADMIN"], userId: "fault-admin" }, secret),
    gateway: await signToken({ roles: ["SERVICE"], userId: "fault-gateway" }, secret),
  };
}

/** One POST as a client sends it, its outcome classified; never throws. */
export async function send(url: string, token: string, body: string, timeoutMs = 30_000): Promise<Outcome> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json;q=0.9",
        authorization: `Bearer ${token}`,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { kind: "failed", label: networkLabel(error) };
  }
  const retryAfter = response.headers.get("retry-after");
  let json: { data?: Record<string, any> | null; errors?: { extensions?: { code?: string } }[] };
  try {
    json = await response.json();
  } catch (error) {
    return { kind: "failed", status: response.status, label: `${response.status} ${networkLabel(error)}`, retryAfter };
  }
  if (json.errors?.length) {
    return {
      kind: "failed",
      status: response.status,
      label: `${response.status} ${json.errors[0].extensions?.code ?? "(no code)"}`,
      retryAfter,
    };
  }
  const payload = Object.values(json.data ?? {})[0] ?? {};
  if (payload.userErrors?.length) return { kind: "failed", status: response.status, label: `userError ${payload.userErrors[0].code}` };
  const id = payload.transaction?.id ?? payload.authorization?.id;
  if (!id) return { kind: "failed", status: response.status, label: `${response.status} no result` };
  return { kind: "ack", id, status: response.status };
}

function networkLabel(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string }; message?: string };
  if (e.name === "TimeoutError") return "timeout";
  return e.cause?.code ?? e.name ?? "network error";
}

/** `count` mandates, each credited generously so no operation is refused for want of money. */
export async function createMandates(server: SaldoProcess, who: Callers, count: number): Promise<string[]> {
  const prefix = `f${randomUUID().slice(0, 6)}`;
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) {
    const upsert = await post(server.url, who.admin, UPSERT, { id, name: id });
    if (upsert.errors || upsert.data.upsertMandate.userErrors.length) throw new Error(`upsertMandate ${id}: ${JSON.stringify(upsert)}`);
    const credit = await send(
      server.url,
      who.admin,
      body(CREDIT, { mandateId: id, amount: "1000000", description: "fault setup", idempotencyKey: `${SETUP_KEY}${id}` }),
    );
    if (credit.kind !== "ack") throw new Error(`setup credit of ${id}: ${credit.label}`);
  }
  return ids;
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  return response.json();
}

const body = (query: string, input: Record<string, unknown>) => JSON.stringify({ query, variables: { input } });

export interface LoadOptions {
  /** The server's URL, read at every request (a restarted server keeps its port). */
  url: () => string;
  who: Callers;
  mandates: string[];
  clients: number;
  /** Clients that only ever use this mandate (the row lock scenario). */
  focus?: { mandateId: string; clients: number };
  /** Pause between a client's requests. */
  thinkMs?: number;
}

/**
 * `clients` loops, each sending creditAccount, recordUsage or
 * authorizeUsage followed by settleUsage of the hold it got, until stopped.
 * A failed request is followed by a short pause, as a client would back off.
 */
export class Load {
  readonly requests: SentRequest[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private faultStart: number | undefined;
  private faultEnd: number | undefined;

  constructor(private readonly options: LoadOptions) {}

  start() {
    this.running = true;
    const { clients, focus } = this.options;
    for (let i = 0; i < clients; i++) this.loops.push(this.client(() => this.pick()));
    for (let i = 0; i < (focus?.clients ?? 0); i++) this.loops.push(this.client(() => focus!.mandateId));
  }

  async stop() {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** The fault begins now (requests from here until faultEnded are "during the fault"). */
  faultStarted(at = Date.now()) {
    this.faultStart = at;
  }

  faultEnded(at = Date.now()) {
    this.faultEnd = at;
  }

  /** Resolves at the first acknowledged request sent after the fault ended; false after `timeoutMs`. */
  async recovered(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.recoveryMs() !== undefined) return true;
      await sleep(50);
    }
    return false;
  }

  /** From the end of the fault to the first acknowledged request sent after it. */
  recoveryMs(): number | undefined {
    const end = this.faultEnd;
    if (end === undefined) return undefined;
    const first = this.requests.filter((r) => r.startedAt >= end && r.outcome.kind === "ack").sort((a, b) => a.endedAt - b.endedAt)[0];
    return first ? first.endedAt - end : undefined;
  }

  /** Requests sent while the fault lasted. */
  duringFault(): SentRequest[] {
    const start = this.faultStart ?? Infinity;
    const end = this.faultEnd ?? Infinity;
    return this.requests.filter((r) => r.startedAt >= start && r.startedAt < end);
  }

  private pick(): string {
    const { mandates } = this.options;
    return mandates[Math.floor(Math.random() * mandates.length)];
  }

  private async client(mandate: () => string) {
    const { who, thinkMs = 20 } = this.options;
    while (this.running) {
      const mandateId = mandate();
      const key = `fault-${randomUUID()}`;
      const choice = Math.random();
      let last: SentRequest;
      if (choice < 0.3) {
        last = await this.request(
          "credit",
          mandateId,
          who.admin,
          body(CREDIT, { mandateId, amount: "2.5", description: "fault credit", idempotencyKey: key }),
        );
      } else if (choice < 0.6) {
        last = await this.request(
          "record",
          mandateId,
          who.gateway,
          body(RECORD, {
            mandateId,
            provider: "anthropic",
            model: "claude-sonnet-4-5",
            cost: "0.012345",
            metadata: { featureCode: "fault" },
            idempotencyKey: key,
          }),
        );
      } else {
        last = await this.request(
          "authorize",
          mandateId,
          who.gateway,
          body(AUTHORIZE, { mandateId, provider: "anthropic", model: "claude-sonnet-4-5", estimatedCost: "0.05", idempotencyKey: key }),
        );
        if (last.outcome.kind === "ack" && this.running) {
          last = await this.request(
            "settle",
            mandateId,
            who.gateway,
            body(SETTLE, { authorizationId: last.outcome.id, cost: "0.04", metadata: { featureCode: "fault" } }),
          );
        }
      }
      await sleep(last.outcome.kind === "ack" ? thinkMs : 250);
    }
  }

  private async request(operation: Operation, mandateId: string, token: string, requestBody: string): Promise<SentRequest> {
    const startedAt = Date.now();
    const outcome = await send(this.options.url(), token, requestBody);
    const sent: SentRequest = { operation, mandateId, token, body: requestBody, startedAt, endedAt: Date.now(), outcome };
    this.requests.push(sent);
    return sent;
  }

  /** Sends every request again with its key, `concurrency` at a time, recording what came back. */
  async resendAll(concurrency = 16): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < this.requests.length) {
        const request = this.requests[next++];
        request.resentAt = Date.now();
        request.resent = await send(this.options.url(), request.token, request.body);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
}

// ---------------------------------------------------------------- checking

export interface Verdict {
  sent: number;
  acknowledged: number;
  /** Failed original requests by HTTP status and error code (or network error). */
  failed: Record<string, number>;
  /** Acknowledged money moves whose transaction is not in the ledger. */
  lost: number;
  /** Money moves booked more than once, or a retry answered with another transaction than the first answer. */
  duplicated: number;
  /** Retries (with the original key) that were not acknowledged, by error. */
  resendFailed: Record<string, number>;
  /** Failed original requests that carried a 503 without Retry-After. */
  missingRetryAfter: number;
  /**
   * Money moves that were answered with an error but booked anyway (their
   * transaction is older than their retry). Legitimate only when the
   * connection died around COMMIT: the retry with the key then returns it.
   */
  bookedDespiteError: number;
  /** What expectLedgerInvariants found wrong (balance = sum of deltas, the balanceAfter chain, rollups = debits), or null. */
  invariants: string | null;
}

const MONEY: Operation[] = ["credit", "record", "settle"];

function tally(labels: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

/**
 * After resendAll: compares what clients were told with the ledger of the
 * database (PostgreSQL URL, or an embedded data directory no server holds),
 * then checks the ledger's invariants.
 */
export async function verify(load: Load, database: { databaseUrl?: string; dataDir?: string }): Promise<Verdict> {
  const requests = load.requests;
  const failedOriginals = requests.filter((r) => r.outcome.kind === "failed");
  let duplicated = 0;
  const ackedIds = new Set<string>();
  for (const r of requests) {
    const first = r.outcome.kind === "ack" ? r.outcome.id : undefined;
    const again = r.resent?.kind === "ack" ? r.resent.id : undefined;
    if (first && again && first !== again) duplicated++;
    if (MONEY.includes(r.operation)) {
      if (first) ackedIds.add(first);
      if (again) ackedIds.add(again);
    }
  }
  const db = await openDatabase(database);
  try {
    const found = await db.prisma.transaction.findMany({ where: { id: { in: [...ackedIds] } }, select: { id: true, createdAt: true } });
    const present = new Set(found.map((t) => t.id));
    const createdAt = new Map(found.map((t) => [t.id, t.createdAt.getTime()]));
    const bookedDespiteError = failedOriginals.filter(
      (r) => MONEY.includes(r.operation) && r.resent?.kind === "ack" && (createdAt.get(r.resent.id) ?? Infinity) < r.resentAt!,
    ).length;
    const lost = requests.filter((r) => MONEY.includes(r.operation) && r.outcome.kind === "ack" && !present.has(r.outcome.id)).length;
    // Every money request is acknowledged after its retry, so the ledger must hold exactly one entry for each.
    const booked = await db.prisma.transaction.count({ where: { NOT: { idempotencyKey: { startsWith: SETUP_KEY } } } });
    const moneyRequests = requests.filter((r) => MONEY.includes(r.operation)).length;
    duplicated += Math.max(0, booked - moneyRequests);
    const holds = await db.prisma.usageAuthorization.count();
    duplicated += Math.max(0, holds - requests.filter((r) => r.operation === "authorize").length);
    const invariants = await expectLedgerInvariants(db.prisma).then(
      () => null,
      (error: Error) => error.message.slice(0, 500),
    );
    return {
      sent: requests.length,
      acknowledged: requests.length - failedOriginals.length,
      failed: tally(failedOriginals.map((r) => (r.outcome as { label: string }).label)),
      lost: lost + Math.max(0, moneyRequests - booked),
      duplicated,
      resendFailed: tally(
        requests.filter((r) => r.resent?.kind !== "ack").map((r) => (r.resent as { label?: string } | undefined)?.label ?? "not resent"),
      ),
      missingRetryAfter: failedOriginals.filter((r) => r.outcome.kind === "failed" && r.outcome.status === 503 && !r.outcome.retryAfter)
        .length,
      bookedDespiteError,
      invariants,
    };
  } finally {
    await db.close();
  }
}

// ----------------------------------------------------------------- report

export interface ScenarioRow {
  scenario: string;
  verdict?: Verdict;
  recoveryMs?: number;
  /** Whether the server process was alive at the end (null: not known, the scenario failed). */
  alive: boolean | null;
  notes: string[];
}

const rows: ScenarioRow[] = [];

export function report(row: ScenarioRow) {
  rows.push(row);
  const line = tableLine(row);
  console.log(`\n${TABLE_HEAD}\n${line}\n`);
  // FAULT_REPORT=file collects the rows of a run (e.g. for a baseline).
  if (process.env.FAULT_REPORT) appendFileSync(process.env.FAULT_REPORT, `${line}\n`);
}

export const TABLE_HEAD =
  "| scenario | sent | acknowledged | failed (by error) | lost | duplicated | retries not acknowledged | recovery | process alive | ledger invariants | notes |\n" +
  "|---|---:|---:|---|---:|---:|---|---:|---|---|---|";

function tableLine(row: ScenarioRow): string {
  const v = row.verdict;
  const counts = (record: Record<string, number> | undefined) =>
    record && Object.keys(record).length
      ? Object.entries(record)
          .map(([k, n]) => `${k} ×${n}`)
          .join(", ")
      : "–";
  const cells = [
    row.scenario,
    v ? String(v.sent) : "?",
    v ? String(v.acknowledged) : "?",
    v ? counts(v.failed) : "?",
    v ? String(v.lost) : "?",
    v ? String(v.duplicated) : "?",
    v ? counts(v.resendFailed) : "?",
    row.recoveryMs === undefined ? "none" : `${(row.recoveryMs / 1000).toFixed(2)} s`,
    row.alive === null ? "?" : row.alive ? "yes" : "**no**",
    v ? (v.invariants ? "**broken**" : "hold") : "?",
    [
      ...row.notes,
      ...(v?.bookedDespiteError
        ? [
            `${v.bookedDespiteError} request(s) answered with an error had booked (connection lost around COMMIT); their retry returned that entry`,
          ]
        : []),
    ].join("; ") || "–",
  ];
  return `| ${cells.join(" | ")} |`;
}

export function printReport(title: string) {
  if (rows.length === 0) return;
  console.log(`\n${title}\n\n${TABLE_HEAD}\n${rows.map(tableLine).join("\n")}\n`);
}

// -------------------------------------------------------------- scenarios

/** The lines of the server's output that say why it died (the error and its code, not the stack). */
export function lastError(output: string): string {
  const lines = output.split("\n").map((l) => l.trim());
  const error =
    lines.find((l) => /^(\w*Error|error)\b.*:/.test(l) || /^Emitted 'error' event/.test(l)) ??
    lines.find((l) => /error/i.test(l)) ??
    "no output";
  const code = output.match(/code: '([0-9A-Z]{5})'/)?.[1];
  return `${error.slice(0, 160)}${code ? ` (SQLSTATE ${code})` : ""}`;
}

/** Runs a scenario once; a scenario that throws still leaves its row (and the tests then fail on it). */
export function scenario(name: string, body: (row: ScenarioRow) => Promise<void>, timeoutMs = 150_000): () => ScenarioRow {
  const row: ScenarioRow = { scenario: name, alive: null, notes: [] };
  beforeAll(async () => {
    try {
      await body(row);
    } catch (error) {
      row.notes.push(`scenario failed: ${(error as Error).message.split("\n")[0]}`);
      throw error;
    } finally {
      report(row);
    }
  }, timeoutMs);
  return () => row;
}

/** Expectations every scenario shares: nothing lost or doubled, every retry answered, the ledger consistent. */
export function moneyHolds(result: () => ScenarioRow) {
  it("loses nothing acknowledged and books nothing twice, also when every request is sent again with its key", () => {
    const v = result().verdict!;
    expect({ lost: v.lost, duplicated: v.duplicated, retriesNotAcknowledged: v.resendFailed }).toEqual({
      lost: 0,
      duplicated: 0,
      retriesNotAcknowledged: {},
    });
  });
  it("keeps the ledger's invariants (balance = sum of deltas, balanceAfter chain, rollups = debits)", () => {
    expect(result().verdict!.invariants).toBeNull();
  });
}

/** What a client sees while the database is away: 503 SERVICE_UNAVAILABLE with Retry-After, never a bare "Unexpected error.". */
export function failuresAreServiceUnavailable(result: () => ScenarioRow) {
  it("answers requests it cannot serve with 503 SERVICE_UNAVAILABLE and Retry-After (issue 13 item 4)", () => {
    const v = result().verdict!;
    expect(Object.keys(v.failed).filter((label) => label !== "503 SERVICE_UNAVAILABLE")).toEqual([]);
    expect(v.missingRetryAfter).toBe(0);
  });
}
