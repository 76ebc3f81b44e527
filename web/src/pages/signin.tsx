// Sign-in by pasting a bearer token. The token is checked by asking the API
// who it names (viewer) before it is kept; a refusal is shown as the API
// words it.
import { useState } from "preact/hooks";
import { createApiClient } from "../client.js";
import { ProblemList, problemsOf, type ApiProblem } from "../components/problems.js";
import { ViewerDocument } from "../generated/graphql.js";
import { useI18n } from "../i18n.js";

export function SignIn(props: { onSignIn(token: string): void; notice: string | null }) {
  const { t } = useI18n();
  const [token, setToken] = useState("");
  const [problems, setProblems] = useState<ApiProblem[]>([]);
  const [checking, setChecking] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = token.trim().replace(/^Bearer\s+/i, "");
    if (!candidate) return;
    setChecking(true);
    const result = await createApiClient(candidate).query(ViewerDocument, {}, { requestPolicy: "network-only" }).toPromise();
    setChecking(false);
    if (result.error || !result.data) {
      setProblems(problemsOf(result.error, t("networkDown")));
      return;
    }
    props.onSignIn(candidate);
  };

  return (
    <section class="signin card">
      <h1>{t("signIn")}</h1>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      <form onSubmit={submit}>
        <label for="token">{t("tokenLabel")}</label>
        <textarea
          id="token"
          name="token"
          rows={5}
          spellcheck={false}
          autocomplete="off"
          placeholder="eyJhbGciOiJIUzI1NiJ9…"
          value={token}
          onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
        />
        <p class="help">{t("tokenHelp")}</p>
        <button type="submit" disabled={checking || !token.trim()}>
          {checking ? t("loading") : t("signIn")}
        </button>
      </form>
      <ProblemList problems={problems} />
      <div class="help">
        <p>{t("tokenDev")}</p>
        <pre>
          {`npm run token -- --role USER --mandate acme --user bob
npm run token -- --role MANDATE_ADMIN --mandate acme --user alice
npm run token -- --role SYSADMIN --user ops`}
        </pre>
      </div>
    </section>
  );
}
