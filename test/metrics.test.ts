// /metrics after money moves through the API: the ledger's saldo_* counters
// and gauges carry exactly what happened, GraphQL's own metrics count the
// operations and errors by code, METRICS_TOKEN guards the endpoint and
// METRICS_PORT moves it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createApp, type App } from "../src/app.js";
import { serveMetrics } from "../src/metrics.js";
import { createTestApp, type TestApp } from "./support/app.js";
import { uniqueId } from "./support/billing.js";

const SYSADMIN = { roles: ["SYSADMIN" as const], userId: "ops" };
const SERVICE = { roles: ["SERVICE" as const] };
const TOKEN = "metrics-token-0123456789abcdef";

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp({ METRICS_TOKEN: TOKEN });
});
afterAll(async () => {
  await app?.close();
});

/** The value of one sample of the exposition text; 0 when the series does not exist. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) return Number(match[3]);
  }
  return 0;
}

async function scrape(): Promise<string> {
  const response = await app.yoga.fetch("http://yoga/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

async function ok<T = any>(query: string, variables: Record<string, unknown>, caller: typeof SYSADMIN | typeof SERVICE): Promise<T> {
  const result = await app.gql<T>(query, variables, caller);
  expect(result.errors).toBeUndefined();
  return result.data as T;
}

const CREDIT = `mutation($i: CreditAccountInput!) { creditAccount(input: $i) { transaction { id } userErrors { code } } }`;
const RECORD = `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { transaction { id } userErrors { code } } }`;
const AUTHORIZE = `mutation($i: AuthorizeUsageInput!) { authorizeUsage(input: $i) { authorization { id } userErrors { code } } }`;
const SETTLE = `mutation($i: SettleUsageInput!) { settleUsage(input: $i) { transaction { id } userErrors { code } } }`;
const CHECK = `query($i: CheckBillingInput!) { checkBilling(input: $i) { allowed reason } }`;

describe("/metrics", () => {
  it("counts money moves by kind and outcome, denials by reason, and reads active holds at scrape time", async () => {
    const mandateId = uniqueId("metrics");
    await ok(
      `mutation($i: UpsertMandateInput!) { upsertMandate(input: $i) { userErrors { code } } }`,
      { i: { id: mandateId, name: "Metrics AG" } },
      SYSADMIN,
    );
    const before = await scrape();
    const moves = (kind: string, outcome: string, code = "") => sample(before, "saldo_money_moves_total", { kind, outcome, code });
    const expected = {
      creditBooked: moves("credit", "booked") + 1,
      creditReplayed: moves("credit", "replayed") + 1,
      creditConflict: moves("credit", "refused", "IDEMPOTENCY_CONFLICT") + 1,
      usageBooked: moves("usage", "booked") + 2,
      holdBooked: moves("hold", "booked") + 1,
      holdRefused: moves("hold", "refused", "INSUFFICIENT_BALANCE") + 1,
      settlementBooked: moves("settlement", "booked") + 1,
    };

    const credit = { mandateId, amount: "10", description: "Start", idempotencyKey: "credit-1" };
    expect((await ok(CREDIT, { i: credit }, SYSADMIN)).creditAccount.userErrors).toEqual([]);
    expect((await ok(CREDIT, { i: credit }, SYSADMIN)).creditAccount.userErrors).toEqual([]); // a replay
    expect((await ok(CREDIT, { i: { ...credit, amount: "11" } }, SYSADMIN)).creditAccount.userErrors).toEqual([
      { code: "IDEMPOTENCY_CONFLICT" },
    ]);
    for (const key of ["use-1", "use-2"]) {
      const { recordUsage } = await ok(
        RECORD,
        { i: { mandateId, provider: "openai", model: "m", cost: "1", idempotencyKey: key } },
        SERVICE,
      );
      expect(recordUsage.userErrors).toEqual([]);
    }
    const denied = await ok(
      AUTHORIZE,
      { i: { mandateId, provider: "openai", model: "m", estimatedCost: "1000", idempotencyKey: "big" } },
      SERVICE,
    );
    expect(denied.authorizeUsage.userErrors).toEqual([{ code: "INSUFFICIENT_BALANCE" }]);
    expect((await ok(CHECK, { i: { mandateId, provider: "openai", estimatedCost: "1000" } }, SERVICE)).checkBilling).toEqual({
      allowed: false,
      reason: "INSUFFICIENT_BALANCE",
    });
    const held = await ok(
      AUTHORIZE,
      { i: { mandateId, provider: "openai", model: "m", estimatedCost: "2.5", idempotencyKey: "hold-1" } },
      SERVICE,
    );
    expect(held.authorizeUsage.userErrors).toEqual([]);

    const whileHeld = await scrape();
    expect(sample(whileHeld, "saldo_active_holds")).toBe(1);
    expect(sample(whileHeld, "saldo_active_holds_amount_chf")).toBe(2.5);

    const settled = await ok(SETTLE, { i: { authorizationId: held.authorizeUsage.authorization.id, cost: "2" } }, SERVICE);
    expect(settled.settleUsage.userErrors).toEqual([]);

    const after = await scrape();
    const now = (kind: string, outcome: string, code = "") => sample(after, "saldo_money_moves_total", { kind, outcome, code });
    expect({
      creditBooked: now("credit", "booked"),
      creditReplayed: now("credit", "replayed"),
      creditConflict: now("credit", "refused", "IDEMPOTENCY_CONFLICT"),
      usageBooked: now("usage", "booked"),
      holdBooked: now("hold", "booked"),
      holdRefused: now("hold", "refused", "INSUFFICIENT_BALANCE"),
      settlementBooked: now("settlement", "booked"),
    }).toEqual(expected);
    expect(sample(after, "saldo_billing_denials_total", { reason: "INSUFFICIENT_BALANCE", operation: "hold" })).toBe(
      sample(before, "saldo_billing_denials_total", { reason: "INSUFFICIENT_BALANCE", operation: "hold" }) + 1,
    );
    expect(sample(after, "saldo_billing_denials_total", { reason: "INSUFFICIENT_BALANCE", operation: "check" })).toBe(
      sample(before, "saldo_billing_denials_total", { reason: "INSUFFICIENT_BALANCE", operation: "check" }) + 1,
    );
    expect(sample(after, "saldo_active_holds")).toBe(0);
    expect(after).toMatch(/^saldo_outbox_backlog \d+$/m);
    expect(after).toMatch(/^saldo_outbox_failed \d+$/m);
    expect(after).toMatch(/^saldo_auto_topups\{status="FAILED"\} 0$/m);
    // yoga's own: operations counted per operation name.
    expect(sample(after, "graphql_envelop_request", { operationType: "mutation" })).toBeGreaterThan(0);
  });

  it("counts GraphQL errors by code", async () => {
    const before = await scrape();
    const forbidden = await app.gql("query Forbidden { mandates(first: 1) { edges { node { id } } } }", {});
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const invalid = await app.gql("query Invalid { nope }", {}, SYSADMIN);
    expect(invalid.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    const after = await scrape();
    const errors = (text: string, operationName: string, code: string) =>
      sample(text, "graphql_envelop_error_result", { operationName, code });
    expect(errors(after, "Forbidden", "UNAUTHENTICATED")).toBe(errors(before, "Forbidden", "UNAUTHENTICATED") + 1);
    expect(errors(after, "Invalid", "GRAPHQL_VALIDATION_FAILED")).toBe(errors(before, "Invalid", "GRAPHQL_VALIDATION_FAILED") + 1);
  });

  it("observes the size of every batch the write path commits", async () => {
    const mandateId = uniqueId("metrics");
    await ok(
      `mutation($i: UpsertMandateInput!) { upsertMandate(input: $i) { userErrors { code } } }`,
      { i: { id: mandateId, name: "Batch AG" } },
      SYSADMIN,
    );
    const before = await scrape();
    const inputs = Array.from({ length: 5 }, (_, i) => ({
      mandateId,
      provider: "openai",
      model: "gpt-5",
      cost: "0",
      idempotencyKey: `batch-${i}`,
    }));
    const booked = await ok(
      `mutation($inputs: [RecordUsageInput!]!) { recordUsages(inputs: $inputs) { results { userErrors { code } } } }`,
      { inputs },
      SERVICE,
    );
    expect(booked.recordUsages.results.flatMap((r: { userErrors: unknown[] }) => r.userErrors)).toEqual([]);
    const after = await scrape();
    // Five usages submitted together: at least one batch, carrying all five moves.
    expect(sample(after, "saldo_write_batch_size_sum") - sample(before, "saldo_write_batch_size_sum")).toBe(5);
    expect(sample(after, "saldo_write_batch_size_count") - sample(before, "saldo_write_batch_size_count")).toBeGreaterThanOrEqual(1);
  });

  it("requires the bearer METRICS_TOKEN when one is set", async () => {
    const none = await app.yoga.fetch("http://yoga/metrics");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await app.yoga.fetch("http://yoga/metrics", { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
    expect((await app.yoga.fetch("http://yoga/metrics", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it("moves to a port of its own with METRICS_PORT", async () => {
    const other: App = await createApp(loadConfig({ JWT_SECRET: "x".repeat(40), METRICS_PORT: "0" }), {
      database: app.db,
      backgroundJobs: false,
      processMetrics: false,
    });
    const server = await serveMetrics(other.metrics, 0);
    try {
      expect((await other.yoga.fetch("http://yoga/metrics")).status).toBe(404);
      const port = (server.address() as { port: number }).port;
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/^saldo_active_holds \d+$/m);
      expect((await fetch(`http://127.0.0.1:${port}/graphql`)).status).toBe(404);
    } finally {
      server.close();
      await other.close();
    }
  });
});
