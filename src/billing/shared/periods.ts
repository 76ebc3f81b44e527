// Statistics periods start at local midnight in the billing time zone: a
// debit at 23:30 UTC on 31 October is in November in Zurich.

export type PeriodType = "DAY" | "MONTH" | "YEAR";

export interface PeriodStarts {
  DAY: string;
  MONTH: string;
  YEAR: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar date of `at` in `timeZone`, as YYYY-MM-DD. */
export function localDate(at: Date, timeZone: string): string {
  let format = formatters.get(timeZone);
  if (!format) {
    // en-CA formats dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
    formatters.set(timeZone, format);
  }
  return format.format(at);
}

export function periodStarts(at: Date, timeZone: string): PeriodStarts {
  const day = localDate(at, timeZone);
  return { DAY: day, MONTH: `${day.slice(0, 7)}-01`, YEAR: `${day.slice(0, 4)}-01-01` };
}
