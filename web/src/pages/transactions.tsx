// The history: filters kept in the URL, cursor paging (the API's keyset
// cursors), exact amounts, and the CSV export of the filtered history through
// GET /export/transactions.csv (same token, same rules, streamed).
import { useEffect, useState } from "preact/hooks";
import { useQuery } from "@urql/preact";
import { MandatePicker, useScope } from "../components/mandate-picker.js";
import { Money } from "../components/money.js";
import { resultFor } from "../components/paging.js";
import { ApiError, ProblemList, type ApiProblem } from "../components/problems.js";
import { TransactionsDocument, type TransactionFilter, type TransactionType } from "../generated/graphql.js";
import { useI18n } from "../i18n.js";
import { administers, useSession } from "../session.js";

const TYPES: TransactionType[] = ["DEBIT", "CREDIT", "ADJUSTMENT"];
export const PAGE_SIZE = 20;

const list = (value: string | null) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** A local calendar day as the instant it starts (the `to` day is included: up to the next day's start). */
function dayStart(day: string | null, plusDays = 0): string | null {
  if (!day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

function filterOf(params: URLSearchParams): TransactionFilter {
  return {
    transactionTypes: list(params.get("types")).filter((t): t is TransactionType => (TYPES as string[]).includes(t)),
    providers: list(params.get("providers")),
    featureCodes: list(params.get("features")),
    userId: params.get("user") || null,
    from: dayStart(params.get("from")),
    to: dayStart(params.get("to"), 1),
  };
}

export function Transactions() {
  const { mandateId, params } = useScope();
  return (
    <>
      <MandatePicker />
      {mandateId && <History key={`${mandateId}?${params}`} mandateId={mandateId} params={params} />}
    </>
  );
}

function History(props: { mandateId: string; params: URLSearchParams }) {
  const { t, label, numberLocale } = useI18n();
  const session = useSession();
  const filter = filterOf(props.params);
  // The cursors of the pages before this one (the first page has none).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const [result] = useQuery({
    query: TransactionsDocument,
    variables: { mandateId: props.mandateId, first: PAGE_SIZE, after, filter },
  });
  const { error, fetching } = result;
  const page = resultFor(result, { after })?.transactions;

  return (
    <>
      <Filters params={props.params} canChooseUser={administers(session, props.mandateId)} />
      <section class="card" data-testid="history">
        <header class="row">
          <h2>{t("transactions")}</h2>
          <span class="spacer" />
          {page && (
            <span data-testid="history-count">
              {t("found", { count: page.totalCount.toLocaleString(numberLocale) })} · {t("page", { page: cursors.length })}
            </span>
          )}
          <ExportButton mandateId={props.mandateId} filter={filter} />
        </header>
        <ApiError error={error} />
        {!page && fetching && <p>{t("loading")}</p>}
        {page && page.edges.length === 0 && <p>{t("noTransactions")}</p>}
        {page && page.edges.length > 0 && (
          <div class="scroll">
            <table class="history">
              <thead>
                <tr>
                  <th>{label("Transaction", "createdAt")}</th>
                  <th>{label("Transaction", "transactionType")}</th>
                  <th>{label("Transaction", "description")}</th>
                  <th>{label("Transaction", "aicoreProvider")}</th>
                  <th>{label("Transaction", "aicoreModel")}</th>
                  <th>{label("Transaction", "featureCode")}</th>
                  <th>{label("Transaction", "createdByUserId")}</th>
                  <th class="num">{label("Transaction", "delta")}</th>
                  <th class="num">{label("Transaction", "balanceAfter")}</th>
                </tr>
              </thead>
              <tbody>
                {page.edges.map(({ node: tx }) => (
                  <tr key={tx.id} data-id={tx.id} data-type={tx.transactionType} data-provider={tx.aicoreProvider ?? ""}>
                    <td>{new Date(tx.createdAt).toLocaleString(numberLocale)}</td>
                    <td>
                      <span class={`type type-${tx.transactionType.toLowerCase()}`}>{tx.transactionType}</span>
                    </td>
                    <td>{tx.description}</td>
                    <td>{tx.aicoreProvider}</td>
                    <td>{tx.aicoreModel}</td>
                    <td>{tx.featureCode}</td>
                    <td>{tx.createdByUserId}</td>
                    <td class="num" data-testid="delta">
                      <Money value={tx.delta} class={tx.delta.startsWith("-") ? "neg" : "pos"} />
                    </td>
                    <td class="num">
                      <Money value={tx.balanceAfter} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <footer class="row">
          <button disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            ‹ {t("previous")}
          </button>
          <button disabled={!page?.pageInfo.hasNextPage} onClick={() => page && setCursors([...cursors, page.pageInfo.endCursor ?? null])}>
            {t("next")} ›
          </button>
        </footer>
      </section>
    </>
  );
}

function Filters(props: { params: URLSearchParams; canChooseUser: boolean }) {
  const { t, label } = useI18n();
  const { update } = useScope();
  const [types, setTypes] = useState(list(props.params.get("types")));
  const [providers, setProviders] = useState(props.params.get("providers") ?? "");
  const [features, setFeatures] = useState(props.params.get("features") ?? "");
  const [user, setUser] = useState(props.params.get("user") ?? "");
  const [from, setFrom] = useState(props.params.get("from") ?? "");
  const [to, setTo] = useState(props.params.get("to") ?? "");
  const value = (e: Event) => (e.target as HTMLInputElement).value;

  const apply = (e: Event) => {
    e.preventDefault();
    update({
      types: types.join(","),
      providers: list(providers).join(","),
      features: list(features).join(","),
      ...(props.canChooseUser ? { user: user.trim() } : {}),
      from,
      to,
    });
  };
  const reset = () => update({ types: null, providers: null, features: null, user: null, from: null, to: null });

  return (
    <form class="card filters" onSubmit={apply} data-testid="filters">
      <fieldset>
        <legend>{t("types")}</legend>
        {TYPES.map((type) => (
          <label key={type} class="check">
            <input
              type="checkbox"
              name="type"
              value={type}
              checked={types.includes(type)}
              onChange={(e) => setTypes((e.target as HTMLInputElement).checked ? [...types, type] : types.filter((x) => x !== type))}
            />{" "}
            {type}
          </label>
        ))}
      </fieldset>
      <label>
        {t("providers")} <small>({t("commaSeparated")})</small>
        <input name="providers" value={providers} onInput={(e) => setProviders(value(e))} placeholder="openai, anthropic" />
      </label>
      <label>
        {t("features")} <small>({t("commaSeparated")})</small>
        <input name="features" value={features} onInput={(e) => setFeatures(value(e))} placeholder="chat" />
      </label>
      {props.canChooseUser && (
        <label>
          {label("Transaction", "createdByUserId")}
          <input name="user" value={user} onInput={(e) => setUser(value(e))} />
        </label>
      )}
      <label>
        {t("from")}
        <input type="date" name="from" value={from} onInput={(e) => setFrom(value(e))} />
      </label>
      <label>
        {t("to")}
        <input type="date" name="to" value={to} onInput={(e) => setTo(value(e))} />
      </label>
      <span class="actions">
        <button type="submit">{t("apply")}</button>
        <button type="button" onClick={reset}>
          {t("reset")}
        </button>
      </span>
    </form>
  );
}

/** The export's URL: the mandate and the filter, lists as repeated parameters. */
export function exportUrl(mandateId: string, filter: TransactionFilter): string {
  const q = new URLSearchParams({ mandateId });
  for (const type of filter.transactionTypes ?? []) q.append("transactionTypes", type);
  for (const p of filter.providers ?? []) q.append("providers", p);
  for (const f of filter.featureCodes ?? []) q.append("featureCodes", f);
  if (filter.userId) q.set("userId", filter.userId);
  if (filter.from) q.set("from", filter.from);
  if (filter.to) q.set("to", filter.to);
  return `/export/transactions.csv?${q}`;
}

function ExportButton(props: { mandateId: string; filter: TransactionFilter }) {
  const { t } = useI18n();
  const session = useSession();
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const [problems, setProblems] = useState<ApiProblem[]>([]);
  useEffect(() => setSaved(null), [props.mandateId, JSON.stringify(props.filter)]);

  const run = async () => {
    setBusy(true);
    setProblems([]);
    setSaved(null);
    try {
      // fetch, not a link: the export needs the Authorization header.
      const response = await fetch(exportUrl(props.mandateId, props.filter), { headers: { authorization: `Bearer ${session.token}` } });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        setProblems(
          body?.errors?.map((e: { message: string; extensions?: { code?: string } }) => ({
            code: e.extensions?.code,
            message: e.message,
          })) ?? [{ code: String(response.status), message: response.statusText }],
        );
        return;
      }
      const file = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? "transactions.csv";
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = file;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setSaved(file);
    } catch (error) {
      setProblems([{ code: "NETWORK", message: `${t("networkDown")} (${(error as Error).message})` }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <span class="export">
      <button onClick={run} disabled={busy} data-testid="export">
        {busy ? t("exporting") : t("exportCsv")}
      </button>
      {saved && <small role="status"> {t("exported", { file: saved })}</small>}
      <ProblemList problems={problems} />
    </span>
  );
}
