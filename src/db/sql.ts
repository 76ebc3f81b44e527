// The SQL of the money paths, built with a tagged template: text with $n
// placeholders and the values beside it, never concatenated into the text.
import pg from "pg";

/**
 * A value sent to SQL: text or NULL. Statements cast each one ($1::numeric,
 * $2::timestamp(3), ...), so every transport reads it the same way; money is
 * passed as its decimal text, never as a JavaScript number.
 */
export type SqlValue = string | null;
export type SqlRow = Record<string, unknown>;

/** A statement, or a fragment of one: text around placeholders, and their values. Build it with `sql`. */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly SqlValue[],
    /** Never prepared: PostgreSQL plans it at every run (see plannedEachTime). */
    readonly planEachTime = false,
  ) {}

  #text: string | undefined;

  /** The text with $1..$n placeholders. */
  get text(): string {
    this.#text ??= this.strings.reduce((text, part, i) => `${text}$${i}${part}`);
    return this.#text;
  }

  /** The text with every value written in as a quoted literal. */
  inline(): string {
    return this.strings.reduce((text, part, i) => `${text}${literal(this.values[i - 1])}${part}`);
  }
}

/**
 * A value as an SQL literal, for the simple query protocol, which carries no
 * parameters: pg's escapeLiteral (a port of libpq's PQescapeLiteral) on text,
 * NULL for null. Values are only ever text (see SqlValue).
 */
export function literal(value: SqlValue | undefined): string {
  if (value === null) return "NULL";
  if (typeof value !== "string") throw new Error(`SQL values are text or null, got ${typeof value}`);
  // PostgreSQL text cannot hold NUL, and the protocol would end the query text there.
  if (value.includes("\0")) throw new Error("SQL text values must not contain NUL characters");
  // Without a quote or a backslash escapeLiteral only adds the quotes; its
  // character loop is measurable on the debit path (ids, hashes, amounts).
  return NEEDS_ESCAPING.test(value) ? pg.escapeLiteral(value) : `'${value}'`;
}

const NEEDS_ESCAPING = /['\\]/;

/** Tagged template: sql`SELECT ... WHERE "id" = ${id}::text`; a nested Sql is spliced in with its values. */
export function sql(strings: TemplateStringsArray, ...args: (SqlValue | Sql)[]): Sql {
  const out = { strings: [strings[0]], values: [] as SqlValue[], planEachTime: false };
  args.forEach((arg, i) => {
    splice(out, arg instanceof Sql ? arg : new Sql(["", ""], [arg]));
    out.strings[out.strings.length - 1] += strings[i + 1];
  });
  return new Sql(out.strings, out.values, out.planEachTime);
}

/**
 * A statement PostgreSQL plans again at every run instead of preparing it
 * once: for a lookup whose best plan depends on how far the table has grown
 * since its statistics were taken. A prepared statement keeps the generic
 * plan it settled on early, while the table was small and every index
 * looked as good.
 */
export function plannedEachTime(statement: Sql): Sql {
  return new Sql(statement.strings, statement.values, true);
}

/** Text taken as it is: only ever SQL written in this code base, never a value. */
export function rawSql(text: string): Sql {
  return new Sql([text], []);
}

/** Fragments joined by a separator, e.g. the rows of a VALUES list. */
export function joinSql(fragments: readonly Sql[], separator: string): Sql {
  const out = { strings: [""], values: [] as SqlValue[], planEachTime: false };
  fragments.forEach((fragment, i) => {
    if (i > 0) out.strings[out.strings.length - 1] += separator;
    splice(out, fragment);
  });
  return new Sql(out.strings, out.values, out.planEachTime);
}

/** Appends a fragment; a statement holding a fragment planned each time is planned each time. */
function splice(out: { strings: string[]; values: SqlValue[]; planEachTime: boolean }, fragment: Sql) {
  out.strings[out.strings.length - 1] += fragment.strings[0];
  out.strings.push(...fragment.strings.slice(1));
  out.values.push(...fragment.values);
  out.planEachTime ||= fragment.planEachTime;
}
