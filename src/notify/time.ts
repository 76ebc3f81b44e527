// Calendar months in the billing time zone: which month a report covers, and
// the instants where it begins and ends. The same boundaries as the usage
// rollups (a debit belongs to the local date of its createdAt).

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock date and time of `at` in `timeZone`. */
export function localParts(at: Date, timeZone: string): LocalParts {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** "2026-10" -> { year: 2026, month: 10 }; throws on anything else. */
export function parseMonth(text: string): { year: number; month: number } {
  const match = MONTH.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a month: use YYYY-MM, e.g. 2026-10`);
  return { year: Number(match[1]), month: Number(match[2]) };
}

const pad = (n: number) => String(n).padStart(2, "0");

export function formatMonth(year: number, month: number): string {
  return `${year}-${pad(month)}`;
}

/** The month of `at` in the time zone, as YYYY-MM. */
export function monthOf(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  return formatMonth(p.year, p.month);
}

export function addMonths(month: string, delta: number): string {
  const { year, month: m } = parseMonth(month);
  const index = year * 12 + (m - 1) + delta;
  return formatMonth(Math.floor(index / 12), (index % 12) + 1);
}

/** The UTC instant of local midnight starting `date` (YYYY-MM-DD) in the time zone. */
export function localMidnight(date: string, timeZone: string): Date {
  const [y, m, d] = date.split("-").map(Number);
  const naive = Date.UTC(y, m - 1, d);
  // The zone's offset at the guess, then once more at the corrected instant
  // (the offset may differ between the two when a DST change is near).
  let instant = naive - offsetMs(new Date(naive), timeZone);
  instant = naive - offsetMs(new Date(instant), timeZone);
  return new Date(instant);
}

function offsetMs(at: Date, timeZone: string): number {
  const p = localParts(at, timeZone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(at.getTime() / 1000) * 1000;
}

/** The instants [start, end) of a month in the time zone. */
export function monthRange(month: string, timeZone: string): { start: Date; end: Date } {
  return { start: localMidnight(`${month}-01`, timeZone), end: localMidnight(`${addMonths(month, 1)}-01`, timeZone) };
}

/** The hour of the 1st at which monthly reports go out (local time). */
export const REPORT_HOUR = 6;

/**
 * The month whose report is due at `at`: last month once the 1st's 06:00
 * (local) has passed, otherwise the month before that (still the latest run
 * that should have happened).
 */
export function dueReportMonth(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  const current = formatMonth(p.year, p.month);
  const beforeRun = p.day === 1 && p.hour < REPORT_HOUR;
  return addMonths(current, beforeRun ? -2 : -1);
}

/** Whether the month is over at `at` (in the time zone): only then is its report final. */
export function monthEnded(month: string, at: Date, timeZone: string): boolean {
  return monthOf(at, timeZone) > month;
}
