// The gateway client (saldo/client) against the real server process on a
// free port, over HTTP, with the embedded database in a temporary directory.
// A small proxy between them loses, delays or refuses chosen requests, as a
// network would.
//
// Runs in the pglite project only (vitest.config.ts): what is tested here is
// the client (its keys, retries, typed errors and choreography), which is the
// same whatever database the server uses; the server's ledger rules run on
// both databases in test/billing and test/api.
import { readFileSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { Decimal } from "decimal.js";
import { buildSchema, parse, validate } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AccountDisabledError,
  createSaldoClient,
  InsufficientBalanceError,
  ProviderNotAllowedError,
  SaldoRequestError,
  SaldoUnavailableError,
  SaldoUserError,
  UnsettledHoldError,
  type Hold,
  type SaldoClientOptions,
} from "saldo/client";
import { signToken } from "../../src/auth.js";
import { uniqueId } from "../support/billing.js";
import { graphql as request, startServer, STARTUP_TIMEOUT_MS, type ServerProcess } from "../support/live.js";

const SECRET = "client-e2e-secret-that-is-long-enough-0123456789";
const root = path.resolve(import.meta.dirname, "../..");
let server: ServerProcess;
let admin: string;
let gatewayToken: string;

/** A client with fast retries (tests need not wait seconds for a backoff). */
const client = (options: Partial<SaldoClientOptions> = {}) =>
  createSaldoClient({ url: server.url, token: gatewayToken, retries: { retries: 3, minDelayMs: 20, maxDelayMs: 200 }, ...options });

const CALL = { provider: "anthropic", model: "claude-haiku-4-5" };
// (20000 x 1 + 4000 x 5) / 1e6 = 0.04 USD; x 0.80 x 1.5 = 0.048 CHF
const USAGE = { inputTokens: 20_000, outputTokens: 4_000 };

async function newMandate(options: { credit?: string; allowedProviders?: string[] } = {}): Promise<string> {
  const id = uniqueId("client");
  const created = await graphql(
    admin,
    `
      mutation ($id: ID!) {
        upsertMandate(input: { id: $id, name: "Client AG" }) {
          userErrors {
            code
            message
          }
        }
      }
    `,
    { id },
  );
  expect(created.upsertMandate.userErrors).toEqual([]);
  if (options.allowedProviders) {
    const updated = await graphql(
      admin,
      `
        mutation ($id: ID!, $providers: [String!]) {
          updateSettings(input: { mandateId: $id, allowedProviders: $providers }) {
            userErrors {
              code
              message
            }
          }
        }
      `,
      { id, providers: options.allowedProviders },
    );
    expect(updated.updateSettings.userErrors).toEqual([]);
  }
  if (options.credit) {
    const credited = await graphql(
      admin,
      `
        mutation ($id: ID!, $amount: Decimal!) {
          creditAccount(input: { mandateId: $id, amount: $amount, description: "Top-up", idempotencyKey: "credit" }) {
            userErrors {
              code
              message
            }
          }
        }
      `,
      { id, amount: options.credit },
    );
    expect(credited.creditAccount.userErrors).toEqual([]);
  }
  return id;
}

async function account(mandateId: string) {
  const data = await graphql(
    admin,
    `
      query ($id: ID!) {
        balance(mandateId: $id) {
          accountId
          balance
          held
          available
        }
        transactions(mandateId: $id, first: 100, filter: { transactionTypes: [DEBIT] }) {
          totalCount
          edges {
            node {
              id
              amount
              aicoreProvider
              featureCode
            }
          }
        }
      }
    `,
    { id: mandateId },
  );
  return {
    ...data.balance,
    debits: data.transactions.edges.map((e: { node: unknown }) => e.node),
    debitCount: data.transactions.totalCount,
  };
}

/** An admin's request to the server, directly (not through the client under test). */
function graphql<T = any>(token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  return request(server, token, query, variables);
}

// ---------------------------------------------------------------------------
// A proxy in front of the server. `plan` decides, per request, what the
// network does with it: forward it, forward it and lose the answer (the
// server did the work, the client never hears), answer late, or cut the
// connection before the server sees anything.
type Fate = "forward" | "lose-answer" | "refuse" | { delayMs: number };
interface Seen {
  operation: string;
  variables: any;
}

