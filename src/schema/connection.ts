// Cursor connections: { edges { cursor node } pageInfo totalCount }, and
// the cursors themselves: opaque to clients, base64url JSON of a position.
import { validation } from "../billing/shared/errors.js";
import { unstorableText } from "../billing/shared/validation.js";
import { builder } from "../builder.js";
import { IN_MEMORY, rows } from "./cost.js";
import { MAX_ID_LENGTH } from "./inputs.js";

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export interface Page<T> {
  nodes: T[];
  cursors: string[];
  totalCount: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** A page's size from `first`: 1 to MAX_PAGE_SIZE. */
export function pageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw validation(`first must be between 1 and ${MAX_PAGE_SIZE}, got ${first}`, ["first"]);
  }
  return size;
}

/**
 * A connection's cost: a page of rows as big as `first` asks (the default
 * page when absent; past the maximum, pageSize refuses it with its own message).
 */
export const pageCost = (args: { first?: number | null }, ctx: unknown, field: { name: string }) =>
  rows(Math.min(Math.max(args.first ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE), ctx, field);

export function encodeCursor(parts: Record<string, string>): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

/**
 * What each part of a cursor looks like as encodeCursor wrote it. A cursor
 * is only base64url JSON: a client can send anything, and a part the
 * database cannot take (an invalid date, a sequence past 2^53, a NUL) must be
 * refused like any other cursor this list did not return.
 */
const CURSOR_PARTS: Record<string, (value: string) => boolean> = {
  /** An instant as Date.toISOString writes it, years 0000-9999. */
  at: (value) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value) && new Date(value).toISOString() === value,
  /** A transaction's sequence: a non-negative integer a JS number holds exactly. */
  seq: (value) => /^\d{1,15}$/.test(value),
  id: (value) => value.length > 0 && value.length <= MAX_ID_LENGTH && unstorableText(value) === null,
};

export function decodeCursor(cursor: string, keys: string[]): Record<string, string> {
  try {
    const parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    const valid = (k: string) => typeof parts?.[k] === "string" && (CURSOR_PARTS[k]?.(parts[k]) ?? true);
    if (keys.every(valid)) return parts;
  } catch {
    // fall through to the error below
  }
  throw validation("after is not a cursor this list returned", ["after"]);
}

export const PageInfo = builder
  .objectRef<{ hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null }>("PageInfo")
  .implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean("hasNextPage"),
      hasPreviousPage: t.exposeBoolean("hasPreviousPage"),
      startCursor: t.exposeString("startCursor", { nullable: true }),
      endCursor: t.exposeString("endCursor", { nullable: true }),
    }),
  });

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

export function toConnection<T>(page: Page<T>): Connection<T> {
  return {
    edges: page.nodes.map((node, i) => ({ cursor: page.cursors[i], node })),
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: page.cursors[0] ?? null,
      endCursor: page.cursors.at(-1) ?? null,
    },
    totalCount: page.totalCount,
  };
}

/** Declares XEdge and XConnection for a node type. */
export function connectionType<T>(name: string, node: Parameters<typeof builder.objectRef<T>>[0] extends string ? any : never) {
  const Edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString("cursor"),
      node: t.field({ type: node, complexity: IN_MEMORY, resolve: (edge) => edge.node as never }),
    }),
  });
  return builder.objectRef<Connection<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      // The page's rows are counted by the connection field (pageCost).
      edges: t.field({ type: [Edge], complexity: IN_MEMORY, resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfo, complexity: IN_MEMORY, resolve: (c) => c.pageInfo }),
      totalCount: t.exposeInt("totalCount"),
    }),
  });
}
