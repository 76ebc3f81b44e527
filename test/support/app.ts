// An app over a fresh test database, and a GraphQL client that talks to
// yoga.fetch with a token for any caller.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { createApp, type App } from "../../src/app.js";
import { signToken, type Role } from "../../src/auth.js";
import { loadConfig } from "../../src/config.js";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { testClock, type TestClock } from "./billing.js";

export interface TestApp extends App {
  db: TestDatabase;
  clock: TestClock;
  /** Runs a GraphQL operation as `caller` (anonymous when omitted). */
  gql<T = any>(query: string, variables?: Record<string, unknown>, caller?: TestCaller): Promise<GqlResult<T>>;
  token(caller: TestCaller): Promise<string>;
  /** Runs a typed document (test/generated) and returns its typed data, failing on errors. */
  run<R, V>(document: TypedDocumentNode<R, V>, variables: V, caller: TestCaller): Promise<R>;
}

export interface TestCaller {
  roles: Role[];
  mandateIds?: string[];
  userId?: string;
}

export interface GqlResult<T> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: { code?: string } }[];
}

export const JWT_SECRET = "test-secret-that-is-long-enough-0123456789";

export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const clock = testClock();
  const config = loadConfig({ JWT_SECRET, ...env });
  const app = await createApp(config, { database: db, now: clock.now, backgroundJobs: false });
  const token = (caller: TestCaller) => signToken(caller, JWT_SECRET);
  const gql: TestApp["gql"] = async (query, variables, caller) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (caller) headers.authorization = `Bearer ${await token(caller)}`;
    const response = await app.yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...(await response.json()) };
  };
  return {
    ...app,
    db,
    clock,
    token,
    gql,
    run: async (document, variables, caller) => {
      const result = await gql(print(document), variables as Record<string, unknown>, caller);
      if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}

export const SYSADMIN: TestCaller = { roles: ["SYSADMIN"], userId: "root-admin" };

/**
 * The token with its signature's first character changed. (Changing the last
 * one is not enough: it may only carry base64 padding bits, leaving the
 * signature valid.)
 */
export function forgeToken(token: string): string {
  const dot = token.lastIndexOf(".") + 1;
  const swapped = token[dot] === "A" ? "B" : "A";
  return `${token.slice(0, dot)}${swapped}${token.slice(dot + 1)}`;
}
