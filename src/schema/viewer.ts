import { builder } from "../builder.js";
import type { Caller } from "../auth.js";

const Viewer = builder.objectRef<Caller>("Viewer").implement({
  fields: (t) => ({
    userId: t.exposeString("userId", { nullable: true }),
    roles: t.exposeStringList("roles"),
    mandateIds: t.exposeIDList("mandateIds"),
  }),
});

builder.queryField("viewer", (t) =>
  t.field({
    type: Viewer,
    description: "Who the caller is, as the token says.",
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => ctx.caller!,
  }),
);
