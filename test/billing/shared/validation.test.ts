// The text rules every caller of the domain meets (src/billing/shared/validation.ts):
// the API checks them first (test/schema/inputs.test.ts), the domain again.
import { describe, expect, it } from "vitest";
import { parseIdempotencyKey } from "../../../src/billing/shared/idempotency.js";
import {
  identifier,
  IDENTIFIER_MAX_LENGTH,
  optionalIdentifier,
  optionalText,
  requiredText,
  singleLineText,
} from "../../../src/billing/shared/validation.js";

describe("text", () => {
  it("refuses NUL and lone surrogates, naming the field", () => {
    expect(() => optionalText("a\u0000b", ["input", "description"])).toThrow(
      expect.objectContaining({
        code: "VALIDATION_FAILED",
        message: "description must not contain NUL characters (U+0000)",
        field: ["input", "description"],
      }),
    );
    expect(() => requiredText("\uD800", ["input", "allowedProviders", "2"])).toThrow(
      expect.objectContaining({
        message: "allowedProviders[2] is not well-formed Unicode: it contains a lone surrogate (U+D800 to U+DFFF)",
      }),
    );
    expect(optionalText(" Zürich 🎉 ", ["x"])).toBe("Zürich 🎉");
  });

  it("keeps names on one line", () => {
    expect(() => singleLineText("Acme\r\nBcc: x@evil.example", ["input", "name"])).toThrow(
      expect.objectContaining({
        message: "name must not contain control characters such as line breaks or tabs",
        field: ["input", "name"],
      }),
    );
    expect(() => singleLineText("A\tB", ["input", "name"])).toThrow(/control characters/);
    expect(singleLineText(" Acme AG ", ["input", "name"])).toBe("Acme AG");
  });
});

describe("identifiers", () => {
  it("have a maximum length per kind", () => {
    for (const [kind, max] of Object.entries(IDENTIFIER_MAX_LENGTH) as [keyof typeof IDENTIFIER_MAX_LENGTH, number][]) {
      expect(identifier("x".repeat(max), ["input", kind], kind)).toHaveLength(max);
      expect(() => identifier("x".repeat(max + 1), ["input", kind], kind)).toThrow(`${kind} is longer than ${max} characters`);
    }
    expect(() => identifier("", ["input", "userId"], "userId")).toThrow("userId must not be empty");
    expect(() => identifier("a\u0000", ["input", "userId"], "userId")).toThrow(/NUL/);
    expect(optionalIdentifier(null, ["input", "userId"], "userId")).toBeNull();
  });

  it("idempotency keys follow them too", () => {
    expect(() => parseIdempotencyKey("k\u0000")).toThrow(/idempotencyKey must not contain NUL/);
    expect(() => parseIdempotencyKey("k".repeat(201))).toThrow("idempotencyKey is longer than 200 characters");
    expect(parseIdempotencyKey("k".repeat(200))).toHaveLength(200);
  });
});
