// GraphiQL in a real browser with the network closed to everything but the
// server: Debian's Chromium (playwright-core) against the real server
// process. The editor renders from the server's own page (no CDN), a query
// run from it with an Authorization header set in GraphiQL's Headers editor
// returns the caller's data, and the page's own Content-Security-Policy is
// never violated.
//
// Runs in the pglite project only (vitest.config.ts), like the UI's tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../src/auth.js";
import { closedContext, launchChromium, type ClosedNetwork } from "../support/browser.js";
import { freePort, startServer, type ServerProcess } from "../support/server.js";

const SECRET = "graphiql-e2e-secret-that-is-long-enough-0123456789";

let dataParent: string;
let server: ServerProcess;
let browser: Browser;

beforeAll(async () => {
  dataParent = mkdtempSync(path.join(tmpdir(), "saldo-graphiql-"));
  // allSettled: a server that started is kept (and stopped by afterAll) even when Chromium fails to launch.
  const [started, launched] = await Promise.allSettled([
    startServer(await freePort(), { JWT_SECRET: SECRET, SALDO_DATA_DIR: path.join(dataParent, "data"), LOG_LEVEL: "warn" }),
    launchChromium(),
  ]);
  if (started.status === "fulfilled") server = started.value;
  if (launched.status === "fulfilled") browser = launched.value;
  for (const outcome of [started, launched]) if (outcome.status === "rejected") throw outcome.reason;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dataParent) rmSync(dataParent, { recursive: true, force: true });
});

/** Replaces the text of the Monaco editor inside `container` (insertText: no auto-closed brackets). */
async function setEditorText(page: Page, container: string, text: string) {
  await page.locator(`${container} .monaco-editor .view-lines`).first().click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(text);
}

describe("GraphiQL without internet", () => {
  it("renders from the server alone and runs a query with an Authorization header set in GraphiQL", async () => {
    const { context, network } = await closedContext(browser, server.url);
    const pageErrors: string[] = [];
    try {
      const page = await context.newPage();
      page.on("pageerror", (error) => pageErrors.push(error.message));
      page.setDefaultTimeout(30_000);

      const response = await page.goto(`${server.url}/graphql`);
      const policy = response?.headers()["content-security-policy"] ?? "";
      expect(policy).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
      expect(policy).not.toMatch(/unsafe-eval/);
      expect(policy).toContain("connect-src 'self'");

      // The editor renders, with Saldo's default query in it.
      await page.locator(".graphiql-query-editor .monaco-editor").waitFor();
      await expect
        .poll(async () => (await page.locator(".graphiql-query-editor").innerText()).replace(/\s+/g, " "), { timeout: 30_000 })
        .toContain("viewer { userId roles mandateIds }");

      const token = await signToken({ roles: ["SYSADMIN"], userId: "graphiql-admin" }, SECRET);
      await setEditorText(page, ".graphiql-query-editor", "query FromGraphiQL { viewer { userId roles } }");
      await page.locator('button[data-name="headers"]').click();
      await setEditorText(
        page,
        ".graphiql-editor-tool .graphiql-editor:not(.hidden)",
        JSON.stringify({ Authorization: `Bearer ${token}` }),
      );
      await page.getByRole("button", { name: /Execute query/ }).click();

      // The caller's own data: the header reached the server.
      const shown = async () => (await page.locator(".graphiql-response").innerText()).replace(/\s+/g, " ");
      await expect.poll(shown, { timeout: 30_000 }).toMatch(/"userId": "graphiql-admin"/);
      expect(await shown()).toMatch(/"roles": \[ "SYSADMIN" \]/);

      expect(pageErrors).toEqual([]);
      expect(network satisfies ClosedNetwork).toEqual({ outside: [], cspViolations: [] });
    } finally {
      await context.close();
    }
  });
});
