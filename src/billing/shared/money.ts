// Money is exact: micro-CHF (6 fractional digits) held in decimal.js values,
// never in JavaScript numbers. Inputs with more digits are rejected, never
// rounded; only computed prices are rounded, explicitly, by roundMoney.
import { Decimal as DecimalJs } from "decimal.js";
import { BillingError } from "./errors.js";

/** Enough precision that no product of prices and token counts is ever rounded implicitly. */
export const Decimal = DecimalJs.clone({ precision: 60, rounding: DecimalJs.ROUND_HALF_UP });
export type Decimal = DecimalJs;

export const MONEY_SCALE = 6;
/** Larger single amounts (a credit, a cost, a price computed from usage) are a typo or an attack, not a top-up. */
export const MAX_AMOUNT = new Decimal("1000000000");
/**
 * No move may take a balance beyond this, either way: Decimal(18, 6) holds
 * just under 1e12, so a balance at the limit still takes any single amount.
 */
export const MAX_BALANCE = new Decimal("100000000000");
export const ZERO = new Decimal(0);

export type DecimalInput = string | number | bigint | DecimalJs | { toString(): string };

const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Parses a money input (a decimal string or an integer). `field` names the input
 * for the error. Rejects NaN, Infinity, exponents, more than 6 fractional
 * digits and amounts beyond MAX_AMOUNT.
 */
export function parseMoney(input: DecimalInput, field: string[]): Decimal {
  let text: string;
  if (typeof input === "number") {
    if (!Number.isSafeInteger(input)) {
      throw invalid(field, `${field.at(-1)} must be a decimal string or an integer, got ${input}`);
    }
    text = String(input);
  } else if (DecimalJs.isDecimal(input)) {
    // As written, never in exponent notation ("1e+21").
    text = input.toFixed();
  } else {
    text = String(input).trim();
  }
  if (!DECIMAL_TEXT.test(text)) {
    throw invalid(field, `${field.at(-1)} must be a decimal number such as "12.50", got "${text}"`);
  }
  const value = new Decimal(text);
  if (value.decimalPlaces() > MONEY_SCALE) {
    throw invalid(field, `${field.at(-1)} has more than ${MONEY_SCALE} fractional digits: "${text}"`);
  }
  if (value.abs().greaterThan(MAX_AMOUNT)) {
    throw invalid(field, `${field.at(-1)} ${text} exceeds the largest amount accepted (${MAX_AMOUNT.toFixed(0)})`);
  }
  return value.isZero() ? ZERO : value; // normalizes -0
}

/** A strictly positive amount (credits, holds, explicit costs of a top-up). */
export function parsePositiveMoney(input: DecimalInput, field: string[]): Decimal {
  const value = parseMoney(input, field);
  if (!value.greaterThan(0)) throw invalid(field, `${field.at(-1)} must be greater than 0`);
  return value;
}

/** An amount that may be zero but not negative (costs, thresholds, limits). */
export function parseNonNegativeMoney(input: DecimalInput, field: string[]): Decimal {
  const value = parseMoney(input, field);
  if (value.isNegative()) throw invalid(field, `${field.at(-1)} must not be negative`);
  return value;
}

/**
 * Rounds a computed amount (a price, a conversion) to micro-CHF, half up
 * (0.0000005 -> 0.000001). The only place money is rounded.
 */
export function roundMoney(value: DecimalJs): Decimal {
  return new Decimal(value).toDecimalPlaces(MONEY_SCALE, Decimal.ROUND_HALF_UP);
}

/** Canonical text of an amount: always 6 fractional digits, e.g. "12.500000". */
export function formatMoney(value: DecimalInput): string {
  return new Decimal(value.toString()).toFixed(MONEY_SCALE);
}

export function toDecimal(value: DecimalInput | null | undefined): Decimal {
  return value === null || value === undefined ? ZERO : new Decimal(value.toString());
}

/** A computed amount (a price from usage) within MAX_AMOUNT. */
export function assertWithinMaxAmount(value: Decimal, field: string[], what: string): Decimal {
  if (value.greaterThan(MAX_AMOUNT)) {
    throw invalid(field, `${what} ${formatMoney(value)} exceeds the largest amount accepted (${MAX_AMOUNT.toFixed(0)})`);
  }
  return value;
}

function invalid(field: string[], message: string) {
  return new BillingError("INVALID_AMOUNT", message, field);
}
