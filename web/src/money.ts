// Amounts as the API gives them: decimal strings with 6 fractional digits.
// They are formatted from the string itself (Intl.NumberFormat reads a
// decimal string exactly, without a detour through a JavaScript number),
// rounded to 2 digits for display, with the exact value kept for a title.

export type NumberLocale = "de-CH" | "en-CH";

const DECIMAL = /^[+-]?\d+(\.\d+)?$/;

const cache = new Map<string, Intl.NumberFormat>();
function formatter(locale: NumberLocale, digits: "display" | "exact", currency: boolean): Intl.NumberFormat {
  const key = `${locale}|${digits}|${currency}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, {
      ...(currency ? { style: "currency", currency: "CHF" } : {}),
      minimumFractionDigits: 2,
      maximumFractionDigits: digits === "display" ? 2 : 6,
      // No "-0.00" for a tiny negative amount that rounds to zero.
      signDisplay: "negative",
    });
    cache.set(key, f);
  }
  return f;
}

/** Whether the decimal has non-zero digits beyond the second fractional one. */
export function hasMoreDigits(value: string): boolean {
  const fraction = value.split(".")[1] ?? "";
  return /[1-9]/.test(fraction.slice(2));
}

export interface FormattedMoney {
  /** Rounded to 2 digits, e.g. "CHF 1’234.50". */
  text: string;
  /** The exact value when it has more than 2 digits, else undefined. */
  exact?: string;
}

/** Formats an API decimal string as CHF for the locale; null/undefined as a dash. */
export function formatMoney(value: string | null | undefined, locale: NumberLocale, currency = true): FormattedMoney {
  if (value === null || value === undefined || value === "") return { text: "–" };
  if (!DECIMAL.test(value)) return { text: value };
  // The string is passed as it is: Intl formats decimal strings exactly.
  const exactValue = value as Intl.StringNumericLiteral;
  const text = formatter(locale, "display", currency).format(exactValue);
  return hasMoreDigits(value) ? { text, exact: formatter(locale, "exact", currency).format(exactValue) } : { text };
}

/** A user's amount input ("1'234.50", "12,5", "-3") as the API's decimal string, or null if it is not one. */
export function parseAmountInput(text: string): string | null {
  const cleaned = text
    .trim()
    .replace(/['’\s]/g, "")
    .replace(",", ".");
  return /^[+-]?\d+(\.\d{1,6})?$/.test(cleaned) ? cleaned.replace(/^\+/, "") : null;
}
