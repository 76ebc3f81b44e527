// The log transport (src/notify/mailer.ts without SMTP_URL): what comes from
// the database is escaped, so a line break in a mandate's name cannot forge a
// header or a log line.
import { describe, expect, it } from "vitest";
import { createMailer } from "../../src/notify/mailer.js";

describe("the logged email", () => {
  it("escapes control characters in headers and text", async () => {
    const printed: string[] = [];
    const mailer = createMailer({ from: "Saldo <billing@saldo.test>", log: (m) => printed.push(m) });
    await mailer.send({
      to: ["ops@acme.test"],
      subject: "Saldo: low balance of Evil\r\nBcc: everyone@evil.example",
      text: "The shared account of Evil\r\n[mail] forged line\nhas fallen \u001b[31mred\u001b[0m.\n\nAvailable to spend   CHF 1.00",
      html: "<p>x</p>",
    });
    mailer.close();
    const lines = printed[0].split("\n");
    expect(lines).toContain("Subject: Saldo: low balance of Evil\\r\\nBcc: everyone@evil.example");
    expect(lines.filter((l) => l.startsWith("Bcc:"))).toEqual([]);
    // The text keeps its lines, each indented; none can pass for a log line or carry a terminal escape.
    expect(lines.filter((l) => l.startsWith("[mail]"))).toHaveLength(1);
    expect(lines).toContain("  The shared account of Evil\\r");
    expect(lines).toContain("  [mail] forged line");
    expect(lines).toContain("  has fallen \\u001b[31mred\\u001b[0m.");
    expect(printed[0]).not.toMatch(/[\r\u001b]/);
    expect(lines).toContain("  Available to spend   CHF 1.00");
  });
});
