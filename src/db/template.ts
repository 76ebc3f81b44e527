// A fresh embedded database starts from a template: PGlite's initdb (the
// catalogs of an empty cluster, bootstrapped in WebAssembly) takes 3-6 s on
// the project's machines, copying a folder a fraction of one. The template
// is made on this machine by `npm install` (scripts/pglite-template.mjs):
// initdb and every migration, then a clean close, by the PGlite version
// installed here. Never committed, never shared between versions: its
// folder is named after the PGlite version and the migrations' checksums,
// so a template of other migrations or another PGlite is simply not found
// (then initdb runs as before). It is copied only into an empty data
// directory; the migrations are checked and applied after opening anyway.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { applyMigrations, readMigrations, type Migration, type SqlSession } from "./migrations.js";

const root = path.resolve(import.meta.dirname, "../..");
const CACHE = path.join(root, "node_modules/.cache/saldo");
/** Written last: a template without it is unfinished and never used. */
const COMPLETE = "saldo-template-complete";

function pgliteVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve("@electric-sql/pglite")));
  while (!existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/** Where the template for this PGlite and these migrations lives (it may not exist). */
export function templateDir(migrations: Migration[] = readMigrations()): string {
  const fingerprint = createHash("sha256")
    .update(pgliteVersion())
    .update(migrations.map((m) => `${m.name}:${m.checksum}`).join("\n"))
    .digest("hex")
    .slice(0, 16);
  return path.join(CACHE, `pglite-${fingerprint}`);
}

/** Copies the template into `dataDir` when it is empty and a complete template exists; true when it did. */
export function seedFromTemplate(dataDir: string): boolean {
  const template = templateDir();
  if (!existsSync(path.join(template, COMPLETE))) return false;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) return false;
  mkdirSync(dataDir, { recursive: true });
  cpSync(template, dataDir, { recursive: true, filter: (source) => path.basename(source) !== COMPLETE });
  return true;
}

/** Makes the template unless it exists: initdb, every migration, a clean close. */
export async function buildTemplate(session: (pglite: PGlite) => SqlSession): Promise<{ dir: string; built: boolean }> {
  const dir = templateDir();
  if (existsSync(path.join(dir, COMPLETE))) return { dir, built: false };
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const pglite = await PGlite.create(building);
  await applyMigrations(session(pglite));
  await pglite.close();
  writeFileSync(path.join(building, COMPLETE), `${new Date().toISOString()}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  // Templates of older migrations or PGlite versions: of no use any more.
  for (const entry of readdirSync(CACHE)) {
    if (entry.startsWith("pglite-") && !entry.includes(".building-") && path.join(CACHE, entry) !== dir)
      rmSync(path.join(CACHE, entry), { recursive: true, force: true });
  }
  return { dir, built: true };
}
