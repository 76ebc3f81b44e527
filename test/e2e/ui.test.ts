// The billing UI in a real browser: Debian's Chromium (playwright-core)
// against the real server process (npm start's), with the page's network
// closed to everything but that server. Each test makes its own mandates.
//
// Runs in the pglite project only (vitest.config.ts): the server it starts
// keeps its data in the embedded database in a temporary directory, and
// which database sits under the API is not what these tests are about.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { Decimal } from "../../src/billing/shared/money.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken, type Role } from "../../src/auth.js";
import { uniqueId } from "../support/billing.js";
import { closedContext, ensureWebBuilt, launchChromium, type ClosedNetwork } from "../support/browser.js";
import { freePort, startServer, type ServerProcess } from "../support/server.js";

const SECRET = "ui-e2e-secret-that-is-long-enough-0123456789";
const root = path.resolve(import.meta.dirname, "../..");
/** `npm run screenshots` sets this to docs: the PNGs README shows. */
const screenshotDir = process.env.SALDO_SCREENSHOTS ? path.resolve(root, process.env.SALDO_SCREENSHOTS) : null;

let dataParent: string;
let server: ServerProcess;
let port: number;
let browser: Browser;
const contexts: { context: BrowserContext; network: ClosedNetwork; pageErrors: string[] }[] = [];

const serverEnv = () => ({ JWT_SECRET: SECRET, SALDO_DATA_DIR: path.join(dataParent, "data") });
const token = (roles: Role[], mandateIds: string[] = [], userId?: string) => signToken({ roles, mandateIds, userId }, SECRET);

/** A GraphQL call over HTTP that fails on any error or userError. */
async function api<T = any>(bearer: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  for (const payload of Object.values(body.data ?? {}) as { userErrors?: unknown[] }[]) {
    if (payload?.userErrors?.length) throw new Error(`userErrors: ${JSON.stringify(payload.userErrors)}`);
  }
  return body.data;
}

let sysadmin: string;
let gateway: string;

async function createMandate(id: string, name: string, billingModel = "PREPAY_MANDATE") {
  await api(sysadmin, `mutation($i: UpsertMandateInput!) { upsertMandate(input: $i) { userErrors { message } } }`, {
    i: { id, name, billingModel },
  });
}
async function credit(mandateId: string, amount: string, userId?: string) {
  await api(sysadmin, `mutation($i: CreditAccountInput!) { creditAccount(input: $i) { userErrors { code message } } }`, {
    i: { mandateId, userId, amount, description: "Seed credit", idempotencyKey: uniqueId("seed") },
  });
}
async function recordUsage(mandateId: string, provider: string, cost: string, featureCode = "chat", userId = "u1") {
  await api(gateway, `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { userErrors { code message } } }`, {
    i: { mandateId, userId, provider, model: "m", cost, metadata: { featureCode }, idempotencyKey: uniqueId("use") },
  });
}
async function balanceOf(mandateId: string, userId?: string): Promise<{ accountId: string; balance: string }> {
  const data = await api(sysadmin, `query($m: ID!, $u: String) { balance(mandateId: $m, userId: $u) { accountId balance } }`, {
    m: mandateId,
    u: userId,
  });
  return data.balance;
}

/** A page in a fresh context (its own sessionStorage), with the network closed to all but the server. */
async function newPage(): Promise<Page> {
  const { context, network } = await closedContext(browser, server.url);
  const pageErrors: string[] = [];
  contexts.push({ context, network, pageErrors });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.setDefaultTimeout(15_000);
  return page;
}

async function signIn(page: Page, bearer: string, at = "/app/") {
  await page.goto(`${server.url}${at}`);
  await page.locator("#token").fill(bearer);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("who").waitFor();
}

/** expect.poll with room for a loaded 2-core machine. */
const poll = <T>(read: () => T | Promise<T>, message?: string) => expect.poll(read, { timeout: 10_000, message });
/** Text as shown, with the no-break spaces of formatted amounts as plain spaces. */
const plain = (text: string | null) => (text ?? "").replace(/\s+/g, " ").trim();

const moneyValue = (page: Page, testId: string) => page.getByTestId(testId).locator(".money").getAttribute("data-value");

async function screenshot(page: Page, name: string) {
  if (!screenshotDir) return;
  await mkdir(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, name), fullPage: true });
}

