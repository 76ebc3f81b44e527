// Languages: the UI's own words here, in English and German; the names of
// the data's fields from the API's modelLabels, so the UI and Saldo's emails
// and reports call a field the same.
import { createContext, type ComponentChildren } from "preact";
import { useContext, useMemo, useState } from "preact/hooks";
import { useQuery } from "@urql/preact";
import { LabelsDocument, type Locale } from "./generated/graphql.js";
import type { NumberLocale } from "./money.js";

const WORDS = {
  appName: ["Saldo billing", "Saldo Abrechnung"],
  signIn: ["Sign in", "Anmelden"],
  signOut: ["Sign out", "Abmelden"],
  tokenLabel: ["Access token", "Zugangstoken"],
  tokenHelp: [
    "Paste the bearer token (a JWT) your platform gave you. It is kept in this browser tab only and forgotten when the tab closes.",
    "Fügen Sie das Bearer-Token (ein JWT) Ihrer Plattform ein. Es bleibt nur in diesem Browser-Tab und wird beim Schliessen vergessen.",
  ],
  tokenDev: ["In development, mint one on the server's machine:", "In der Entwicklung erzeugen Sie eines auf dem Server-Rechner:"],
  signedInAs: ["Signed in as", "Angemeldet als"],
  until: ["until", "bis"],
  dashboard: ["Dashboard", "Übersicht"],
  transactions: ["Transactions", "Buchungen"],
  admin: ["Administration", "Verwaltung"],
  mandate: ["Mandate", "Mandant"],
  user: ["User", "Benutzer"],
  chooseMandate: ["Choose a mandate", "Mandant wählen"],
  noMandates: ["This token names no mandate.", "Dieses Token nennt keinen Mandanten."],
  serviceToken: [
    "This is a gateway (SERVICE) token: the billing UI has nothing to show it. Sign in with a user's or an admin's token.",
    "Dies ist ein Gateway-Token (SERVICE): die Abrechnungs-Oberfläche hat dafür nichts. Melden Sie sich mit dem Token eines Benutzers oder Admins an.",
  ],
  loading: ["Loading…", "Laden…"],
  retry: ["Try again", "Erneut versuchen"],
  sessionExpired: ["The token has expired: sign in again.", "Das Token ist abgelaufen: melden Sie sich erneut an."],
  live: ["Live", "Live"],
  connecting: ["Connecting…", "Verbinde…"],
  reconnecting: ["Reconnecting…", "Verbinde erneut…"],
  liveError: ["Live updates stopped", "Live-Aktualisierung gestoppt"],
  warningBanner: ["Low balance", "Tiefes Guthaben"],
  warningText: [
    "fell to {balance}, at or below the warning threshold of {threshold}.",
    "ist auf {balance} gefallen, auf oder unter der Warnschwelle von {threshold}.",
  ],
  dismiss: ["Dismiss", "Schliessen"],
  sharedAccount: ["the mandate's account", "das Konto des Mandanten"],
  accountOf: ["the account of {user}", "das Konto von {user}"],
  pickUser: [
    "Under this billing model every user has an account: choose one.",
    "In diesem Abrechnungsmodell hat jeder Benutzer ein Konto: wählen Sie eines.",
  ],
  show: ["Show", "Anzeigen"],
  usage: ["Usage", "Nutzung"],
  monthByDay: ["Month by day", "Monat nach Tagen"],
  yearByMonth: ["Year by month", "Jahr nach Monaten"],
  years: ["Years", "Jahre"],
  previous: ["Previous", "Zurück"],
  next: ["Next", "Weiter"],
  total: ["Total", "Total"],
  noUsage: ["No usage in this period.", "Keine Nutzung in diesem Zeitraum."],
  unlimited: ["unlimited", "unbegrenzt"],
  none: ["none", "keine"],
  yes: ["yes", "ja"],
  no: ["no", "nein"],
  filters: ["Filters", "Filter"],
  types: ["Types", "Typen"],
  providers: ["Providers", "Anbieter"],
  features: ["Features", "Features"],
  commaSeparated: ["comma-separated", "durch Kommas getrennt"],
  from: ["From", "Von"],
  to: ["To (inclusive)", "Bis (inklusive)"],
  apply: ["Apply", "Anwenden"],
  reset: ["Reset", "Zurücksetzen"],
  exportCsv: ["Export CSV", "CSV exportieren"],
  exporting: ["Exporting…", "Exportiere…"],
  exported: ["Saved {file}", "{file} gespeichert"],
  found: ["{count} transactions", "{count} Buchungen"],
  page: ["Page {page}", "Seite {page}"],
  noTransactions: ["No transactions match.", "Keine passenden Buchungen."],
  mandates: ["Mandates", "Mandanten"],
  mandateCount: ["{count} mandates", "{count} Mandanten"],
  search: ["Search", "Suchen"],
  newMandate: ["New mandate", "Neuer Mandant"],
  mandateId: ["Id", "Id"],
  mandateName: ["Name", "Name"],
  create: ["Create", "Anlegen"],
  save: ["Save", "Speichern"],
  saved: ["Saved.", "Gespeichert."],
  saving: ["Saving…", "Speichere…"],
  accounts: ["Accounts", "Konten"],
  moneySettingsNote: [
    "Billing model, starting credit, blocking and credit limits are for system admins.",
    "Abrechnungsmodell, Startguthaben, Sperre und Kreditlimiten ändern nur System-Admins.",
  ],
  credit: ["Credit", "Gutschrift"],
  adjustment: ["Adjustment", "Korrektur"],
  amount: ["Amount (CHF)", "Betrag (CHF)"],
  signedAmount: ["Amount (CHF, negative lowers the balance)", "Betrag (CHF, negativ senkt das Guthaben)"],
  description: ["Description", "Beschreibung"],
  userOptional: ["User (only under PREPAY_USER)", "Benutzer (nur bei PREPAY_USER)"],
  book: ["Book", "Buchen"],
  booked: ["Booked: balance now {balance}.", "Gebucht: Guthaben jetzt {balance}."],
  topUp: ["Top up", "Aufladen"],
  topUpHelp: [
    "Pay by card through Stripe; the account is credited when Stripe confirms the payment.",
    "Zahlung per Karte über Stripe; das Konto wird gutgeschrieben, sobald Stripe die Zahlung bestätigt.",
  ],
  toStripe: ["Continue to payment", "Weiter zur Zahlung"],
  topUpSuccess: ["Thank you: Stripe has taken your payment.", "Danke: Stripe hat Ihre Zahlung erhalten."],
  topUpSuccessText: [
    "Your account is credited as soon as Stripe confirms the payment to Saldo, normally within seconds. The dashboard shows it live.",
    "Ihr Konto wird gutgeschrieben, sobald Stripe die Zahlung an Saldo bestätigt, normalerweise innert Sekunden. Die Übersicht zeigt es live.",
  ],
  topUpCancel: ["The payment was cancelled.", "Die Zahlung wurde abgebrochen."],
  topUpCancelText: ["Nothing was charged and nothing was booked.", "Es wurde nichts belastet und nichts gebucht."],
  backToDashboard: ["Back to the dashboard", "Zurück zur Übersicht"],
  invalidAmount: ["Enter an amount such as 20 or 12.50.", "Geben Sie einen Betrag wie 20 oder 12.50 ein."],
  networkDown: [
    "Saldo cannot be reached (network down or server stopped).",
    "Saldo ist nicht erreichbar (Netzwerk unterbrochen oder Server gestoppt).",
  ],
  notFound: ["Nothing here.", "Hier ist nichts."],
  somethingBroke: ["The page failed:", "Die Seite ist fehlgeschlagen:"],
  language: ["Language", "Sprache"],
  enabled: ["enabled", "aktiviert"],
  disabled: ["disabled", "deaktiviert"],
  enable: ["Enable", "Aktivieren"],
  disable: ["Disable", "Deaktivieren"],
  emailsHelp: ["one per line", "eine pro Zeile"],
  allProviders: ["empty: all providers", "leer: alle Anbieter"],
  noAccounts: ["No account yet.", "Noch kein Konto."],
} satisfies Record<string, [en: string, de: string]>;

