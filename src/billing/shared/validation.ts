// Text inputs, checked the same way everywhere. The API checks every text
// argument against these rules before a resolver runs (src/schema/inputs.ts);
// the domain checks again where text comes in, so no caller can store what
// the API would refuse.
import { validation } from "./errors.js";

const MAX_TEXT = 500;
/** In a u-mode pattern a surrogate pair is one code point; only a lone surrogate is Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The longest value of each kind of identifier, in characters. */
export const IDENTIFIER_MAX_LENGTH = {
  mandateId: 64,
  userId: 128,
  /** Ids Saldo made (accounts, holds, transactions): UUIDs, with room. */
  id: 128,
  idempotencyKey: 200,
  provider: 64,
  model: 128,
  featureCode: 128,
  /** The gateway's references: workflowId, featureInstanceId, referenceId. */
  reference: 200,
} as const;

export type IdentifierKind = keyof typeof IDENTIFIER_MAX_LENGTH;

/**
 * Why a text cannot be stored as it is, or null. PostgreSQL text holds
 * neither NUL nor lone UTF-16 surrogates (a surrogate would be replaced by
 * U+FFFD on the way in: what is stored would differ from what was sent, and
 * an idempotency key would no longer match its retry), so both are refused
 * everywhere rather than silently changed.
 */
export function unstorableText(value: string): string | null {
  if (value.includes("\u0000")) return "must not contain NUL characters (U+0000)";
  if (LONE_SURROGATE.test(value)) return "is not well-formed Unicode: it contains a lone surrogate (U+D800 to U+DFFF)";
  return null;
}

/** A field path as a name for messages: ["input", "allowedProviders", "3"] -> allowedProviders[3]. */
export function fieldName(field: string[]): string {
  let name = "";
  for (const part of field) {
    if (/^\d+$/.test(part)) name += `[${part}]`;
    else name = part;
  }
  return name;
}

function assertStorable(value: string, field: string[]) {
  const problem = unstorableText(value);
  if (problem) throw validation(`${fieldName(field)} ${problem}`, field);
}

/** Trims optional free text; rejects over-long values, NUL and lone surrogates. */
export function optionalText(value: string | null | undefined, field: string[]): string | null {
  const text = value?.trim() ?? "";
  assertStorable(text, field);
  if (text.length > MAX_TEXT) throw validation(`${fieldName(field)} is longer than ${MAX_TEXT} characters`, field);
  return text || null;
}

/** Trims required free text; rejects empty and over-long values, NUL and lone surrogates. */
export function requiredText(value: string | null | undefined, field: string[]): string {
  const text = optionalText(value, field);
  if (!text) throw validation(`${fieldName(field)} must not be empty`, field);
  return text;
}

/** Required text on one line (a name, shown in email headers and logs): no control characters. */
export function singleLineText(value: string | null | undefined, field: string[]): string {
  const text = requiredText(value, field);
  if (/\p{Cc}/u.test(text)) throw validation(`${fieldName(field)} must not contain control characters such as line breaks or tabs`, field);
  return text;
}

/** An identifier as given (not trimmed): not empty, storable, at most its kind's length. */
export function identifier(value: string, field: string[], kind: IdentifierKind): string {
  assertStorable(value, field);
  if (value.length === 0) throw validation(`${fieldName(field)} must not be empty`, field);
  const max = IDENTIFIER_MAX_LENGTH[kind];
  if (value.length > max) throw validation(`${fieldName(field)} is longer than ${max} characters`, field);
  return value;
}

/** An optional identifier: null and undefined pass as null. */
export function optionalIdentifier(value: string | null | undefined, field: string[], kind: IdentifierKind): string | null {
  return value == null ? null : identifier(value, field, kind);
}
