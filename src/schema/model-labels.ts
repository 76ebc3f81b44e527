// Field labels the frontend shows, in English and German, per model.
export type Locale = "EN" | "DE";

type Labels = Record<string, [en: string, de: string]>;

const MODELS: { model: string; label: [string, string]; fields: Labels }[] = [
  {
    model: "BillingAccount",
    label: ["Billing account", "Abrechnungskonto"],
    fields: {
      accountType: ["Account type", "Kontotyp"],
      userId: ["User", "Benutzer"],
      currency: ["Currency", "Währung"],
      balance: ["Balance", "Guthaben"],
      held: ["Reserved", "Reserviert"],
      available: ["Available", "Verfügbar"],
      creditLimit: ["Credit limit", "Kreditlimite"],
      warningThreshold: ["Warning threshold", "Warnschwelle"],
      isWarning: ["Low balance", "Tiefes Guthaben"],
      lastWarningAt: ["Last warning", "Letzte Warnung"],
      enabled: ["Enabled", "Aktiviert"],
    },
  },
  {
    model: "Transaction",
    label: ["Transaction", "Buchung"],
    fields: {
      transactionType: ["Type", "Typ"],
      amount: ["Amount", "Betrag"],
      delta: ["Change", "Veränderung"],
      balanceAfter: ["Balance after", "Saldo danach"],
      description: ["Description", "Beschreibung"],
      referenceType: ["Reference type", "Referenztyp"],
      referenceId: ["Reference", "Referenz"],
      workflowId: ["Workflow", "Workflow"],
      featureInstanceId: ["Feature instance", "Feature-Instanz"],
      featureCode: ["Feature", "Feature"],
      aicoreProvider: ["Provider", "Anbieter"],
      aicoreModel: ["Model", "Modell"],
      createdByUserId: ["User", "Benutzer"],
      processingTime: ["Processing time (s)", "Verarbeitungszeit (s)"],
      bytesSent: ["Bytes sent", "Gesendete Bytes"],
      bytesReceived: ["Bytes received", "Empfangene Bytes"],
      errorCount: ["Errors", "Fehler"],
      createdAt: ["Date", "Datum"],
    },
  },
  {
    model: "Settings",
    label: ["Billing settings", "Abrechnungseinstellungen"],
    fields: {
      billingModel: ["Billing model", "Abrechnungsmodell"],
      defaultUserCredit: ["Starting credit per user", "Startguthaben pro Benutzer"],
      warningThresholdPercent: ["Warning threshold (%)", "Warnschwelle (%)"],
      blockOnZeroBalance: ["Block at zero balance", "Bei Nullsaldo sperren"],
      billingAddress: ["Billing address", "Rechnungsadresse"],
      notifyEmails: ["Notification emails", "Benachrichtigungs-E-Mails"],
      notifyOnWarning: ["Notify on low balance", "Bei tiefem Guthaben benachrichtigen"],
      allowedProviders: ["Allowed providers", "Erlaubte Anbieter"],
      autoTopUp: ["Automatic top-up", "Automatische Aufladung"],
    },
  },
  {
    model: "AutoTopUpSettings",
    label: ["Automatic top-up", "Automatische Aufladung"],
    fields: {
      enabled: ["Enabled", "Aktiviert"],
      belowAmount: ["Top up below (CHF)", "Aufladen unter (CHF)"],
      topUpAmount: ["Top-up amount (CHF)", "Aufladebetrag (CHF)"],
      monthlyCap: ["Monthly cap (CHF)", "Monatliches Maximum (CHF)"],
      paymentMethodSaved: ["Card saved", "Karte hinterlegt"],
    },
  },
  {
    model: "AutoTopUp",
    label: ["Automatic top-up", "Automatische Aufladung"],
    fields: {
      amount: ["Amount", "Betrag"],
      status: ["Status", "Status"],
      failureMessage: ["Reason for failure", "Fehlergrund"],
      createdAt: ["Date", "Datum"],
    },
  },
  {
    model: "UsageStatistics",
    label: ["Usage statistics", "Nutzungsstatistik"],
    fields: {
      periodType: ["Period", "Zeitraum"],
      periodStart: ["Period start", "Beginn"],
      totalCost: ["Total cost", "Gesamtkosten"],
      transactionCount: ["Calls", "Aufrufe"],
      costByProvider: ["Cost by provider", "Kosten nach Anbieter"],
      costByFeature: ["Cost by feature", "Kosten nach Feature"],
    },
  },
  {
    model: "BillingAddress",
    label: ["Billing address", "Rechnungsadresse"],
    fields: {
      company: ["Company", "Firma"],
      street: ["Street", "Strasse"],
      zip: ["Postal code", "PLZ"],
      city: ["City", "Ort"],
      country: ["Country", "Land"],
      vatNumber: ["VAT number", "MWST-Nummer"],
    },
  },
];

export function modelLabels(locale: Locale) {
  const i = locale === "DE" ? 1 : 0;
  return MODELS.map(({ model, label, fields }) => ({
    model,
    label: label[i],
    fields: Object.entries(fields).map(([field, labels]) => ({ field, label: labels[i] })),
  }));
}
