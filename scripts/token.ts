// Prints a development token: npm run token -- --role SYSADMIN [--mandate m1 --mandate m2] [--user u1]
import { parseArgs } from "node:util";
import { decodeJwt } from "jose";
import { ROLES, signToken, type Role } from "../src/auth.js";
import { loadConfig } from "../src/config.js";

const { values } = parseArgs({
  options: {
    role: { type: "string", multiple: true },
    mandate: { type: "string", multiple: true },
    user: { type: "string" },
    expires: { type: "string", default: "12h" },
    help: { type: "boolean", short: "h" },
  },
});

const usage = `usage: npm run token -- --role ${ROLES.join("|")} [--role ...] [--mandate ID ...] [--user ID] [--expires 12h]`;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const roles = (values.role ?? []).map((r) => r.toUpperCase());
const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
if (roles.length === 0 || unknown.length > 0) {
  console.error(unknown.length ? `unknown role(s): ${unknown.join(", ")}` : "give at least one --role");
  console.error(usage);
  process.exit(2);
}
const config = loadConfig();
const token = await signToken(
  { roles: roles as Role[], mandateIds: values.mandate ?? [], userId: values.user ?? null },
  config.JWT_SECRET,
  values.expires,
);
// The server refuses tokens that live longer than JWT_MAX_TTL: say so now rather than at the first request.
const { exp, iat } = decodeJwt(token);
if (exp! - iat! > config.JWT_MAX_TTL) {
  console.error(`--expires ${values.expires} is longer than JWT_MAX_TTL (${config.JWT_MAX_TTL} s): the server would refuse this token`);
  process.exit(2);
}
console.log(token);
