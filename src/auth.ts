// Who is calling: a bearer JWT (HS256, JWT_SECRET) carrying the user id,
// roles and mandates. The permission rules of the spec's Roles section are
// the functions below, used by every field's authScopes.
import { jwtVerify, SignJWT, type JWTPayload } from "jose";
import { LRUCache } from "lru-cache";
import { z } from "zod";

export const ROLES = ["SYSADMIN", "MANDATE_ADMIN", "USER", "SERVICE"] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  userId: string | null;
  roles: Role[];
  mandateIds: string[];
  /** When the token expires (every token does): live subscriptions end then. */
  expiresAt?: Date;
}

/** The longest a token may live, from when it was issued (or from now when it does not say), unless JWT_MAX_TTL says otherwise. */
export const DEFAULT_MAX_TOKEN_TTL_SECONDS = 24 * 3600;

const claims = z.object({
  sub: z.string().min(1).optional(),
  roles: z.array(z.enum(ROLES)).min(1, "roles must name at least one role"),
  mandateIds: z.array(z.string().min(1)).default([]),
});

export class AuthenticationError extends Error {}

export async function verifyToken(token: string, secret: string, maxTtlSeconds: number = DEFAULT_MAX_TOKEN_TTL_SECONDS): Promise<Caller> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ["HS256"] }));
  } catch (error) {
    throw new AuthenticationError(`Invalid token: ${(error as Error).message}`);
  }
  // A token without exp would be good forever, a stolen one too.
  if (typeof payload.exp !== "number") throw new AuthenticationError("Invalid token: it has no exp claim; every token must expire");
  const now = Math.floor(Date.now() / 1000);
  const lifetime = payload.exp - Math.min(typeof payload.iat === "number" ? payload.iat : now, now);
  if (lifetime > maxTtlSeconds) {
    throw new AuthenticationError(`Invalid token: it lives ${lifetime} s, longer than the ${maxTtlSeconds} s a token may (JWT_MAX_TTL)`);
  }
  const parsed = claims.safeParse(payload);
  if (!parsed.success) {
    throw new AuthenticationError(`Invalid token claims: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  return {
    userId: parsed.data.sub ?? null,
    roles: parsed.data.roles,
    mandateIds: parsed.data.mandateIds,
    expiresAt: new Date(payload.exp * 1000),
  };
}

/** How many verified tokens each verifier remembers; the gateway and the UI reuse a handful. */
const VERIFIED_TOKENS = 10_000;

/**
 * verifyToken with a memory: a token verified once is taken as it was until
 * its exp, without another HMAC (through WebCrypto, a fifth of the CPU of a
 * cheap request). Only tokens that passed are kept, so a forged or expired
 * one is checked every time; a kept one is dropped at its exp, when jose
 * would refuse it too. The cache belongs to one secret and lifetime bound.
 */
export function createTokenVerifier(secret: string, maxTtlSeconds: number = DEFAULT_MAX_TOKEN_TTL_SECONDS) {
  const verified = new LRUCache<string, Caller>({ max: VERIFIED_TOKENS });
  return async function verify(token: string): Promise<Caller> {
    const known = verified.get(token);
    if (known && Date.now() < known.expiresAt!.getTime()) return known;
    if (known) verified.delete(token);
    // Frozen, its lists too: one caller is shared by every request that sends the token.
    const verifiedCaller = await verifyToken(token, secret, maxTtlSeconds);
    Object.freeze(verifiedCaller.roles);
    Object.freeze(verifiedCaller.mandateIds);
    const caller = Object.freeze(verifiedCaller);
    verified.set(token, caller);
    return caller;
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

export async function signToken(
  caller: { userId?: string | null; roles: Role[]; mandateIds?: string[] },
  secret: string,
  expiresIn: string = "12h",
): Promise<string> {
  const jwt = new SignJWT({ roles: caller.roles, mandateIds: caller.mandateIds ?? [] })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (caller.userId) jwt.setSubject(caller.userId);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** Settings that create money or decide how far an account may spend: SYSADMIN only. */
export const MONEY_SETTINGS = ["billingModel", "defaultUserCredit", "blockOnZeroBalance", "creditLimit"];

const has = (caller: Caller | null, role: Role) => !!caller?.roles.includes(role);
const member = (caller: Caller | null, mandateId: string) => !!caller?.mandateIds.includes(mandateId);

/** The Roles section of the spec, one function per permission. */
export const can = {
  /** Everything, every mandate. */
  administerSystem: (caller: Caller | null) => has(caller, "SYSADMIN"),
  /** Read all of a mandate; change what creates no money. */
  administerMandate: (caller: Caller | null, mandateId: string) =>
    has(caller, "SYSADMIN") || (has(caller, "MANDATE_ADMIN") && member(caller, mandateId)),
  /** See that a mandate exists and read one's own part of it. */
  enterMandate: (caller: Caller | null, mandateId: string) =>
    has(caller, "SYSADMIN") || ((has(caller, "MANDATE_ADMIN") || has(caller, "USER")) && member(caller, mandateId)),
  /** The gateway's checks, holds, settlements and usage records, for any mandate. */
  operateGateway: (caller: Caller | null) => has(caller, "SERVICE") || has(caller, "SYSADMIN"),
  /**
   * Change settings: a mandate admin what creates no money; the fields in
   * MONEY_SETTINGS (they decide how much may be spent) only a sysadmin.
   */
  changeSettings: (caller: Caller | null, mandateId: string, fields: string[]) =>
    fields.some((f) => MONEY_SETTINGS.includes(f)) ? can.administerSystem(caller) : can.administerMandate(caller, mandateId),
  /**
   * How much of an account's history (transactions, statistics) a caller may
   * read: all of it for its mandate's admins and for the user who owns it;
   * on a shared account a USER only the entries they caused; else nothing.
   * The gateway reads balances but no history.
   */
  readAccountHistory: (caller: Caller | null, account: { mandateId: string; userId: string | null }): "all" | "own" | "none" => {
    if (can.administerMandate(caller, account.mandateId)) return "all";
    if (!has(caller, "USER") || !member(caller, account.mandateId) || !caller?.userId) return "none";
    if (account.userId === caller.userId) return "all";
    return account.userId === null ? "own" : "none";
  },
  /**
   * Read an account: admins of its mandate, and a USER their own account
   * or, when they share the mandate's account, that one.
   */
  readAccount: (caller: Caller | null, account: { mandateId: string; userId: string | null }) =>
    can.administerMandate(caller, account.mandateId) ||
    (has(caller, "USER") && member(caller, account.mandateId) && (account.userId === null || account.userId === caller?.userId)),
};

/** Raised when a caller asks for something the role rules do not allow. */
export class ForbiddenError extends Error {}

/**
 * Whose money a read of a mandate may show: an admin any user's (or all),
 * a USER only their own. Returns the userId to read for.
 */
export function readableUserId(caller: Caller | null, mandateId: string, requested: string | null | undefined): string | null {
  if (can.administerMandate(caller, mandateId)) return requested ?? null;
  if (has(caller, "USER") && member(caller, mandateId)) {
    if (!caller?.userId) throw new ForbiddenError("The token has role USER but no user id: a USER token must name its user in sub");
    if (requested && requested !== caller.userId) throw new ForbiddenError("A user may only read their own account");
    return caller.userId;
  }
  throw new ForbiddenError("Not a member of this mandate");
}