export type Word = keyof typeof WORDS;

export interface I18n {
  locale: Locale;
  numberLocale: NumberLocale;
  setLocale(locale: Locale): void;
  /** A word of the UI, with {placeholders} filled in. */
  t(word: Word, values?: Record<string, string | number>): string;
  /** The API's label of a model, or of one of its fields (falls back to the name). */
  label(model: string, field?: string): string;
}

const STORAGE_KEY = "saldo.locale";
const I18nContext = createContext<I18n | null>(null);

export function initialLocale(): Locale {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored === "DE" || stored === "EN") return stored;
  return navigator.language.toLowerCase().startsWith("de") ? "DE" : "EN";
}

export function I18nProvider(props: { children: ComponentChildren; signedIn: boolean }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  // Labels need a token (modelLabels is for authenticated callers).
  const [{ data }] = useQuery({ query: LabelsDocument, variables: { locale }, pause: !props.signedIn });
  const value = useMemo<I18n>(() => {
    const labels = new Map<string, string>();
    for (const model of data?.modelLabels ?? []) {
      labels.set(model.model, model.label);
      for (const f of model.fields) labels.set(`${model.model}.${f.field}`, f.label);
    }
    const i = locale === "DE" ? 1 : 0;
    return {
      locale,
      numberLocale: locale === "DE" ? "de-CH" : "en-CH",
      setLocale: (next) => {
        localStorage.setItem(STORAGE_KEY, next);
        document.documentElement.lang = next.toLowerCase();
        setLocaleState(next);
      },
      t: (word, values) => WORDS[word][i].replace(/\{(\w+)\}/g, (_, name: string) => String(values?.[name] ?? `{${name}}`)),
      label: (model, field) => (field ? (labels.get(`${model}.${field}`) ?? field) : (labels.get(model) ?? model)),
    };
  }, [locale, data]);
  return <I18nContext.Provider value={value}>{props.children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error("useI18n outside I18nProvider");
  return i18n;
}
