// The shell: sign-in gate, header (navigation by role, language switch,
// who is signed in), the pages, and an error boundary so a failure shows a
// message instead of a blank page.
import { Component, type ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { Provider as UrqlProvider, useQuery } from "@urql/preact";
import { Link, Redirect, Route, Router, Switch, useSearch } from "wouter-preact";
import { createApiClient, createLiveClient } from "./client.js";
import { ApiError } from "./components/problems.js";
import { ViewerDocument } from "./generated/graphql.js";
import { I18nProvider, useI18n } from "./i18n.js";
import { LiveClientContext } from "./live.js";
import { Admin } from "./pages/admin.js";
import { Dashboard } from "./pages/dashboard.js";
import { SignIn } from "./pages/signin.js";
import { TopUpResult } from "./pages/topup.js";
import { Transactions } from "./pages/transactions.js";
import { forgetToken, isAdmin, SessionContext, storedToken, storeToken, tokenExpiry, type Session } from "./session.js";

export const BASE = "/app";

export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  const [notice, setNotice] = useState<string | null>(null);
  const api = useMemo(() => createApiClient(token), [token]);
  const live = useMemo(() => (token ? createLiveClient(token) : null), [token]);
  useEffect(() => () => live?.dispose(), [live]);

  const signIn = (next: string) => {
    storeToken(next);
    setNotice(null);
    setToken(next);
  };
  const signOut = (message?: string) => {
    forgetToken();
    setNotice(message ?? null);
    setToken(null);
  };

  return (
    <UrqlProvider value={api}>
      <LiveClientContext.Provider value={live}>
        <I18nProvider signedIn={token !== null}>
          <Router base={BASE}>
            <Guard>
              <Switch>
                {/* Stripe sends the payer back here: say what happened, signed in or not. */}
                <Route path="/topup/success">
                  <TopUpResult outcome="success" />
                </Route>
                <Route path="/topup/cancel">
                  <TopUpResult outcome="cancel" />
                </Route>
                <Route>{token ? <SignedIn token={token} signOut={signOut} /> : <SignIn onSignIn={signIn} notice={notice} />}</Route>
              </Switch>
            </Guard>
          </Router>
        </I18nProvider>
      </LiveClientContext.Provider>
    </UrqlProvider>
  );
}

function SignedIn(props: { token: string; signOut(message?: string): void }) {
  const { t } = useI18n();
  const [{ data, error, fetching }, reexecute] = useQuery({ query: ViewerDocument, requestPolicy: "network-only" });
  const expiresAt = useMemo(() => tokenExpiry(props.token), [props.token]);

  // A token the API no longer accepts (expired, wrong secret): back to sign-in, with the API's reason.
  const refusal = error?.graphQLErrors.find((e) => e.extensions?.code === "UNAUTHENTICATED");
  useEffect(() => {
    if (refusal) props.signOut(refusal.message);
  }, [refusal]);
  useEffect(() => {
    if (!expiresAt) return;
    const ms = expiresAt.getTime() - Date.now();
    // setTimeout takes at most ~24.8 days; a longer token is re-checked by the API anyway.
    if (ms > 2 ** 31 - 1) return;
    const timer = setTimeout(() => props.signOut(t("sessionExpired")), Math.max(ms, 0));
    return () => clearTimeout(timer);
  }, [expiresAt]);

  if (!data) {
    return (
      <Page>
        {fetching ? <p>{t("loading")}</p> : null}
        <ApiError error={error} />
        {error && (
          <p>
            <button onClick={() => reexecute({ requestPolicy: "network-only" })}>{t("retry")}</button>{" "}
            <button onClick={() => props.signOut()}>{t("signOut")}</button>
          </p>
        )}
      </Page>
    );
  }
  const session: Session = { token: props.token, viewer: data.viewer, expiresAt, signOut: props.signOut };
  const onlyGateway = data.viewer.roles.every((r) => r === "SERVICE");
  return (
    <SessionContext.Provider value={session}>
      <Page session={session}>
        {onlyGateway ? (
          <p class="notice">{t("serviceToken")}</p>
        ) : (
          <Switch>
            <Route path="/">
              <Redirect to="/dashboard" replace />
            </Route>
            <Route path="/dashboard" component={Dashboard} />
            <Route path="/transactions" component={Transactions} />
            <Route path="/admin">{isAdmin(session) ? <Admin /> : <Redirect to="/dashboard" replace />}</Route>
            <Route>
              <p>{t("notFound")}</p>
            </Route>
          </Switch>
        )}
      </Page>
    </SessionContext.Provider>
  );
}

/** Header, navigation and the page's content. */
function Page(props: { session?: Session; children: ComponentChildren }) {
  const { t, locale, setLocale } = useI18n();
  const search = useSearch();
  // Keep the chosen mandate (and user) when moving between pages.
  const carried = new URLSearchParams();
  for (const key of ["mandate", "user"]) {
    const value = new URLSearchParams(search).get(key);
    if (value) carried.set(key, value);
  }
  const suffix = carried.size ? `?${carried}` : "";
  const session = props.session;
  return (
    <div class="shell">
      <header class="top">
        <strong class="brand">{t("appName")}</strong>
        {session && (
          <nav>
            <Link href={`/dashboard${suffix}`} className={(active: boolean) => (active ? "active" : "")}>
              {t("dashboard")}
            </Link>
            <Link href={`/transactions${suffix}`} className={(active: boolean) => (active ? "active" : "")}>
              {t("transactions")}
            </Link>
            {isAdmin(session) && (
              <Link
                href={`/admin${carried.get("mandate") ? `?mandate=${encodeURIComponent(carried.get("mandate")!)}` : ""}`}
                className={(active: boolean) => (active ? "active" : "")}
              >
                {t("admin")}
              </Link>
            )}
          </nav>
        )}
        <span class="spacer" />
        <span class="lang" role="group" aria-label={t("language")}>
          {(["EN", "DE"] as const).map((l) => (
            <button key={l} class={l === locale ? "active" : ""} aria-pressed={l === locale} onClick={() => setLocale(l)}>
              {l}
            </button>
          ))}
        </span>
        {session && (
          <span class="who" data-testid="who">
            {t("signedInAs")} <b>{session.viewer.userId ?? "—"}</b> ({session.viewer.roles.join(", ")})
            {session.expiresAt &&
              ` ${t("until")} ${session.expiresAt.toLocaleTimeString(locale === "DE" ? "de-CH" : "en-CH", { hour: "2-digit", minute: "2-digit" })}`}{" "}
            <button onClick={() => session.signOut()}>{t("signOut")}</button>
          </span>
        )}
      </header>
      <main>{props.children}</main>
    </div>
  );
}

/** Whatever breaks while rendering is shown, with the way back. */
class Guard extends Component<{ children: ComponentChildren }, { error: Error | null }> {
  override state = { error: null as Error | null };
  override componentDidCatch(error: Error) {
    this.setState({ error });
  }
  override render() {
    if (this.state.error) {
      return (
        <div class="shell">
          <div class="problems" role="alert">
            <p>The page failed: {this.state.error.message}</p>
            <p>
              <a href={`${BASE}/`}>Reload</a>
            </p>
          </div>
        </div>
      );
    }
    return this.props.children;
  }
}
