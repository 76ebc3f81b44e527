import { modelLabels } from "./model-labels.js";
import { builder } from "../builder.js";
import { Locale } from "./enums.js";
import { IN_MEMORY } from "./cost.js";

type ModelLabels = ReturnType<typeof modelLabels>[number];

const FieldLabel = builder.objectRef<ModelLabels["fields"][number]>("FieldLabel").implement({
  fields: (t) => ({ field: t.exposeString("field"), label: t.exposeString("label") }),
});

const ModelLabel = builder.objectRef<ModelLabels>("ModelLabel").implement({
  fields: (t) => ({
    model: t.exposeString("model"),
    label: t.exposeString("label"),
    fields: t.field({ type: [FieldLabel], complexity: IN_MEMORY, resolve: (m) => m.fields }),
  }),
});

builder.queryField("modelLabels", (t) =>
  t.field({
    type: [ModelLabel],
    description: "Field labels of the account, transaction, settings, statistics and address models.",
    args: { locale: t.arg({ type: Locale, required: true }) },
    authScopes: { authenticated: true },
    resolve: (_root, args) => modelLabels(args.locale),
  }),
);