interface Proxy {
  url: string;
  seen: Seen[];
  plan: (request: Seen, index: number) => Fate;
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const proxy: Proxy = { url: "", seen: [], plan: () => "forward", close: async () => undefined };
  const http: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const request: Seen = { operation: /^\s*(?:query|mutation)\s+(\w+)/.exec(body.query)?.[1] ?? "?", variables: body.variables };
    const index = proxy.seen.filter((s) => s.operation === request.operation).length;
    proxy.seen.push(request);
    const fate = proxy.plan(request, index);
    if (fate === "refuse") return void req.socket.destroy();
    const upstream = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json", accept: String(req.headers.accept), authorization: String(req.headers.authorization) },
      body: JSON.stringify(body),
    });
    const text = await upstream.text();
    if (fate === "lose-answer") return void req.socket.destroy();
    if (typeof fate === "object") await new Promise((r) => setTimeout(r, fate.delayMs));
    if (req.socket.destroyed) return;
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
    res.end(text);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(http.address() as { port: number }).port}/graphql`;
  proxy.close = () =>
    new Promise((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    });
  return proxy;
}

const count = (proxy: Proxy, operation: string) => proxy.seen.filter((s) => s.operation === operation).length;

beforeAll(async () => {
  admin = await signToken({ roles: ["SYSADMIN"], userId: "client-admin" }, SECRET);
  gatewayToken = await signToken({ roles: ["SERVICE"] }, SECRET);
  server = await startServer({ secret: SECRET });
}, STARTUP_TIMEOUT_MS + 20_000);

afterAll(async () => {
  await server?.stop();
});

describe("guard", () => {
  it("holds the estimate, runs the call, and books one debit equal to the usage's price", async () => {
    const saldo = client();
    const mandateId = await newMandate({ credit: "10" });
    const estimate = { inputTokens: 20_000, outputTokens: 8_000 };
    const [price, estimatePrice] = await Promise.all([saldo.quote({ ...CALL, usage: USAGE }), saldo.quote({ ...CALL, usage: estimate })]);
    expect(price.costChf).toBe("0.048000");

    let seenHold: Hold | undefined;
    const booked = await saldo.guard({ mandateId, userId: "ada", ...CALL, estimate }, async (hold) => {
      seenHold = hold;
      expect((await account(mandateId)).held).toBe(estimatePrice.costChf);
      return { usage: USAGE, metadata: { featureCode: "chat" }, result: "the model's answer" };
    });

    expect(seenHold).toMatchObject({ amount: estimatePrice.costChf, check: { allowed: true } });
    expect(booked).toMatchObject({ result: "the model's answer", authorizationId: seenHold!.authorizationId, recordedAfterExpiry: false });
    expect(booked.transaction).toMatchObject({ amount: price.costChf, balanceAfter: "9.952000" });
    const after = await account(mandateId);
    expect(after).toMatchObject({ balance: "9.952000", held: "0.000000", debitCount: 1 });
    expect(after.debits[0]).toEqual({
      id: booked.transaction!.id,
      amount: price.costChf,
      aicoreProvider: "anthropic",
      featureCode: "chat",
    });
  });

  it("releases the hold when the call throws, and rethrows", async () => {
    const saldo = client();
    const mandateId = await newMandate({ credit: "10" });
    const failure = new Error("provider answered 529 overloaded");
    let authorizationId = "";
    await expect(
      saldo.guard({ mandateId, ...CALL, estimate: USAGE }, async (hold) => {
        authorizationId = hold.authorizationId;
        throw failure;
      }),
    ).rejects.toBe(failure);
    const hold = await graphql(
      admin,
      `
        query ($id: ID!) {
          usageAuthorization(id: $id) {
            status
          }
        }
      `,
      { id: authorizationId },
    );
    expect(hold.usageAuthorization.status).toBe("RELEASED");
    expect(await account(mandateId)).toMatchObject({ balance: "10.000000", held: "0.000000", debitCount: 0 });
  });

  it("books once when the settle's answer is lost and the client retries", async () => {
    const proxy = await startProxy(server.url);
    try {
      // The server books the first settle; its answer never reaches the client.
      proxy.plan = (request, index) => (request.operation === "Settle" && index === 0 ? "lose-answer" : "forward");
      const saldo = client({ url: proxy.url });
      const mandateId = await newMandate({ credit: "10" });
      const booked = await saldo.guard({ mandateId, ...CALL, estimate: USAGE }, async () => ({ usage: USAGE }));

      expect(count(proxy, "Settle")).toBe(2);
      const after = await account(mandateId);
      expect(after).toMatchObject({ balance: "9.952000", held: "0.000000", debitCount: 1 });
      expect(booked.transaction!.id).toBe(after.debits[0].id);
    } finally {
      await proxy.close();
    }
  });

  it("holds once when the authorize times out and is retried with the same idempotency key", async () => {
    const proxy = await startProxy(server.url);
    try {
      // The server makes the hold; the answer comes after the client gave up waiting.
      proxy.plan = (request, index) => (request.operation === "Authorize" && index === 0 ? { delayMs: 1_500 } : "forward");
      const saldo = client({ url: proxy.url, timeoutMs: 500 });
      const mandateId = await newMandate({ credit: "10" });
      await saldo.guard({ mandateId, ...CALL, estimate: USAGE }, async () => ({ usage: USAGE }));

      const authorizes = proxy.seen.filter((s) => s.operation === "Authorize");
      expect(authorizes).toHaveLength(2);
      expect(authorizes[1].variables.input.idempotencyKey).toBe(authorizes[0].variables.input.idempotencyKey);
      // A second hold would still be active (held > 0).
      expect(await account(mandateId)).toMatchObject({ balance: "9.952000", held: "0.000000", debitCount: 1 });
    } finally {
      await proxy.close();
    }
  });

  it("books a hold that expired during a long call with recordUsage, once", async () => {
    const saldo = client();
    const mandateId = await newMandate({ credit: "10" });
    const booked = await saldo.guard({ mandateId, ...CALL, estimate: USAGE, expiresInSeconds: 1 }, async () => {
      await new Promise((r) => setTimeout(r, 1_300));
      return { usage: USAGE };
    });
    expect(booked.recordedAfterExpiry).toBe(true);
    expect(booked.transaction?.amount).toBe("0.048000");
    expect(await account(mandateId)).toMatchObject({ balance: "9.952000", held: "0.000000", debitCount: 1 });
  });
});

describe("denials", () => {
  it("come back as typed errors carrying the check, after one request, and the call never runs", async () => {
    let requests = 0;
    const saldo = client({ fetch: (input, init) => (requests++, fetch(input, init)) });
    const neverCalled = async (): Promise<never> => {
      throw new Error("the call ran although it was denied");
    };

    const poor = await newMandate();
    const insufficient = await saldo.guard({ mandateId: poor, ...CALL, estimate: USAGE }, neverCalled).catch((e) => e);
    expect(insufficient).toBeInstanceOf(InsufficientBalanceError);
    expect(insufficient).toMatchObject({
      code: "INSUFFICIENT_BALANCE",
      check: { allowed: false, reason: "INSUFFICIENT_BALANCE", available: "0.000000" },
    });

    const openaiOnly = await newMandate({ credit: "10", allowedProviders: ["openai"] });
    const notAllowed = await saldo.guard({ mandateId: openaiOnly, ...CALL, estimate: USAGE }, neverCalled).catch((e) => e);
    expect(notAllowed).toBeInstanceOf(ProviderNotAllowedError);
    expect(notAllowed.check).toMatchObject({ allowed: false, reason: "PROVIDER_NOT_ALLOWED" });

    const disabled = await newMandate({ credit: "10" });
    const { accountId } = await account(disabled);
    const update = await graphql(
      admin,
      `
        mutation ($id: ID!) {
          updateBillingAccount(input: { accountId: $id, enabled: false }) {
            userErrors {
              code
            }
          }
        }
      `,
      { id: accountId },
    );
    expect(update.updateBillingAccount.userErrors).toEqual([]);
    const accountDisabled = await saldo.guard({ mandateId: disabled, ...CALL, estimate: USAGE }, neverCalled).catch((e) => e);
    expect(accountDisabled).toBeInstanceOf(AccountDisabledError);
    expect(accountDisabled.check).toMatchObject({ allowed: false, reason: "ACCOUNT_DISABLED" });

    // check() tells the same without holding anything.
    expect(await saldo.check({ mandateId: openaiOnly, ...CALL, estimate: USAGE })).toMatchObject({
      allowed: false,
      reason: "PROVIDER_NOT_ALLOWED",
    });
    expect(requests).toBe(4);
  });
});

describe("retries", () => {
  it("retries 5xx answers and lost connections, never userErrors or rejected requests", async () => {
    let requests = 0;
    let failFirst: "503" | "network" | "none" = "503";
    const saldo = client({
      fetch: async (input, init) => {
        requests++;
        if (requests === 1 && failFirst === "503") return new Response("upstream unavailable", { status: 503 });
        if (requests === 1 && failFirst === "network") throw new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
        return fetch(input, init);
      },
    });
    const mandateId = await newMandate({ credit: "10" });
    expect(await saldo.check({ mandateId, ...CALL, estimate: USAGE })).toMatchObject({ allowed: true });
    expect(requests).toBe(2);

    requests = 0;
    failFirst = "network";
    expect((await saldo.quote({ ...CALL, usage: USAGE })).costChf).toBe("0.048000");
    expect(requests).toBe(2);

    requests = 0;
    failFirst = "none";
    const unknownPrice = await saldo
      .authorize({ mandateId, provider: "anthropic", model: "no-such-model", estimate: USAGE })
      .catch((e) => e);
    expect(unknownPrice).toBeInstanceOf(SaldoUserError);
    expect(unknownPrice.code).toBe("UNKNOWN_PRICE");
    expect(requests).toBe(1);

    requests = 0;
    const noToken = createSaldoClient({ url: server.url, token: "not-a-token", fetch: (input, init) => (requests++, fetch(input, init)) });
    const rejected = await noToken.check({ mandateId, ...CALL, estimate: USAGE }).catch((e) => e);
    expect(rejected).toBeInstanceOf(SaldoRequestError);
    expect(rejected.code).toBe("UNAUTHENTICATED");
    expect(requests).toBe(1);
  });

  it("gives up after its retries with SaldoUnavailableError", async () => {
    const proxy = await startProxy(server.url);
    try {
      proxy.plan = () => "refuse";
      const saldo = client({ url: proxy.url, retries: { retries: 2, minDelayMs: 10, maxDelayMs: 20 } });
      const error = await saldo.quote({ ...CALL, usage: USAGE }).catch((e) => e);
      expect(error).toBeInstanceOf(SaldoUnavailableError);
      expect(error.attempts).toBe(3);
      expect(count(proxy, "Quote")).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it("refuses amounts that are not decimal strings before sending anything", async () => {
    let requests = 0;
    const saldo = client({ fetch: (input, init) => (requests++, fetch(input, init)) });
    const call = { mandateId: "any", ...CALL, estimate: { cost: 0.1 as unknown as string } };
    await expect(saldo.guard(call, async () => ({ cost: "0.1" }))).rejects.toThrow(/estimate.cost must be a decimal string/);
    expect(requests).toBe(0);
  });
});

describe("Saldo out of reach after the call", () => {
  it("raises UnsettledHoldError with what is owed; settlePending books it once", async () => {
    const proxy = await startProxy(server.url);
    try {
      const saldo = client({ url: proxy.url, retries: { retries: 2, minDelayMs: 10, maxDelayMs: 20 } });
      const mandateId = await newMandate({ credit: "10" });
      const error = await saldo
        .guard({ mandateId, userId: "ada", ...CALL, estimate: USAGE }, async () => {
          proxy.plan = () => "refuse"; // Saldo goes away while the AI call runs
          return { usage: USAGE, metadata: { featureCode: "chat" }, result: "answer" };
        })
        .catch((e) => e);

      expect(error).toBeInstanceOf(UnsettledHoldError);
      expect(error).toMatchObject({ action: "settle", result: "answer", heldAmount: "0.048000" });
      expect(error.cause).toBeInstanceOf(SaldoUnavailableError);
      expect(error.pending).toEqual({
        authorizationId: error.authorizationId,
        usage: USAGE,
        cost: null,
        metadata: { featureCode: "chat" },
        call: { mandateId, userId: "ada", ...CALL },
        idempotencyKey: expect.any(String),
      });
      expect(await account(mandateId)).toMatchObject({ held: "0.048000", debitCount: 0 });

      // Later, with Saldo back: the pending settlement is booked, once however often it is sent.
      const direct = client();
      const first = await direct.settlePending(JSON.parse(JSON.stringify(error.pending)));
      const again = await direct.settlePending(error.pending);
      expect(again.transaction!.id).toBe(first.transaction!.id);
      expect(await account(mandateId)).toMatchObject({ balance: "9.952000", held: "0.000000", debitCount: 1 });
    } finally {
      await proxy.close();
    }
  });

  it("raises UnsettledHoldError carrying the call's own error when the release cannot be sent", async () => {
    const proxy = await startProxy(server.url);
    try {
      const saldo = client({ url: proxy.url, retries: { retries: 1, minDelayMs: 10, maxDelayMs: 20 } });
      const mandateId = await newMandate({ credit: "10" });
      const failure = new Error("provider timed out");
      const error = await saldo
        .guard({ mandateId, ...CALL, estimate: USAGE }, async () => {
          proxy.plan = () => "refuse";
          throw failure;
        })
        .catch((e) => e);
      expect(error).toBeInstanceOf(UnsettledHoldError);
      expect(error).toMatchObject({ action: "release", callError: failure, pending: null });
      await client().release(error.authorizationId);
      expect(await account(mandateId)).toMatchObject({ held: "0.000000", debitCount: 0 });
    } finally {
      await proxy.close();
    }
  });
});

describe("concurrency", () => {
  it("100 concurrent guarded calls on an account that affords 37: 37 debits and 63 InsufficientBalanceError", async () => {
    const saldo = client({ timeoutMs: 30_000 });
    const { costChf } = await saldo.quote({ ...CALL, usage: USAGE });
    const mandateId = await newMandate({ credit: new Decimal(costChf).times(37).toFixed(6) });

    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        saldo.guard({ mandateId, ...CALL, estimate: USAGE }, async () => {
          await new Promise((r) => setTimeout(r, Math.random() * 50));
          return { usage: USAGE };
        }),
      ),
    );

    const booked = outcomes.filter((o) => o.status === "fulfilled");
    const denied = outcomes.filter((o) => o.status === "rejected" && o.reason instanceof InsufficientBalanceError);
    const other = outcomes.filter((o) => o.status === "rejected" && !(o.reason instanceof InsufficientBalanceError));
    expect(other).toEqual([]);
    expect(booked).toHaveLength(37);
    expect(denied).toHaveLength(63);
    expect(await account(mandateId)).toMatchObject({ balance: "0.000000", held: "0.000000", debitCount: 37 });
  });
});

describe("recordUsages", () => {
  it("books each usage once with its own outcome, across requests of 1000, when an answer is lost and the list is sent again", async () => {
    const proxy = await startProxy(server.url);
    try {
      // The server books the first request's usages; its answer never reaches the client.
      proxy.plan = (request, index) => (request.operation === "RecordMany" && index === 0 ? "lose-answer" : "forward");
      const saldo = client({ url: proxy.url });
      const mandateId = await newMandate({ credit: "100" });
      const usages = Array.from({ length: 1_203 }, (_, i) => ({
        mandateId,
        ...CALL,
        cost: "0.01",
        metadata: { featureCode: `bulk-${i % 3}` },
      }));
      usages[1_100] = { ...usages[1_100], cost: "-0.01" }; // refused alone
      const outcomes = await saldo.recordUsages(usages);

      // 2 requests of the list, the first sent twice.
      expect(count(proxy, "RecordMany")).toBe(3);
      expect(proxy.seen[1].variables.inputs.map((u: { idempotencyKey: string }) => u.idempotencyKey)).toEqual(
        proxy.seen[0].variables.inputs.map((u: { idempotencyKey: string }) => u.idempotencyKey),
      );
      expect(outcomes).toHaveLength(1_203);
      const refused = outcomes.filter((o) => !o.ok);
      expect(refused).toHaveLength(1);
      const [refusal] = refused;
      if (refusal.ok) throw new Error("unreachable");
      expect(refusal.error).toBeInstanceOf(SaldoUserError);
      expect(refusal.error).toMatchObject({ code: "INVALID_AMOUNT", field: ["inputs", "1100", "cost"] });
      expect(new Set(outcomes.map((o) => o.idempotencyKey)).size).toBe(1_203);
      expect(await account(mandateId)).toMatchObject({ balance: "87.980000", debitCount: 1_202 });
    } finally {
      await proxy.close();
    }
  });
});

describe("the client's documents", () => {
  it("use only what the public API contract promises, and Saldo's bulk usage only what Saldo's schema has", () => {
    const contract = findUp("shared/spec/contract.graphql");
    const operations = parse(readFileSync(path.join(root, "client/operations.graphql"), "utf8"));
    expect(validate(buildSchema(readFileSync(contract, "utf8")), operations).map((e) => e.message)).toEqual([]);
    // The bulk document uses operations.graphql's fragments.
    const bulk = parse(
      readFileSync(path.join(root, "client/operations.graphql"), "utf8") + readFileSync(path.join(root, "client/bulk.graphql"), "utf8"),
    );
    expect(validate(buildSchema(readFileSync(path.join(root, "schema.graphql"), "utf8")), bulk).map((e) => e.message)).toEqual([]);
  });
});

/** The contract sits beside the project (../shared) or, for a git worktree, further up. */
function findUp(relative: string): string {
  for (let dir = path.dirname(root); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`${relative} not found above ${root}`);
  }
}
