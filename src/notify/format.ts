// How emails show amounts, dates and months to people, in English and
// German. Amounts stay decimal strings: never a JavaScript number.
import { Decimal } from "../billing/shared/money.js";

export type Language = "EN" | "DE";

/**
 * "CHF 1,234.50" (EN) or "CHF 1'234.50" (DE, Swiss style): at least two
 * fractional digits, more only when the exact micro-CHF amount has them
 * ("CHF 0.000125"). Exact: nothing is rounded away.
 */
export function formatChf(value: string | { toString(): string }, language: Language): string {
  const amount = new Decimal(value.toString());
  const digits = Math.max(2, Math.min(6, amount.decimalPlaces()));
  const [whole, fraction] = amount.abs().toFixed(digits).split(".");
  const separator = language === "DE" ? "'" : ",";
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
  return `CHF ${amount.isNegative() && !amount.isZero() ? "-" : ""}${grouped}.${fraction}`;
}

/** A count with the same grouping as amounts: "4,213" / "4'213". */
export function formatCount(n: number, language: Language): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, language === "DE" ? "'" : ",");
}

const locales: Record<Language, string> = { EN: "en-GB", DE: "de-CH" };

/** "October 2026" / "Oktober 2026". */
export function formatMonthName(month: string, language: Language): string {
  const [year, m] = month.split("-").map(Number);
  // Mid-month at noon UTC: the same month in every time zone.
  return new Intl.DateTimeFormat(locales[language], { month: "long", year: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(year, m - 1, 15, 12)),
  );
}

/** "12 October 2026, 14:03" / "12. Oktober 2026, 14:03", in the billing time zone. */
export function formatDateTime(at: Date, language: Language, timeZone: string): string {
  return new Intl.DateTimeFormat(locales[language], {
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
  }).format(at);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
