// The emails' words, in English and German, as plain text and HTML. Every
// value is escaped in the HTML; amounts arrive as decimal strings.
import type { BillingModel } from "@prisma/client";
import { type BillingAddress } from "../billing/mandates/settings.js";
import { UNATTRIBUTED } from "../billing/ledger/rollups.js";
import { escapeHtml, formatChf, formatCount, formatDateTime, formatMonthName, type Language } from "./format.js";
import type { MonthlyReport } from "./report.js";

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface BalanceWarningView {
  mandateId: string;
  mandateName: string;
  language: Language;
  billingModel: BillingModel;
  /** Whose account: the mandate's shared one (userId null) or a user's. */
  userId: string | null;
  /** What could still be spent when the warning fired, and the threshold. */
  available: string;
  threshold: string;
  at: Date;
  /** The account's balance when the email is written (null when unknown). */
  currentBalance: string | null;
  creditLimit: string | null;
  timeZone: string;
  /** Set when the email reports a failed automatic top-up. */
  autoTopUpFailure?: { amount: string; reason: string } | null;
}

const T = {
  EN: {
    sharedAccount: "the shared account",
    userAccount: (user: string) => `the account of user ${user}`,
    sharedAccountTitle: "Shared account",
    userAccountTitle: (user: string) => `Account of ${user}`,
    /** The account as the subject names it ("on ..."). */
    accountOn: (user: string | null) => (user ? `the account of user ${user}` : "the shared account"),
    warningSubject: (accountOn: string, mandate: string) => `Saldo: low balance on ${accountOn} of ${mandate}`,
    warningIntro: (account: string, mandate: string) =>
      `${capitalize(account)} of ${mandate} has fallen to or below its warning threshold.`,
    available: "Available to spend",
    threshold: "Warning threshold",
    balance: "Current balance",
    creditLimit: "Credit limit",
    when: "When",
    autoTopUpFailedSubject: (accountOn: string, mandate: string) => `Saldo: automatic top-up failed on ${accountOn} of ${mandate}`,
    autoTopUpFailed: (amount: string, reason: string) =>
      `The automatic top-up of ${amount} could not be charged to the saved card: ${reason}. Automatic top-ups are paused until a new card is saved (pay a top-up by checkout) or the automatic top-up settings are saved again.`,
    topUpPrepaid:
      "To keep AI features running, top up the account: in the app under Billing › Top up (mandate admins, and users for their own account), or ask your administrator. AI calls are refused once nothing is left to spend.",
    topUpPostpay:
      "To keep AI features running, pay the open amount or ask us to raise the credit limit. AI calls are refused once the credit limit is used up.",
    onceNote:
      "You receive this email once each time the account falls below its threshold; it is sent again only after a top-up has raised the balance above the threshold.",
    whyNote: (mandate: string) => `You receive this email because your address is listed for billing notifications of ${mandate}.`,
    reportSubject: (mandate: string, month: string) => `Saldo: monthly report ${month} for ${mandate}`,
    reportTitle: (month: string) => `Monthly report ${month}`,
    mandate: "Mandate",
    spend: (month: string) => `Spend in ${month}`,
    calls: (n: number) => (n === 1 ? "1 call" : `${formatCount(n, "EN")} calls`),
    byProvider: "By provider",
    byFeature: "By feature",
    byUser: "By user",
    noUser: "(no user)",
    unattributed: "(unattributed)",
    nothing: "No usage this month.",
    balances: "Balance at the end of the month",
    total: "Total",
    invoice: "Amount to be invoiced",
    billingAddress: "Billing address",
    noAddress: "(no billing address on file)",
    vat: "VAT no.",
    footer: (zone: string) => `Amounts in CHF. Months follow the time zone ${zone}.`,
  },
  DE: {
    sharedAccount: "das gemeinsame Konto",
    userAccount: (user: string) => `das Konto von Benutzer ${user}`,
    sharedAccountTitle: "Gemeinsames Konto",
    userAccountTitle: (user: string) => `Konto von ${user}`,
    accountOn: (user: string | null) => (user ? `dem Konto von Benutzer ${user}` : "dem gemeinsamen Konto"),
    warningSubject: (accountOn: string, mandate: string) => `Saldo: tiefes Guthaben auf ${accountOn} von ${mandate}`,
    warningIntro: (account: string, mandate: string) =>
      `${capitalize(account)} von ${mandate} ist auf oder unter die Warnschwelle gefallen.`,
    available: "Verfügbar",
    threshold: "Warnschwelle",
    balance: "Aktuelles Guthaben",
    creditLimit: "Kreditlimite",
    when: "Zeitpunkt",
    autoTopUpFailedSubject: (accountOn: string, mandate: string) =>
      `Saldo: automatische Aufladung auf ${accountOn} von ${mandate} fehlgeschlagen`,
    autoTopUpFailed: (amount: string, reason: string) =>
      `Die automatische Aufladung von ${amount} konnte der hinterlegten Karte nicht belastet werden: ${reason}. Automatische Aufladungen sind pausiert, bis eine neue Karte hinterlegt ist (Aufladung per Checkout bezahlen) oder die Einstellungen der automatischen Aufladung erneut gespeichert werden.`,
    topUpPrepaid:
      "Damit die KI-Funktionen weiterlaufen, laden Sie das Konto auf: in der App unter Abrechnung › Aufladen (Mandanten-Admins, Benutzer für ihr eigenes Konto), oder wenden Sie sich an Ihre Administration. KI-Aufrufe werden abgelehnt, sobald nichts mehr verfügbar ist.",
    topUpPostpay:
      "Damit die KI-Funktionen weiterlaufen, begleichen Sie den offenen Betrag oder bitten Sie uns, die Kreditlimite zu erhöhen. KI-Aufrufe werden abgelehnt, sobald die Kreditlimite ausgeschöpft ist.",
    onceNote:
      "Sie erhalten diese E-Mail einmal, wenn das Konto unter die Warnschwelle fällt, und erst wieder, nachdem eine Aufladung das Guthaben über die Schwelle gehoben hat.",
    whyNote: (mandate: string) => `Sie erhalten diese E-Mail, weil Ihre Adresse für Abrechnungsmitteilungen von ${mandate} hinterlegt ist.`,
    reportSubject: (mandate: string, month: string) => `Saldo: Monatsbericht ${month} für ${mandate}`,
    reportTitle: (month: string) => `Monatsbericht ${month}`,
    mandate: "Mandant",
    spend: (month: string) => `Kosten im ${month}`,
    calls: (n: number) => (n === 1 ? "1 Aufruf" : `${formatCount(n, "DE")} Aufrufe`),
    byProvider: "Nach Anbieter",
    byFeature: "Nach Funktion",
    byUser: "Nach Benutzer",
    noUser: "(ohne Benutzer)",
    unattributed: "(nicht zugeordnet)",
    nothing: "Keine Nutzung in diesem Monat.",
    balances: "Guthaben am Monatsende",
    total: "Total",
    invoice: "Zu verrechnender Betrag",
    billingAddress: "Rechnungsadresse",
    noAddress: "(keine Rechnungsadresse hinterlegt)",
    vat: "MWST-Nr.",
    footer: (zone: string) => `Beträge in CHF. Monate gemäss Zeitzone ${zone}.`,
  },
} as const;

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const STYLE = {
  body: "font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;line-height:1.45",
  table: "border-collapse:collapse;margin:4px 0 16px",
  cell: "padding:3px 16px 3px 0;text-align:left",
  amount: "padding:3px 0 3px 16px;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums",
  note: "padding:3px 0 3px 12px;color:#666",
  muted: "color:#666;font-size:12px",
};

