// The schema: each domain file adds its types and the fields that return them.
import { builder } from "../builder.js";
import "./scalars.js";
import "./enums.js";
import "./errors.js";
import "./viewer.js";
import "./mandate.js";
import "./settings.js";
import "./account.js";

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSchema({ sortSchema: false });
