// Choosing German through the API: a mandate admin sets Mandate.language
// (updateSettings) and the next warning email, queued by the debit that
// crosses the threshold and sent by the outbox worker to a real SMTP server,
// is German; the one before it was English.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailer, createNotifier, type Notifier } from "../../src/notify/index.js";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";
import { startSmtp, type TestSmtp } from "./smtp.js";

let app: TestApp;
let smtp: TestSmtp;
let worker: Notifier;
const MANDATE = "sprache";
const ADMIN: TestCaller = { roles: ["MANDATE_ADMIN"], mandateIds: [MANDATE], userId: "admin" };
const SERVICE: TestCaller = { roles: ["SERVICE"] };
let keys = 0;

beforeAll(async () => {
  app = await createTestApp();
  smtp = await startSmtp();
  worker = createNotifier({
    db: app.database.prisma,
    sql: app.database.sql,
    mailer: createMailer({ smtpUrl: smtp.url, from: "Saldo <billing@saldo.test>" }),
    timeZone: "Europe/Zurich",
    now: app.clock.now,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
});
afterAll(async () => {
  await app?.close();
  await smtp?.close();
});

async function ok(query: string, variables: Record<string, unknown>, caller: TestCaller) {
  const result = await app.gql(query, variables, caller);
  expect(result.errors).toBeUndefined();
  const [payload] = Object.values(result.data as Record<string, { userErrors?: unknown[] }>);
  expect(payload.userErrors ?? []).toEqual([]);
  return payload;
}

const credit = (amount: string) =>
  ok(
    `mutation($input: CreditAccountInput!) { creditAccount(input: $input) { userErrors { code message } } }`,
    { input: { mandateId: MANDATE, amount, description: "Top-up", idempotencyKey: `credit-${++keys}` } },
    SYSADMIN,
  );
const spend = (cost: string) =>
  ok(
    `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { userErrors { code message } } }`,
    { input: { mandateId: MANDATE, provider: "openai", model: "gpt-4o", cost, idempotencyKey: `spend-${++keys}` } },
    SERVICE,
  );

describe("Mandate.language", () => {
  it("switched to DE by a mandate admin makes the next warning email German", async () => {
    await ok(
      `mutation { upsertMandate(input: { id: "${MANDATE}", name: "Beispiel GmbH" }) { userErrors { code message } } }`,
      {},
      SYSADMIN,
    );
    await ok(
      `mutation { updateSettings(input: { mandateId: "${MANDATE}", notifyEmails: ["finanzen@beispiel.test"], notifyOnWarning: true }) { userErrors { code message } } }`,
      {},
      ADMIN,
    );

    // English by default: the first crossing's email.
    await credit("100");
    await spend("95");
    await worker.runOnce();
    expect(smtp.messages.map((m) => m.subject)).toEqual(["Saldo: low balance on the shared account of Beispiel GmbH"]);

    await ok(`mutation { updateSettings(input: { mandateId: "${MANDATE}", language: DE }) { userErrors { code message } } }`, {}, ADMIN);
    const member = await app.gql(`{ mandate(id: "${MANDATE}") { language } }`, {}, { roles: ["USER"], mandateIds: [MANDATE], userId: "u" });
    expect(member.data.mandate.language).toBe("DE");

    // A top-up re-arms the warning; the next crossing's email is German.
    app.clock.advance(60_000);
    await credit("100");
    await spend("99");
    await worker.runOnce();
    expect(smtp.messages).toHaveLength(2);
    const german = smtp.messages[1];
    expect(german.subject).toMatch(/^Saldo: tiefes Guthaben auf dem gemeinsamen Konto von Beispiel GmbH$/);
    expect(german.text).toContain("Warnschwelle");
    expect(german.text).not.toMatch(/Available to spend/);
  });
});
