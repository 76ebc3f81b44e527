// Compiles the server (src/) to plain JavaScript in dist/, one file per
// module, so `npm start` runs Node without a TypeScript loader. esbuild only
// strips types (well under a second); `npm run typecheck` checks them. The
// layout mirrors src/, as deep, so that what a module finds relative to
// itself (prisma/migrations, web/dist, schema.graphql: two folders up) is
// found from dist/ too. Plain JavaScript itself, so it runs before anything
// is built: npm install (postinstall) and npm start (prestart) call it.
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const src = path.join(root, "src");
const dist = path.join(root, "dist");

const entryPoints = readdirSync(src, { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
  .map((file) => path.join(src, file));

rmSync(dist, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: dist,
  outbase: src,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
