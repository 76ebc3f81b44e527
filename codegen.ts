// GraphQL Code Generator: typed documents for the operations under test/ and
// examples/, for the gateway client (client/) and for the demo
// (scripts/demo/), each checked against the committed schema.graphql
// (npm run codegen).
import type { CodegenConfig } from "@graphql-codegen/cli";

const scalars = { Decimal: "string", DateTime: "string", Date: "string", EmailAddress: "string", CountryCode: "string" };
const typed = { scalars, enumsAsTypes: true, useTypeImports: true };

const config: CodegenConfig = {
  schema: "schema.graphql",
  ignoreNoDocuments: true,
  // ESM: relative imports with .js extensions (tsconfig is NodeNext).
  emitLegacyCommonJSImports: false,
  generates: {
    "test/generated/": {
      documents: ["test/**/*.graphql", "examples/**/*.graphql"],
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: typed,
    },
    // The client sends documents as strings: no graphql runtime
    // needed to print them, and the client stays small.
    "client/generated/": {
      documents: ["client/**/*.graphql"],
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: { ...typed, documentMode: "string" },
    },
    // The demo's admin documents (npm run demo), sent through the client.
    "scripts/demo/generated/": {
      documents: ["scripts/demo/**/*.graphql"],
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: { ...typed, documentMode: "string" },
    },
  },
};

export default config;
