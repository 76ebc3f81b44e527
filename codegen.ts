// GraphQL Code Generator: typed documents for the operations under test/ and
// examples/, for the gateway client (client/), the demo (scripts/demo/) and
// the billing UI (web/src/), each checked against the committed
// schema.graphql (npm run codegen).
import type { CodegenConfig } from "@graphql-codegen/cli";

const typed = {
  preset: "client" as const,
  presetConfig: { fragmentMasking: false },
  config: {
    scalars: { Decimal: "string", DateTime: "string", Date: "string", EmailAddress: "string", CountryCode: "string" },
    enumsAsTypes: true,
    useTypeImports: true,
  },
};
/** Documents as strings: no graphql runtime needed to print them, and the client stays small. */
const asStrings = { ...typed, config: { ...typed.config, documentMode: "string" as const } };

const config: CodegenConfig = {
  schema: "schema.graphql",
  ignoreNoDocuments: true,
  // ESM: relative imports with .js extensions (tsconfig is NodeNext).
  emitLegacyCommonJSImports: false,
  generates: {
    "test/generated/": { ...typed, documents: ["test/**/*.graphql", "examples/**/*.graphql"] },
    "client/generated/": { ...asStrings, documents: ["client/**/*.graphql"] },
    // The demo's admin documents (npm run demo), sent through the client.
    "scripts/demo/generated/": { ...asStrings, documents: ["scripts/demo/**/*.graphql"] },
    // The UI is a client of the public API like any other: the same schema, its own documents.
    "web/src/generated/": { ...typed, documents: ["web/src/**/*.graphql"] },
  },
};

export default config;
