import { fileURLToPath } from "node:url";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "./index.js";

export const SCHEMA_FILE = fileURLToPath(new URL("../../schema.graphql", import.meta.url));

export function printSaldoSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
