// The tables the money paths read and write, each column declared once:
// how it is selected as JSON (decimals and enums as exact text, never a
// float), parsed back, and sent in the JSON rows that
// json_populate_recordset turns into table rows. Adding a column is one line
// here (and the migration).
import {
  Prisma,
  type AuthorizationStatus,
  type BillingModel,
  type IdempotencyScope,
  type Price,
  type Settings,
  type Transaction,
  type UsageAuthorization,
} from "@prisma/client";
import { rawSql, sql, type Sql, type SqlRow } from "../../../db/sql.js";
import { Decimal, formatMoney } from "../../shared/money.js";
import type { LockedAccount } from "../accounts.js";

interface Column<T> {
  /** The column as a JSON value, selected from `alias`. */
  select(alias: string, name: string): string;
  parse(value: unknown, name: string): T;
  /** The value in a JSON row sent to the database. */
  send(value: T): unknown;
}

const nullable =
  <T>(parse: (value: unknown, name: string) => T) =>
  (value: unknown, name: string): T =>
    value === null || value === undefined ? (null as T) : parse(value, name);

function exactText(value: unknown, name: string): string {
  if (typeof value === "string" || (typeof value === "object" && value !== null && "toFixed" in value)) return String(value);
  throw new Error(`Column ${name} is not an exact decimal (got ${typeof value}): refusing to touch money`);
}

/** A timestamp: a Date from the driver, or JSON text of a timestamp(3) column (UTC wall time, no zone). */
function toDate(value: unknown): Date {
  if (value instanceof Date) return value;
  const text = String(value);
  return new Date(/[zZ]|[+-]\d\d(:?\d\d)?$/.test(text) ? text : `${text}Z`);
}

const plain = (alias: string, name: string) => `${alias}."${name}"`;
const asText = (alias: string, name: string) => `${alias}."${name}"::text`;

const text: Column<string> = { select: plain, parse: nullable((v) => v as string), send: (v) => v };
const num: Column<number> = { select: plain, parse: nullable((v) => Number(v)), send: (v) => v };
const bool: Column<boolean> = { select: plain, parse: nullable((v) => v as boolean), send: (v) => v };
const json: Column<Prisma.JsonValue> = { select: plain, parse: (v) => (v ?? null) as Prisma.JsonValue, send: (v) => v };
const stringList: Column<string[]> = { select: plain, parse: (v) => (v ?? []) as string[], send: (v) => v };
const timestamp: Column<Date> = { select: plain, parse: nullable(toDate), send: (v) => (v ? (v as Date).toISOString() : null) };
/** An enum, as its text. */
const label = <T extends string>(): Column<T> => ({ select: asText, parse: nullable((v) => v as T), send: (v) => v });
/** Money as Prisma returns it (rows handed to the API). */
const prismaMoney: Column<Prisma.Decimal> = {
  select: asText,
  parse: nullable((v, name) => new Prisma.Decimal(exactText(v, name))),
  send: (v) => (v === null ? null : formatMoney(v)),
};
/** Money the rules compute with (account state). */
const money: Column<Decimal> = {
  select: asText,
  parse: nullable((v, name) => new Decimal(exactText(v, name))),
  send: (v) => (v === null ? null : formatMoney(v)),
};

type Columns<Row> = { [K in keyof Row]: Column<Row[K]> };

export interface Table<Row> {
  name: string;
  columns: Columns<Row>;
  /** The row of `alias` as one JSON object (NULL when the row is missing), with `extra` key-value pairs. */
  json(alias: string, extra?: Sql): Sql;
  parse(row: SqlRow): Row;
  /** Rows as the JSON text json_populate_recordset takes (only `keys`, when given). */
  send(rows: Partial<Row>[], keys?: (keyof Row)[]): string;
}

function table<Row>(name: string, columns: Columns<Row>): Table<Row> {
  const names = Object.keys(columns) as (keyof Row & string)[];
  const pairs = names.map((n) => `'${n}', ${columns[n].select("%", n)}`).join(", ");
  return {
    name,
    columns,
    json: (alias, extra = sql``) =>
      sql`${rawSql(`CASE WHEN ${alias}."${names[0]}" IS NULL THEN NULL ELSE json_build_object(${pairs.replaceAll("%", alias)}`)}${extra}${rawSql(") END")}`,
    parse: (row) => Object.fromEntries(names.map((n) => [n, columns[n].parse(row[n], `${name}.${n}`)])) as Row,
    send: (rows, keys = names) =>
      JSON.stringify(rows.map((row) => Object.fromEntries(keys.map((k) => [k, columns[k].send(row[k] as Row[keyof Row])])))),
  };
}

export const SettingsTable = table<Settings>("Settings", {
  mandateId: text,
  billingModel: label<BillingModel>(),
  defaultUserCredit: prismaMoney,
  warningThresholdPercent: prismaMoney,
  blockOnZeroBalance: bool,
  billingAddress: json,
  notifyEmails: stringList,
  notifyOnWarning: bool,
  allowedProviders: json,
  autoTopUpEnabled: bool,
  autoTopUpBelow: prismaMoney,
  autoTopUpAmount: prismaMoney,
  autoTopUpMonthlyCap: prismaMoney,
  updatedAt: timestamp,
});

/** An account as the rules see it; `held` is computed by the read (reads.ts), never stored. */
export const AccountTable = table<Omit<LockedAccount, "held">>("BillingAccount", {
  id: text,
  mandateId: text,
  userId: text,
  accountKey: text,
  accountType: label<LockedAccount["accountType"]>(),
  balance: money,
  sequence: num,
  creditLimit: money,
  warningThreshold: money,
  lastTopUpBalance: money,
  isWarning: bool,
  lastWarningAt: timestamp,
  enabled: bool,
});

export const TransactionTable = table<Transaction>("Transaction", {
  id: text,
  accountId: text,
  mandateId: text,
  sequence: num,
  transactionType: label<Transaction["transactionType"]>(),
  amount: prismaMoney,
  delta: prismaMoney,
  balanceAfter: prismaMoney,
  description: text,
  referenceType: label<NonNullable<Transaction["referenceType"]>>(),
  referenceId: text,
  workflowId: text,
  featureInstanceId: text,
  featureCode: text,
  aicoreProvider: text,
  aicoreModel: text,
  createdByUserId: text,
  processingTime: num,
  bytesSent: num,
  bytesReceived: num,
  errorCount: num,
  idempotencyKey: text,
  idempotencyScope: label<IdempotencyScope>(),
  requestHash: text,
  createdAt: timestamp,
});

export const AuthorizationTable = table<UsageAuthorization>("UsageAuthorization", {
  id: text,
  accountId: text,
  mandateId: text,
  userId: text,
  amount: prismaMoney,
  status: label<AuthorizationStatus>(),
  provider: text,
  model: text,
  idempotencyKey: text,
  requestHash: text,
  expiresAt: timestamp,
  transactionId: text,
  createdAt: timestamp,
  closedAt: timestamp,
});

export const PriceTable = table<Price>("Price", {
  provider: text,
  model: text,
  inputPerMillionTokensUsd: prismaMoney,
  outputPerMillionTokensUsd: prismaMoney,
  perRequestUsd: prismaMoney,
  updatedAt: timestamp,
});
