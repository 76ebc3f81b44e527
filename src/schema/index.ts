// The schema: each domain file adds its types and the fields that return them.
import { builder } from "../builder.js";
import "./scalars.js";
import "./enums.js";
import "./errors.js";
import "./viewer.js";
import "./mandate.js";
import "./settings.js";
import "./account.js";
import "./transaction.js";
import "./balance.js";
import "./statistics.js";
import "./gateway.js";
import "./credits.js";
import "./pricing.js";
import "./labels.js";
import "./live.js";
import "./topup.js";

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

export const schema = builder.toSchema({ sortSchema: false });
