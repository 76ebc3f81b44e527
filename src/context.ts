// The per-request context: who is calling, the database, the billing domain,
// live events, and request-scoped DataLoaders, so a page of 100 accounts or
// transactions costs a constant number of queries.
import type { Settings } from "@prisma/client";
import DataLoader from "dataloader";
import { GraphQLError } from "graphql";
import { AuthenticationError, verifyToken, type Caller } from "./auth.js";
import type { PaymentProvider } from "./billing/payments/provider.js";
import { type BillingContext } from "./billing/shared/context.js";
import { Decimal, ZERO } from "./billing/shared/money.js";
import { type Db } from "./db/open.js";
import type { SaldoPubSub } from "./pubsub.js";

export interface AppServices {
  db: Db;
  billing: BillingContext;
  pubsub: SaldoPubSub;
  jwtSecret: string;
  /** The longest lifetime of a token in seconds (JWT_MAX_TTL); default 24 h. */
  jwtMaxTtlSeconds?: number;
  /** null when no payment provider is configured. */
  payments: PaymentProvider | null;
}

export interface Context extends AppServices {
  caller: Caller | null;
  loaders: ReturnType<typeof createLoaders>;
}

export function createLoaders(db: Db, billing: BillingContext) {
  return {
    settings: new DataLoader<string, Settings | null>(async (mandateIds) => {
      const rows = await db.settings.findMany({ where: { mandateId: { in: [...mandateIds] } } });
      const byId = new Map(rows.map((row) => [row.mandateId, row]));
      return mandateIds.map((id) => byId.get(id) ?? null);
    }),
    /** Sum of each account's live holds (ACTIVE, not expired). */
    held: new DataLoader<string, Decimal>(async (accountIds) => {
      const rows = await db.usageAuthorization.groupBy({
        by: ["accountId"],
        where: { accountId: { in: [...accountIds] }, status: "ACTIVE", expiresAt: { gt: billing.now() } },
        _sum: { amount: true },
      });
      const byId = new Map(rows.map((row) => [row.accountId, new Decimal(row._sum.amount?.toString() ?? "0")]));
      return accountIds.map((id) => byId.get(id) ?? ZERO);
    }),
  };
}

/** Reads the bearer token; a missing one leaves the caller anonymous, a bad one is rejected. */
export async function authenticate(authorization: string | null | undefined, jwtSecret: string, maxTtlSeconds?: number): Promise<Caller | null> {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) throw unauthenticated("The Authorization header must be: Bearer <token>");
  try {
    return await verifyToken(match[1], jwtSecret, maxTtlSeconds);
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
    caller: await authenticate(authorization, services.jwtSecret, services.jwtMaxTtlSeconds),
    loaders: createLoaders(services.db, services.billing),
  };
}
