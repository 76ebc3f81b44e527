// Browser tests: the UI built from the current source, and Debian's Chromium
// driven by playwright-core with the network closed to everything but the
// server under test.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");

function newestIn(entry: string): number {
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(0, ...readdirSync(entry).map((name) => newestIn(path.join(entry, name))));
}

/**
 * Builds web/ into web/dist when the build is missing or older than any of
 * its sources (npm install builds it; this catches edits since then).
 */
export function ensureWebBuilt(): void {
  const built = path.join(root, "web/dist/index.html");
  const sources = ["web/src", "web/index.html", "web/vite.config.ts"].map((p) => newestIn(path.join(root, p)));
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources)) return;
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules/vite/bin/vite.js"), "build", "--config", "web/vite.config.ts", "--logLevel", "warn"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
}

/** Debian's chromium (apt-get install -y chromium), as the machines have it. */
export function chromiumPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("Chromium is not installed: apt-get install -y chromium (Debian's package; .ci/run installs it)");
  }
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    // As root in a container; and no calls home (updates, safe browsing, sync).
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export interface ClosedNetwork {
  /** Every request the page tried outside the server's origin (all aborted). */
  outside: string[];
  /** Content-Security-Policy violations the page reported. */
  cspViolations: string[];
}

/**
 * A browser context whose pages can reach the server's origin and nothing
 * else: every other request is aborted and recorded.
 */
export async function closedContext(browser: Browser, origin: string): Promise<{ context: BrowserContext; network: ClosedNetwork }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", acceptDownloads: true });
  const network: ClosedNetwork = { outside: [], cspViolations: [] };
  await context.route(
    (url) => url.origin !== origin && (url.protocol === "http:" || url.protocol === "https:"),
    (route) => {
      network.outside.push(route.request().url());
      return route.abort("blockedbyclient");
    },
  );
  await context.routeWebSocket(
    (url) => url.origin.replace(/^ws/, "http") !== origin,
    (ws) => {
      network.outside.push(ws.url());
      return ws.close();
    },
  );
  context.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) network.cspViolations.push(message.text());
  });
  await context.exposeBinding("__reportCspViolation", (_source, text: string) => void network.cspViolations.push(text));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      (window as unknown as { __reportCspViolation(text: string): void }).__reportCspViolation(
        `${event.violatedDirective} ${event.blockedURI}`,
      ),
    );
  });
  return { context, network };
}
