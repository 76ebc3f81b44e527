// Prints the Pothos schema to schema.graphql (npm run schema). A test fails
// when the committed file differs from what this would print.
import { writeFileSync } from "node:fs";
import { printSaldoSchema, SCHEMA_FILE } from "../src/schema/print.js";

writeFileSync(SCHEMA_FILE, printSaldoSchema());
console.log(`wrote ${SCHEMA_FILE}`);
