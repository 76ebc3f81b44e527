// GraphQL Code Generator: typed documents for the operations under test/ and
// examples/, checked against the committed schema.graphql (npm run codegen).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["test/**/*.graphql", "examples/**/*.graphql"],
  ignoreNoDocuments: true,
  // ESM: relative imports with .js extensions (tsconfig is NodeNext).
  emitLegacyCommonJSImports: false,
  generates: {
    "test/generated/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { Decimal: "string", DateTime: "string", Date: "string", EmailAddress: "string", CountryCode: "string" },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
