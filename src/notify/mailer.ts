// Sends emails with nodemailer over SMTP_URL. Without SMTP_URL the "log"
// transport writes each message to the log instead: never silently lost.
import nodemailer from "nodemailer";
import { log } from "../log.js";
import type { RenderedMail } from "./templates.js";

export interface OutgoingMail extends RenderedMail {
  to: string[];
}

export interface SentMail {
  transport: "smtp" | "log";
  messageId: string;
  accepted: string[];
  rejected: string[];
}

export interface Mailer {
  readonly transport: "smtp" | "log";
  /** Resolves once the SMTP server accepted the message (or it was logged); rejects otherwise. */
  send(mail: OutgoingMail): Promise<SentMail>;
  close(): void;
}

export interface MailerOptions {
  /** smtp://user:pass@host:587 or smtps://...; options such as ?ignoreTLS=true are read from the query. */
  smtpUrl?: string;
  /** The sender, e.g. "Saldo <billing@example.com>". */
  from: string;
  /** Where the log transport writes (the process's log by default). */
  log?: (message: string) => void;
  /** SMTP timeouts in ms: connecting, waiting for the greeting, and socket inactivity. */
  timeouts?: { connection?: number; greeting?: number; socket?: number };
}

const address = (a: unknown) => (typeof a === "string" ? a : ((a as { address?: string })?.address ?? String(a)));

export function createMailer(options: MailerOptions): Mailer {
  if (!options.smtpUrl) return logMailer(options);
  const transporter = nodemailer.createTransport(
    {
      url: options.smtpUrl,
      // Bounded, so that a stalled server fails the attempt (and it is
      // retried) long before the outbox's lease on the row runs out.
      connectionTimeout: options.timeouts?.connection ?? 30_000,
      greetingTimeout: options.timeouts?.greeting ?? 30_000,
      socketTimeout: options.timeouts?.socket ?? 60_000,
    },
    { from: options.from },
  );
  return {
    transport: "smtp",
    async send(mail) {
      const info = await transporter.sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      return {
        transport: "smtp",
        messageId: info.messageId,
        accepted: (info.accepted ?? []).map(address),
        rejected: (info.rejected ?? []).map(address),
      };
    },
    close: () => transporter.close(),
  };
}

/** Control characters (line breaks, escape sequences) written as JSON escapes: \r, \n, \u001b. */
export const oneLine = (value: string) => value.replace(/\p{Cc}/gu, (c) => JSON.stringify(c).slice(1, -1));

function logMailer(options: MailerOptions): Mailer {
  const write = options.log ?? ((message: string) => log.child({ module: "mail" }).info(message));
  // nodemailer still composes the message (and its Message-ID); it is only not sent.
  const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true }, { from: options.from });
  return {
    transport: "log",
    async send(mail) {
      const info = await transporter.sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      // Values from the database (a mandate's name in the subject and text)
      // are escaped: a line break in one cannot forge a header or a log line.
      write(
        [
          `[mail] SMTP_URL is not set: this email was not sent, it is logged here.`,
          `From: ${oneLine(options.from)}`,
          `To: ${oneLine(mail.to.join(", "))}`,
          `Subject: ${oneLine(mail.subject)}`,
          `Message-ID: ${oneLine(info.messageId)}`,
          "",
          ...mail.text.split("\n").map((line) => `  ${oneLine(line)}`),
        ].join("\n"),
      );
      return { transport: "log", messageId: info.messageId, accepted: [...mail.to], rejected: [] };
    },
    close: () => transporter.close(),
  };
}
