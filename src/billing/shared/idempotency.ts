// Idempotency: a retried request with the same key and the same content gets
// the first result; the same key with other content is a conflict.
import { createHash } from "node:crypto";
import { BillingError, validation } from "./errors.js";
import { identifier } from "./validation.js";

/** Keys Saldo writes itself (initial credits, settlements) start with this. */
export const SYSTEM_KEY_PREFIX = "saldo:";

export function parseIdempotencyKey(key: unknown, field = ["input", "idempotencyKey"]): string {
  if (typeof key !== "string" || key.trim() === "") throw validation("idempotencyKey must not be empty", field);
  identifier(key, field, "idempotencyKey");
  if (key.startsWith(SYSTEM_KEY_PREFIX)) {
    throw validation(`idempotencyKey must not start with "${SYSTEM_KEY_PREFIX}", which Saldo reserves`, field);
  }
  return key;
}

/** A stable hash of a request's content: key order and amount spelling do not matter. */
export function requestHash(content: Record<string, unknown>): string {
  return createHash("sha256").update(canonical(content)).digest("hex");
}

function canonical(value: unknown): string {
  if (value === undefined || value === null) return "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && !(value instanceof Date) && !("toFixed" in (value as object))) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  return JSON.stringify(String(value));
}

export function idempotencyConflict(key: string, field = ["input", "idempotencyKey"]): BillingError {
  return new BillingError("IDEMPOTENCY_CONFLICT", `idempotencyKey "${key}" was already used for a different request`, field);
}
