// The Decimal scalar: exact money as a string ("12.500000") on output; a
// string or an integer on input; more than 6 fractional digits is an error,
// never a silent rounding.
import { GraphQLError, Kind, type ValueNode } from "graphql";
import { builder } from "../builder.js";
import { Decimal, formatMoney, MONEY_SCALE } from "../billing/shared/money.js";

const DECIMAL_TEXT = /^[+-]?\d+(\.\d+)?$/;
/** Already in the output form (what the database and formatMoney produce): passed through unparsed. */
const MONEY_TEXT = /^-?\d+\.\d{6}$/;

function parseDecimal(value: unknown): Decimal {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new GraphQLError(`Decimal takes a string such as "12.50" or an integer, got ${value}: floats lose cents`);
    }
    return new Decimal(value);
  }
  if (typeof value !== "string" || !DECIMAL_TEXT.test(value.trim())) {
    throw new GraphQLError(`Decimal must be a decimal string such as "12.50", got ${JSON.stringify(value)}`);
  }
  const decimal = new Decimal(value.trim());
  if (decimal.decimalPlaces() > MONEY_SCALE) {
    throw new GraphQLError(`Decimal "${value}" has more than ${MONEY_SCALE} fractional digits`);
  }
  return decimal;
}

function literal(ast: ValueNode): unknown {
  if (ast.kind === Kind.STRING) return ast.value;
  if (ast.kind === Kind.INT) return Number(ast.value);
  throw new GraphQLError(`Decimal must be a string or an integer literal`);
}

builder.scalarType("Decimal", {
  description:
    'Exact decimal, serialized as a string such as "12.500000". Inputs take a string or an integer; more than 6 fractional digits is an error, never a silent rounding.',
  serialize: (value) => (typeof value === "string" && MONEY_TEXT.test(value) ? value : formatMoney(value as Decimal)),
  parseValue: parseDecimal,
  parseLiteral: (ast) => parseDecimal(literal(ast)),
});