function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="${STYLE.body}">
${body}
</body></html>
`;
}

/** A row: label, amount (or other value), and an optional note after it. */
type Row = [label: string, value: string, note?: string];

/** Rows aligned in columns for the text part; amounts ("CHF 1.50") aligned on their decimal point. */
function textRows(rows: Row[], indent = "  "): string {
  const money = (value: string) => /^CHF (-?[\d,']+)\.(\d+)$/.exec(value);
  const labelWidth = Math.max(0, ...rows.map(([label]) => label.length));
  const amounts = rows.map(([, value]) => money(value)).filter((m) => m !== null);
  const wholeWidth = Math.max(0, ...amounts.map((m) => m[1].length));
  const fractionWidth = Math.max(0, ...amounts.map((m) => m[2].length));
  return rows
    .map(([label, value, note]) => {
      const m = money(value);
      const shown = m ? `CHF ${m[1].padStart(wholeWidth)}.${m[2].padEnd(fractionWidth)}` : value;
      return `${indent}${label.padEnd(labelWidth)}  ${shown}${note ? `  ${note}` : ""}`.trimEnd();
    })
    .join("\n");
}

function htmlRows(rows: Row[]): string {
  return `<table style="${STYLE.table}">${rows
    .map(
      ([label, value, note]) =>
        `<tr><td style="${STYLE.cell}">${escapeHtml(label)}</td><td style="${STYLE.amount}">${escapeHtml(value)}</td>` +
        `<td style="${STYLE.note}">${note ? escapeHtml(note) : ""}</td></tr>`,
    )
    .join("")}</table>`;
}

// ------------------------------------------------------------ balance warning

export function renderBalanceWarning(view: BalanceWarningView): RenderedMail {
  const t = T[view.language];
  const lang = view.language;
  const account = view.userId ? t.userAccount(view.userId) : t.sharedAccount;
  const failure = view.autoTopUpFailure
    ? t.autoTopUpFailed(formatChf(view.autoTopUpFailure.amount, lang), view.autoTopUpFailure.reason)
    : null;
  const subject = (failure ? t.autoTopUpFailedSubject : t.warningSubject)(t.accountOn(view.userId), view.mandateName);
  const intro = failure ?? t.warningIntro(account, view.mandateName);
  const rows: Row[] = [
    [t.available, formatChf(view.available, lang)],
    [t.threshold, formatChf(view.threshold, lang)],
  ];
  if (view.currentBalance !== null) rows.push([t.balance, formatChf(view.currentBalance, lang)]);
  if (view.billingModel === "CREDIT_POSTPAY" && view.creditLimit !== null) rows.push([t.creditLimit, formatChf(view.creditLimit, lang)]);
  rows.push([t.when, `${formatDateTime(view.at, lang, view.timeZone)} (${view.timeZone})`]);
  const hint = view.billingModel === "CREDIT_POSTPAY" ? t.topUpPostpay : t.topUpPrepaid;
  // A failure report is one per failed payment, not per crossing.
  const notes = failure ? [t.whyNote(view.mandateName)] : [t.onceNote, t.whyNote(view.mandateName)];
  const text = [intro, "", textRows(rows), "", hint, "", "--", ...notes, ""].join("\n");
  const html = htmlPage(
    subject,
    [
      `<p>${escapeHtml(intro)}</p>`,
      htmlRows(rows),
      `<p><strong>${escapeHtml(hint)}</strong></p>`,
      `<p style="${STYLE.muted}">${notes.map(escapeHtml).join("<br>")}</p>`,
    ].join("\n"),
  );
  return { subject, text, html };
}

// ------------------------------------------------------------ monthly report

export function renderMonthlyReport(report: MonthlyReport): RenderedMail {
  const t = T[report.language];
  const lang = report.language;
  const monthName = formatMonthName(report.month, lang);
  const subject = t.reportSubject(report.mandateName, monthName);
  const title = t.reportTitle(monthName);
  const money = (value: string) => formatChf(value, lang);
  const keyLabel = (key: string) => (key === UNATTRIBUTED ? t.unattributed : key);
  const accountLabel = (b: MonthlyReport["balances"][number]) => (b.userId ? t.userAccountTitle(b.userId) : t.sharedAccountTitle);

  const summary = `${t.spend(monthName)}: ${money(report.total)} (${t.calls(report.calls)})`;
  const sections: { heading: string; rows: Row[] }[] = [];
  if (report.calls > 0) {
    sections.push({ heading: t.byProvider, rows: report.byProvider.map((s) => [keyLabel(s.key), money(s.cost)]) });
    sections.push({ heading: t.byFeature, rows: report.byFeature.map((s) => [keyLabel(s.key), money(s.cost)]) });
    sections.push({
      heading: t.byUser,
      rows: report.byUser.map((u): Row => [u.userId ?? t.noUser, money(u.cost), `(${t.calls(u.calls)})`]),
    });
  }
  if (report.balances.length > 0) {
    sections.push({ heading: t.balances, rows: report.balances.map((b) => [accountLabel(b), money(b.balance)]) });
  }
  const address = report.invoice ? addressLines(report.invoice.billingAddress, t.vat) : [];

  const text = [
    `${title}`,
    `${t.mandate}: ${report.mandateName} (${report.mandateId})`,
    "",
    summary,
    ...(report.calls === 0 ? [t.nothing] : []),
    ...sections.flatMap((s) => ["", s.heading, textRows(s.rows)]),
    ...(report.invoice
      ? [
          "",
          `${t.invoice}: ${money(report.invoice.amount)}`,
          `${t.billingAddress}:`,
          ...(address.length ? address : [t.noAddress]).map((l) => `  ${l}`),
        ]
      : []),
    "",
    "--",
    t.footer(report.timeZone),
    t.whyNote(report.mandateName),
    "",
  ].join("\n");

  const html = htmlPage(
    subject,
    [
      `<h2 style="margin:0 0 4px">${escapeHtml(title)}</h2>`,
      `<p style="margin-top:0">${escapeHtml(t.mandate)}: ${escapeHtml(report.mandateName)} (${escapeHtml(report.mandateId)})</p>`,
      `<p><strong>${escapeHtml(summary)}</strong></p>`,
      ...(report.calls === 0 ? [`<p>${escapeHtml(t.nothing)}</p>`] : []),
      ...sections.map((s) => `<h3 style="margin:12px 0 2px;font-size:15px">${escapeHtml(s.heading)}</h3>\n${htmlRows(s.rows)}`),
      ...(report.invoice
        ? [
            `<h3 style="margin:12px 0 2px;font-size:15px">${escapeHtml(t.invoice)}: ${escapeHtml(money(report.invoice.amount))}</h3>`,
            `<p>${escapeHtml(t.billingAddress)}:<br>${(address.length ? address : [t.noAddress]).map(escapeHtml).join("<br>")}</p>`,
          ]
        : []),
      `<p style="${STYLE.muted}">${escapeHtml(t.footer(report.timeZone))}<br>${escapeHtml(t.whyNote(report.mandateName))}</p>`,
    ].join("\n"),
  );
  return { subject, text, html };
}

function addressLines(address: BillingAddress | null, vat: string): string[] {
  if (!address) return [];
  return [
    address.company,
    address.street,
    `${address.zip} ${address.city}`,
    address.country,
    ...(address.vatNumber ? [`${vat} ${address.vatNumber}`] : []),
  ];
}
