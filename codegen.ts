// GraphQL Code Generator: typed documents for the operations under test/ and
// examples/, and for the billing UI's operations under web/src/, checked
// against the committed schema.graphql (npm run codegen).
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

const config: CodegenConfig = {
  schema: "schema.graphql",
  ignoreNoDocuments: true,
  // ESM: relative imports with .js extensions (tsconfig is NodeNext).
  emitLegacyCommonJSImports: false,
  generates: {
    "test/generated/": { ...typed, documents: ["test/**/*.graphql", "examples/**/*.graphql"] },
    // The UI is a client of the public API like any other: the same schema, its own documents.
    "web/src/generated/": { ...typed, documents: ["web/src/**/*.graphql"] },
  },
};

export default config;
