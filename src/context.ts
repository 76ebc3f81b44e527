// The per-request context: who is calling, the database, the billing domain,
// live events, and request-scoped DataLoaders, so a page of 100 accounts or
// transactions costs a constant number of queries.
import type { Settings } from "@prisma/client";
import DataLoader from "dataloader";
import { GraphQLError } from "graphql";
import { AuthenticationError, type Caller, type TokenVerifier } from "./auth.js";
import type { PaymentProvider } from "./billing/payments/provider.js";
import { type BillingContext } from "./billing/shared/context.js";
import { Decimal, ZERO } from "./billing/shared/money.js";
import { type Db } from "./db/open.js";
import type { SaldoPubSub } from "./pubsub.js";

export interface AppServices {
  db: Db;
  billing: BillingContext;
  pubsub: SaldoPubSub;
  /** Who a bearer token names (src/auth.ts, createTokenVerifier). */
  verifyToken: TokenVerifier;
  /** null when no payment provider is configured. */
  payments: PaymentProvider | null;
}

export interface Context extends AppServices {
  caller: Caller | null;
  loaders: ReturnType<typeof createLoaders>;
}

/** Made on first use: most requests (the gateway's) need no loader at all. */
export function createLoaders(db: Db, billing: BillingContext) {
  let settings: DataLoader<string, Settings | null> | undefined;
  let held: DataLoader<string, Decimal> | undefined;
  return {
    get settings() {
      return (settings ??= settingsLoader(db));
    },
    /** Sum of each account's live holds (ACTIVE, not expired). */
    get held() {
      return (held ??= heldLoader(db, billing));
    },
  };
}

function settingsLoader(db: Db) {
  return new DataLoader<string, Settings | null>(async (mandateIds) => {
    const rows = await db.settings.findMany({ where: { mandateId: { in: [...mandateIds] } } });
    const byId = new Map(rows.map((row) => [row.mandateId, row]));
    return mandateIds.map((id) => byId.get(id) ?? null);
  });
}

function heldLoader(db: Db, billing: BillingContext) {
  return new DataLoader<string, Decimal>(async (accountIds) => {
    const rows = await db.usageAuthorization.groupBy({
      by: ["accountId"],
      where: { accountId: { in: [...accountIds] }, status: "ACTIVE", expiresAt: { gt: billing.now() } },
      _sum: { amount: true },
    });
    const byId = new Map(rows.map((row) => [row.accountId, new Decimal(row._sum.amount?.toString() ?? "0")]));
    return accountIds.map((id) => byId.get(id) ?? ZERO);
  });
}

/** Reads the bearer token; a missing one leaves the caller anonymous, a bad one is rejected. */
export async function authenticate(authorization: string | null | undefined, verifyToken: TokenVerifier): Promise<Caller | null> {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) throw unauthenticated("The Authorization header must be: Bearer <token>");
  try {
    return await verifyToken(match[1]);
  } catch (error) {
    if (error instanceof AuthenticationError) throw unauthenticated(error.message);
    throw error;
  }
}

function unauthenticated(message: string) {
  return new GraphQLError(message, { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
}

export async function createContext(services: AppServices, authorization: string | null | undefined): Promise<Context> {
  return {
    ...services,
    caller: await authenticate(authorization, services.verifyToken),
    loaders: createLoaders(services.db, services.billing),
  };
}
