// The compiled start, as README promises it: `npm start` builds dist/ and
// runs it with plain Node (no TypeScript loader), on a fresh embedded
// database made from npm install's template, and finds from dist/ what the
// source finds relative to itself: the migrations, the built UI, GraphiQL.
//
// Runs in the pglite project only (vitest.config.ts).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { templateDir } from "../../src/db/template.js";
import { freePort } from "../support/server.js";

const root = path.resolve(import.meta.dirname, "../..");
const dataParent = mkdtempSync(path.join(tmpdir(), "saldo-build-"));

afterAll(() => rmSync(dataParent, { recursive: true, force: true }));

describe("npm start", () => {
  it("runs the compiled server with plain Node, ready on a fresh data directory, and stops cleanly", async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      SALDO_DATA_DIR: path.join(dataParent, "data"),
      JWT_SECRET: "b".repeat(40),
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    // Its own process group, so that nothing is left behind if the test fails.
    const npm = spawn("npm", ["start"], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    npm.stdout!.on("data", (chunk) => (output += chunk));
    npm.stderr!.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
        if (Date.now() > deadline) throw new Error(`not ready:\n${output}`);
        const ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (ready === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const processes = execFileSync("ps", ["-o", "args=", "-g", String(npm.pid)], { encoding: "utf8" });
      expect(processes).toMatch(/^node dist\/server\.js$/m);
      // No shell between npm and node: npm's signals reach the server.
      expect(processes).not.toMatch(/^sh /m);
      expect(processes).not.toMatch(/tsx/);
      expect(existsSync(path.join(root, "dist/server.js"))).toBe(true);

      expect(await (await fetch(`http://127.0.0.1:${port}/ready`)).json()).toMatchObject({ ready: true, migrations: "ok" });
      const ui = await fetch(`http://127.0.0.1:${port}/app/`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toMatch(/<div id="app">|<script type="module"/);
      const graphiql = await fetch(`http://127.0.0.1:${port}/graphql`, { headers: { accept: "text/html" } });
      expect(graphiql.status).toBe(200);
      expect(graphiql.headers.get("content-security-policy")).toContain("script-src 'sha256-");
      expect(await graphiql.text()).toContain("renderYogaGraphiQL");
      if (existsSync(templateDir())) expect(output).toContain("from the template");
    } catch (error) {
      process.kill(-npm.pid!, "SIGKILL");
      throw error;
    }
    // SIGTERM to npm alone, as an orchestrator running `npm start` sends it: it must reach the server
    // (the script execs node), which drains and exits 0, and npm with it.
    npm.kill("SIGTERM");
    expect(await exited, output).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});
