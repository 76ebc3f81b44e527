// Prisma CLI configuration. The CLI runs Prisma's own wasm schema engine
// through the pg driver adapter, so `migrate deploy`, `migrate status` and
// `migrate diff` work without downloading native engines (see
// ../shared/notes/prisma-offline.md). Everything here runs in the CLI process
// only; the server builds its own client in src/db.ts.
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

const databaseUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

// Workaround for prisma/orm#27403: the schema engine reads catalog columns of
// type `name` (oid 19) and `"char"` (oid 18), and arrays of them, which
// adapter-pg 6.19 cannot map ("Column type 'name' could not be deserialized").
// Their values are plain strings, so present them as text / text[].
const CATALOG_AS_TEXT: Record<number, number> = { 18: 25, 19: 25, 1002: 1009, 1003: 1009 };

function presentCatalogTypesAsText(res: pg.QueryResult | undefined) {
  for (const field of res?.fields ?? []) {
    const asText = CATALOG_AS_TEXT[field.dataTypeID];
    if (asText !== undefined) field.dataTypeID = asText;
  }
  return res;
}

class CatalogTextClient extends pg.Client {
  // pg's overloads make a typed override impractical. pg.Pool#query calls with
  // a callback, a checked-out client (transactions) with a promise: cover both.
  override query(...args: any[]): any {
    const last = args.at(-1);
    if (typeof last === "function") {
      args[args.length - 1] = (err: Error | null, res: pg.QueryResult) => last(err, presentCatalogTypesAsText(res));
    }
    const result = (super.query as (...a: any[]) => any)(...args);
    return result instanceof Promise ? result.then(presentCatalogTypesAsText) : result;
  }
}

function poolConfig(database?: string): pg.PoolConfig {
  // Discrete fields, not a connectionString: with a connectionString adapter-pg
  // 6.19 ignores the shadow database name and migrates the main database twice
  // (P3006 "relation already exists").
  const url = new URL(databaseUrl);
  return {
    Client: CatalogTextClient,
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || "postgres"),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: database ?? decodeURIComponent(url.pathname.slice(1) || "postgres"),
  } as pg.PoolConfig;
}

type PgAdapter = Awaited<ReturnType<PrismaPg["connect"]>>;

// adapter-pg 6.19's executeScript splits the migration on every ";", which
// cuts PL/pgSQL function bodies apart ("unterminated dollar-quoted string").
// PostgreSQL's simple-query protocol runs a whole multi-statement script, so
// send it in one piece, as Prisma's native engine does.
function runScriptsWhole(adapter: PgAdapter): PgAdapter {
  const pool = adapter.underlyingDriver() as pg.Pool;
  adapter.executeScript = async (script: string) => {
    await pool.query(script);
  };
  return adapter;
}

class SaldoPg extends PrismaPg {
  override async connect() {
    return runScriptsWhole(await super.connect());
  }

  // adapter-pg 6.19 drops the shadow database while its own pool still holds a
  // connection ("being accessed by other users"): create it here and drop it
  // WITH (FORCE) only after the shadow adapter is disposed.
  override async connectToShadowDb() {
    const shadow = `prisma_shadow_${crypto.randomUUID().replaceAll("-", "")}`;
    const admin = new pg.Client(poolConfig());
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${shadow}"`);
    } finally {
      await admin.end();
    }
    const adapter = runScriptsWhole(await new PrismaPg(poolConfig(shadow)).connect());
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      const cleanup = new pg.Client(poolConfig());
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS "${shadow}" WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    };
    return adapter;
  }
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  adapter: async () => new SaldoPg(poolConfig()),
});
