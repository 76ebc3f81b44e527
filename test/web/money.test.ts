// The UI's amounts: formatted from the API's decimal strings without a
// detour through a JavaScript number, 2 digits shown, the exact value kept.
import { describe, expect, it } from "vitest";
import { formatMoney, hasMoreDigits, parseAmountInput } from "../../web/src/money.js";

const SEP = "['’]"; // de-CH and en-CH group thousands with an apostrophe (ICU versions differ in which)
const plain = (text: string | undefined) => text?.replace(/\s/g, " ");

describe("formatMoney", () => {
  it("shows CHF with thousands separators and 2 digits, the exact value when it has more", () => {
    for (const locale of ["de-CH", "en-CH"] as const) {
      expect(plain(formatMoney("1234.500000", locale).text)).toMatch(new RegExp(`^CHF 1${SEP}234\\.50$`));
      expect(formatMoney("1234.500000", locale).exact).toBeUndefined();
      const precise = formatMoney("1234.567891", locale);
      expect(plain(precise.text)).toMatch(new RegExp(`^CHF 1${SEP}234\\.57$`));
      expect(plain(precise.exact)).toMatch(new RegExp(`^CHF 1${SEP}234\\.567891$`));
    }
  });

  it("keeps every digit of the largest amounts, which a number would not", () => {
    const largest = "999999999999.999999"; // Decimal(18, 6)
    expect(Number(largest).toFixed(6)).not.toBe(largest);
    expect(plain(formatMoney(largest, "de-CH").exact)).toMatch(new RegExp(`^CHF 999${SEP}999${SEP}999${SEP}999\\.999999$`));
    // Rounded half up from the decimal itself, not from its binary neighbour.
    expect(plain(formatMoney("0.005000", "en-CH").text)).toBe("CHF 0.01");
    expect(plain(formatMoney("1.015000", "en-CH").text)).toBe("CHF 1.02");
    expect((1.015).toFixed(2)).toBe("1.01");
  });

  it("shows negative amounts with their sign, and no minus on a zero", () => {
    expect(plain(formatMoney("-5.250000", "en-CH").text)).toMatch(/^-\s?CHF\s?5\.25$|^CHF\s?-5\.25$/);
    expect(plain(formatMoney("-0.000001", "en-CH").text)).toBe("CHF 0.00");
    expect(formatMoney("-0.000001", "en-CH").exact).toBeDefined();
  });

  it("shows a missing amount as a dash", () => {
    expect(formatMoney(null, "de-CH").text).toBe("–");
  });
});

describe("amount inputs", () => {
  it("takes what people type and gives the API's decimal string, or null", () => {
    expect(parseAmountInput("1'234.50")).toBe("1234.50");
    expect(parseAmountInput("12,5")).toBe("12.5");
    expect(parseAmountInput(" -3 ")).toBe("-3");
    expect(parseAmountInput("+7.000001")).toBe("7.000001");
    expect(parseAmountInput("1.0000001")).toBeNull();
    expect(parseAmountInput("1e3")).toBeNull();
    expect(parseAmountInput("")).toBeNull();
    expect(hasMoreDigits("1.500000")).toBe(false);
    expect(hasMoreDigits("1.501000")).toBe(true);
  });
});