beforeAll(async () => {
  ensureWebBuilt();
  dataParent = mkdtempSync(path.join(tmpdir(), "saldo-ui-"));
  port = await freePort();
  // allSettled: a server that started is kept (and stopped by afterAll) even when Chromium fails to launch.
  const [started, launched] = await Promise.allSettled([startServer(port, serverEnv()), launchChromium()]);
  if (started.status === "fulfilled") server = started.value;
  if (launched.status === "fulfilled") browser = launched.value;
  for (const outcome of [started, launched]) if (outcome.status === "rejected") throw outcome.reason;
  sysadmin = await token(["SYSADMIN"], [], "ops");
  gateway = await token(["SERVICE"]);
}, 180_000);

afterAll(async () => {
  await Promise.all(contexts.map(({ context }) => context.close().catch(() => undefined)));
  await browser?.close();
  await server?.stop();
  if (dataParent) rmSync(dataParent, { recursive: true, force: true });
});

describe("the billing UI in Chromium", () => {
  it("keeps the page's network closed to all but the server, and the page's own policy refuses other origins", async () => {
    const page = await newPage();
    const { context, network } = contexts[contexts.length - 1];
    // The guard these tests rely on: a request elsewhere is aborted and recorded.
    const elsewhere = await context.newPage();
    await expect(elsewhere.goto("http://example.com/")).rejects.toThrow(/ERR_BLOCKED_BY_CLIENT/);
    await elsewhere.close();
    expect(network.outside).toEqual(["http://example.com/"]);
    // The UI's Content-Security-Policy: the page may connect to its server only.
    await page.goto(`${server.url}/app/`);
    const reached = await page.evaluate(() =>
      fetch("http://example.com/").then(
        () => true,
        () => false,
      ),
    );
    expect(reached).toBe(false);
    // Reported twice: the console's message and the page's securitypolicyviolation event.
    await poll(() => network.cspViolations.filter((v) => /connect-src/.test(v)).length).toBe(2);
    network.outside.length = 0;
    network.cspViolations.length = 0;
  });

  it("signs in with a pasted token kept for the tab only, and shows refusals in the API's words", async () => {
    const page = await newPage();
    await page.goto(`${server.url}/`);
    // `/` leads to the UI, which explains how to get a token.
    await poll(() => page.url()).toBe(`${server.url}/app/`);
    await poll(() => page.locator(".signin").textContent()).toContain("npm run token");

    await page.locator("#token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await poll(() => page.getByRole("alert").textContent()).toMatch(/UNAUTHENTICATED/);

    // A gateway token: signed in, told the UI has nothing for it.
    await page.locator("#token").fill(gateway);
    await page.getByRole("button", { name: "Sign in" }).click();
    await poll(() => page.locator(".notice").textContent()).toMatch(/SERVICE/);
    const stored = await page.evaluate(() => ({ session: sessionStorage.getItem("saldo.token"), local: JSON.stringify(localStorage) }));
    expect(stored.session).toBe(gateway);
    expect(stored.local).not.toContain(gateway);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#token").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("saldo.token"))).toBeNull();
  });

  it("shows a USER their own balance and history, and no one else's", async () => {
    const mandateId = uniqueId("ui-user");
    const other = uniqueId("ui-other");
    await createMandate(mandateId, "Users AG", "PREPAY_USER");
    await createMandate(other, "Other AG");
    await credit(mandateId, "20", "bob");
    await credit(mandateId, "70", "carol");
    await recordUsage(mandateId, "openai", "1.5", "chat", "bob");
    await recordUsage(mandateId, "openai", "9", "chat", "carol");
    const bob = await balanceOf(mandateId, "bob");
    const carol = await balanceOf(mandateId, "carol");
    const historyOf = async (userId: string) =>
      (
        await api(sysadmin, `query($m: ID!, $u: String) { transactions(mandateId: $m, filter: {userId: $u}) { totalCount } }`, {
          m: mandateId,
          u: userId,
        })
      ).transactions.totalCount as number;
    const page = await newPage();
    await signIn(page, await token(["USER"], [mandateId], "bob"));

    await poll(() => moneyValue(page, "balance")).toBe(bob.balance);
    expect(await page.getByTestId("balance-card").textContent()).toContain("bob");
    expect(await page.getByRole("link", { name: "Administration" }).count()).toBe(0);

    await page.getByRole("link", { name: "Transactions" }).click();
    const bobsEntries = await historyOf("bob");
    await poll(() => page.getByTestId("history-count").textContent()).toBe(`${bobsEntries} transactions · Page 1`);
    expect(await page.locator("table.history tbody tr").allTextContents()).not.toContainEqual(expect.stringContaining("carol"));
    // A USER gets no user filter to choose others with.
    expect(await page.locator("input[name=user]").count()).toBe(0);

    // Typing another user or mandate into the URL: the API's FORBIDDEN, none of their money.
    for (const at of [
      `/app/dashboard?mandate=${mandateId}&user=carol`,
      `/app/transactions?mandate=${mandateId}&user=carol`,
      `/app/dashboard?mandate=${other}`,
    ]) {
      await page.goto(`${server.url}${at}`);
      await poll(() => page.getByRole("alert").first().textContent(), at).toMatch(/FORBIDDEN/);
      expect(await page.getByTestId("balance").count()).toBe(0);
      expect(await page.locator("table.history tbody tr").count()).toBe(0);
      expect(await page.locator("main").textContent()).not.toContain(carol.balance.slice(0, -4));
    }
    // The export refuses it the same way.
    await page.goto(`${server.url}/app/transactions?mandate=${mandateId}&user=carol`);
    await page.getByTestId("export").click();
    await poll(() => page.locator(".export").textContent()).toMatch(/FORBIDDEN/);
    // The admin page is not for users.
    await page.goto(`${server.url}/app/admin?mandate=${mandateId}`);
    await poll(() => new URL(page.url()).pathname).toBe("/app/dashboard");
  });

  it("keeps a mandate admin's dashboard live: the balance moves within a second, one warning banner, the provider split", async () => {
    const mandateId = uniqueId("ui-live");
    await createMandate(mandateId, "Live AG");
    await credit(mandateId, "50");
    const { accountId } = await balanceOf(mandateId);
    await api(sysadmin, `mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { userErrors { message } } }`, {
      i: { accountId, warningThreshold: "30" },
    });
    const page = await newPage();
    await signIn(page, await token(["MANDATE_ADMIN"], [mandateId], "alice"));
    await poll(() => moneyValue(page, "balance")).toBe("50.000000");
    await poll(() => page.getByTestId("live-state").getAttribute("data-state")).toBe("connected");

    // A call booked through the API shows without a reload, within a second of its answer.
    await recordUsage(mandateId, "openai", "5");
    const answered = Date.now();
    await page.waitForFunction(
      () => document.querySelector("[data-testid=balance] .money")?.getAttribute("data-value") === "45.000000",
      null,
      {
        timeout: 1000,
      },
    );
    console.log(`[ui] balance moved ${Date.now() - answered} ms after recordUsage answered`);

    // Falling to the threshold: one banner; another debit below it adds none.
    await recordUsage(mandateId, "anthropic", "20", "automation");
    await page.getByTestId("warning-banner").waitFor();
    await poll(() => page.getByTestId("warning-state").textContent()).toBe("yes");
    await recordUsage(mandateId, "openai", "1");
    await poll(() => moneyValue(page, "balance")).toBe("24.000000");
    expect(await page.getByTestId("warning-banner").count()).toBe(1);
    expect(await page.getByTestId("warning-banner").textContent()).toContain("Low balance");

    // The chart splits the cost by provider: its legend's exact totals, and bars drawn in proportion.
    await page.reload();
    await poll(async () => (await page.getByTestId("chart-provider").locator(".legend li").allTextContents()).map(plain)).toEqual([
      "anthropic CHF 20.00",
      "openai CHF 6.00",
    ]);
    expect((await page.getByTestId("chart-feature").locator(".legend li").allTextContents()).map(plain)).toEqual([
      "automation CHF 20.00",
      "chat CHF 6.00",
    ]);
    expect(plain(await page.getByTestId("usage-total").textContent())).toBe("CHF 26.00");
    const pixels = await page
      .getByTestId("chart-provider")
      .locator("canvas")
      .evaluate((canvas: HTMLCanvasElement) => {
        const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
        const count = (r: number, g: number, b: number) => {
          let n = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) n++;
          return n;
        };
        return { anthropic: count(0x25, 0x63, 0xeb), openai: count(0xf5, 0x9e, 0x0b) };
      });
    expect(pixels.openai).toBeGreaterThan(20);
    // Same width, heights 20 : 6.
    expect(pixels.anthropic / pixels.openai).toBeGreaterThan(2.8);
    expect(pixels.anthropic / pixels.openai).toBeLessThan(3.9);
    await screenshot(page, "ui-dashboard.png");
  });

  it("filters and pages the history, and exports the filtered history as CSV that sums to the ledger", async () => {
    const mandateId = uniqueId("ui-history");
    await createMandate(mandateId, "History AG");
    await credit(mandateId, "200");
    const providers = ["openai", "anthropic", "mistral"];
    const spent: Record<string, Decimal> = { openai: new Decimal(0), anthropic: new Decimal(0), mistral: new Decimal(0) };
    for (let i = 0; i < 45; i++) {
      const cost = `${(i % 4) + 1}.${String((i * 7919) % 1_000_000).padStart(6, "0")}`;
      const provider = providers[i % 3];
      spent[provider] = spent[provider].plus(cost);
      await recordUsage(mandateId, provider, cost, i % 2 ? "search" : "chat", `u${i % 4}`);
    }
    const page = await newPage();
    await signIn(page, await token(["MANDATE_ADMIN"], [mandateId], "alice"), `/app/transactions?mandate=${mandateId}`);
    const rows = page.locator("table.history tbody tr");
    await poll(() => page.getByTestId("history-count").textContent()).toBe("46 transactions · Page 1");
    await screenshot(page, "ui-transactions.png");

    // Pages of 20 through the API's cursors: 20, 20, 6, every row once.
    const seen = new Set<string>();
    for (const [n, size] of [
      [1, 20],
      [2, 20],
      [3, 6],
    ]) {
      await poll(() => page.getByTestId("history-count").textContent()).toBe(`46 transactions · Page ${n}`);
      await poll(() => rows.count()).toBe(size);
      for (const id of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-id")!))) seen.add(id);
      if (n < 3) await page.getByRole("button", { name: "Next ›" }).click();
    }
    expect(seen.size).toBe(46);
    expect(await page.getByRole("button", { name: "Next ›" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "‹ Previous" }).click();
    await poll(() => page.getByTestId("history-count").textContent()).toBe("46 transactions · Page 2");

    // Filters: debits of one provider.
    await page.locator("input[name=type][value=DEBIT]").check();
    await page.locator("input[name=providers]").fill("anthropic");
    await page.getByRole("button", { name: "Apply" }).click();
    await poll(() => page.getByTestId("history-count").textContent()).toBe("15 transactions · Page 1");
    expect(
      new Set(await rows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute("data-type")}/${tr.getAttribute("data-provider")}`))),
    ).toEqual(new Set(["DEBIT/anthropic"]));
    // Exact amounts as the API gives them.
    const deltas = await rows.locator("[data-testid=delta] .money").evaluateAll((els) => els.map((e) => e.getAttribute("data-value")!));
    expect(deltas.reduce((sum, d) => sum.plus(d), new Decimal(0)).toFixed(6)).toBe(spent.anthropic.negated().toFixed(6));

    const exportCsv = async () => {
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export").click()]);
      const records: Record<string, string>[] = parse(readFileSync((await download.path())!, "utf8"), { columns: true });
      return { name: download.suggestedFilename(), records, sum: records.reduce((s, r) => s.plus(r.delta), new Decimal(0)) };
    };
    const filtered = await exportCsv();
    expect(filtered.name).toBe(`transactions-${mandateId.replace(/[^A-Za-z0-9_-]/g, "_")}.csv`);
    expect(filtered.records).toHaveLength(15);
    expect(filtered.records.every((r) => r.aicoreProvider === "anthropic" && r.transactionType === "DEBIT")).toBe(true);
    expect(filtered.sum.toFixed(6)).toBe(spent.anthropic.negated().toFixed(6));

    // Unfiltered, the export sums to the ledger's balance.
    await page.getByRole("button", { name: "Reset" }).click();
    await poll(() => page.getByTestId("history-count").textContent()).toBe("46 transactions · Page 1");
    const all = await exportCsv();
    expect(all.records).toHaveLength(46);
    expect(all.sum.toFixed(6)).toBe((await balanceOf(mandateId)).balance);
  });

  it("lets admins search and page mandates, change settings and accounts, and credit once on a double click", async () => {
    const prefix = uniqueId("pg");
    for (let i = 1; i <= 12; i++) await createMandate(`${prefix}-${String(i).padStart(2, "0")}`, `Paging AG ${String(i).padStart(2, "0")}`);
    const mandateId = `${prefix}-11`;
    const page = await newPage();
    await signIn(page, sysadmin, "/app/admin");
    await page.getByTestId("mandates").locator("input[name=search]").fill(prefix);
    await page.getByTestId("mandates").getByRole("button", { name: "Search" }).click();
    await poll(() => page.getByTestId("mandate-count").textContent()).toBe("Page 1 · 12 mandates");
    await poll(() => page.getByTestId("mandates").locator("tbody tr").count()).toBe(10);
    await page.getByTestId("mandates").getByRole("button", { name: "Next ›" }).click();
    await poll(() => page.getByTestId("mandates").locator("tbody tr").count()).toBe(2);
    await page.getByRole("button", { name: "Paging AG 11" }).click();

    // A setting, saved through updateSettings.
    const settings = page.getByTestId("settings");
    await settings.locator("input[name=warningThresholdPercent]").fill("25");
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.getByText("Saved.").waitFor();
    const read = () =>
      api(sysadmin, `query($m: ID!) { settings(mandateId: $m) { warningThresholdPercent notifyOnWarning } }`, { m: mandateId });
    expect((await read()).settings.warningThresholdPercent).toBe("25.000000");

    // A credit, double-clicked: every request carries the form's one key, and one entry is booked.
    const keys: string[] = [];
    page.on("request", (request) => {
      const body = request.postData();
      if (body?.includes("creditAccount")) keys.push(JSON.parse(body).variables.input.idempotencyKey);
    });
    const form = page.getByTestId("credit-form");
    await form.locator("input[name=amount]").fill("12.50");
    await form.locator("input[name=description]").fill("Double-click credit");
    await form.getByRole("button", { name: "Book" }).dblclick();
    await form.getByTestId("booked").waitFor();
    expect(keys.length).toBeGreaterThanOrEqual(1);
    expect(new Set(keys).size).toBe(1);
    const credits = await api(
      sysadmin,
      `query($m: ID!) { transactions(mandateId: $m, filter: {transactionTypes: [CREDIT]}) { totalCount edges { node { amount } } } }`,
      { m: mandateId },
    );
    expect(credits.transactions.totalCount).toBe(1);
    expect(credits.transactions.edges[0].node.amount).toBe("12.500000");
    console.log(`[ui] double click sent ${keys.length} creditAccount request(s), booked 1`);

    // The answer lost on its way back (booked, but the page saw a network error):
    // the form keeps its key, so booking again returns the same entry.
    let lose = true;
    await page.route("**/graphql", async (route) => {
      if (lose && route.request().postData()?.includes("creditAccount")) {
        lose = false;
        await route.fetch();
        return route.abort("connectionreset");
      }
      return route.fallback();
    });
    keys.length = 0;
    await form.locator("input[name=amount]").fill("7");
    await form.locator("input[name=description]").fill("Retried credit");
    await form.getByRole("button", { name: "Book" }).click();
    await poll(() => form.getByRole("alert").textContent()).toMatch(/NETWORK/);
    await form.getByRole("button", { name: "Book" }).click();
    await form.getByTestId("booked").waitFor();
    await page.unroute("**/graphql");
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    const afterRetry = await api(
      sysadmin,
      `query($m: ID!) { transactions(mandateId: $m, filter: {transactionTypes: [CREDIT]}) { totalCount } balance(mandateId: $m) { balance } }`,
      { m: mandateId },
    );
    expect(afterRetry.transactions.totalCount).toBe(2);
    expect(afterRetry.balance.balance).toBe("19.500000");

    // The account it opened: disable, enable, set its warning threshold.
    const account = page.getByTestId("accounts").locator("tbody tr").first();
    await poll(() => account.locator(".money").first().getAttribute("data-value")).toBe("19.500000");
    await account.getByTestId("toggle-enabled").click();
    await poll(() => account.textContent()).toContain("disabled");
    const accountState = () =>
      api(sysadmin, `query($m: ID!) { mandate(id: $m) { accounts { edges { node { enabled warningThreshold } } } } }`, { m: mandateId });
    expect((await accountState()).mandate.accounts.edges[0].node.enabled).toBe(false);
    await account.getByTestId("toggle-enabled").click();
    await poll(() => account.textContent()).toContain("enabled");
    await account.locator("input[name=warningThreshold]").fill("3");
    await account.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(async () => (await accountState()).mandate.accounts.edges[0].node)
      .toEqual({ enabled: true, warningThreshold: "3.000000" });

    // The mandate's own admin: no money forms, the money settings locked, the rest theirs to change.
    const adminPage = await newPage();
    await signIn(adminPage, await token(["MANDATE_ADMIN"], [mandateId], "alice"), `/app/admin?mandate=${mandateId}`);
    const adminSettings = adminPage.getByTestId("settings");
    await adminSettings.waitFor();
    expect(await adminPage.getByTestId("credit-form").count()).toBe(0);
    expect(await adminPage.getByTestId("adjustment-form").count()).toBe(0);
    expect(await adminSettings.locator("select[name=billingModel]").isDisabled()).toBe(true);
    expect(await adminPage.getByTestId("accounts").locator("input[name=creditLimit]").first().isDisabled()).toBe(true);
    const notify = adminSettings.locator("input[name=notifyOnWarning]");
    const before = await notify.isChecked();
    await notify.setChecked(!before);
    await adminSettings.getByRole("button", { name: "Save" }).click();
    await adminSettings.getByText("Saved.").waitFor();
    expect((await read()).settings.notifyOnWarning).toBe(!before);
  });

  it("switches to German: the API's labels, de-CH amounts, the exact value on hover", async () => {
    const mandateId = uniqueId("ui-de");
    await createMandate(mandateId, "Sprache AG");
    await credit(mandateId, "1234.567891");
    const page = await newPage();
    await signIn(page, await token(["MANDATE_ADMIN"], [mandateId], "alice"));
    const balance = page.getByTestId("balance").locator(".money");
    await poll(() => page.getByTestId("balance-card").textContent()).toContain("Balance");
    expect(await balance.textContent()).toMatch(/^CHF\s1[’']234\.57$/);
    expect(await balance.getAttribute("title")).toMatch(/^CHF\s1[’']234\.567891$/);

    await page.getByRole("button", { name: "DE", exact: true }).click();
    // Labels from modelLabels(locale: DE), words of the UI in German.
    await poll(() => page.getByTestId("balance-card").textContent()).toContain("Guthaben");
    expect(await page.getByTestId("balance-card").textContent()).toContain("Verfügbar");
    expect(await page.getByRole("link", { name: "Übersicht" }).count()).toBe(1);
    expect(await page.getByTestId("usage").textContent()).toContain("Kosten nach Anbieter");
    expect(await balance.textContent()).toMatch(/^CHF\s1[’']234\.57$/);
    // The choice stays after a reload.
    await page.reload();
    await poll(() => page.getByTestId("balance-card").textContent()).toContain("Guthaben");
  });

  it("shows the live state: reconnecting while the server is down, the network error in words, live again after", async () => {
    const mandateId = uniqueId("ui-restart");
    await createMandate(mandateId, "Restart AG");
    await credit(mandateId, "10");
    const page = await newPage();
    await signIn(page, await token(["MANDATE_ADMIN"], [mandateId], "alice"));
    const live = page.getByTestId("live-state");
    await poll(() => live.getAttribute("data-state")).toBe("connected");

    expect(await server.stop()).toBe(0);
    await poll(() => live.getAttribute("data-state")).toBe("reconnecting");
    // A query while the server is down: the page says so instead of going blank.
    await page.getByRole("button", { name: "Years" }).click();
    await poll(() => page.getByTestId("usage").getByRole("alert").textContent()).toMatch(/NETWORK.*cannot be reached/);

    server = await startServer(port, serverEnv());
    await expect.poll(() => live.getAttribute("data-state"), { timeout: 30_000 }).toBe("connected");
    await recordUsage(mandateId, "openai", "2");
    await poll(() => moneyValue(page, "balance")).toBe("8.000000");
  }, 120_000);

  it("loaded nothing from outside the server and broke no rule of the Content-Security-Policy", () => {
    expect(contexts.length).toBeGreaterThan(5);
    for (const { network, pageErrors } of contexts) {
      expect(network.outside).toEqual([]);
      expect(network.cspViolations).toEqual([]);
      expect(pageErrors).toEqual([]);
    }
  });
});
