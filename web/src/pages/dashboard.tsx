// The dashboard of one mandate (or, under PREPAY_USER, one user's account):
// the balance with its figures, kept live by balanceChanged, a banner for
// every balanceWarning, and the usage charts.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useQuery } from "@urql/preact";
import { CostChart, type CostSeries } from "../components/cost-chart.js";
import { MandatePicker, useScope } from "../components/mandate-picker.js";
import { Money } from "../components/money.js";
import { ApiError, ProblemList } from "../components/problems.js";
import {
  BalanceDocument,
  LiveBalanceDocument,
  LiveWarningDocument,
  MandateAccountsDocument,
  MandateSettingsDocument,
  UsageDocument,
  type BalanceFieldsFragment,
  type LiveWarningSubscription,
  type PeriodType,
  type UsageQuery,
} from "../generated/graphql.js";
import { useI18n } from "../i18n.js";
import { LiveBadge, useSubscription } from "../live.js";
import { administers, useSession } from "../session.js";

export function Dashboard() {
  const { mandateId, userId } = useScope();
  return (
    <>
      <MandatePicker />
      {mandateId && <MandateDashboard key={`${mandateId}|${userId ?? ""}`} mandateId={mandateId} userId={userId} />}
    </>
  );
}

function MandateDashboard(props: { mandateId: string; userId: string | null }) {
  const session = useSession();
  const admin = administers(session, props.mandateId);
  const [settings] = useQuery({ query: MandateSettingsDocument, variables: { id: props.mandateId }, pause: !admin });
  // Under PREPAY_USER every user has an account: an admin picks whose.
  const perUser = settings.data?.mandate?.settings.billingModel === "PREPAY_USER";
  if (admin && !settings.data) return <ApiError error={settings.error} />;
  return (
    <>
      {admin && perUser && !props.userId ? (
        <UserAccounts mandateId={props.mandateId} />
      ) : (
        <BalancePanel mandateId={props.mandateId} userId={props.userId} />
      )}
      <UsagePanel mandateId={props.mandateId} userId={props.userId} />
    </>
  );
}

function UserAccounts(props: { mandateId: string }) {
  const { t, label } = useI18n();
  const { update } = useScope();
  const [{ data, error }] = useQuery({ query: MandateAccountsDocument, variables: { id: props.mandateId, first: 100 } });
  const users = data?.mandate?.accounts.edges.map((e) => e.node).filter((a) => a.userId) ?? [];
  return (
    <section class="card">
      <p>{t("pickUser")}</p>
      <ApiError error={error} />
      {data && users.length === 0 && <p>{t("noAccounts")}</p>}
      <table>
        <thead>
          <tr>
            <th>{label("BillingAccount", "userId")}</th>
            <th class="num">{label("BillingAccount", "balance")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {users.map((a) => (
            <tr key={a.id}>
              <td>{a.userId}</td>
              <td class="num">
                <Money value={a.balance} />
              </td>
              <td>
                <button onClick={() => update({ user: a.userId })}>{t("show")}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

type Warning = LiveWarningSubscription["balanceWarning"];

function BalancePanel(props: { mandateId: string; userId: string | null }) {
  const { t, label } = useI18n();
  const variables = { mandateId: props.mandateId, userId: props.userId };
  const [{ data, error }, refetch] = useQuery({ query: BalanceDocument, variables });
  const [balance, setBalance] = useState<BalanceFieldsFragment | null>(null);
  const shown = useRef<string | null>(null);
  useEffect(() => {
    if (data) setBalance(data.balance);
  }, [data]);
  shown.current = balance?.accountId ?? null;

  const live = useSubscription(LiveBalanceDocument, variables, {
    onData: ({ balanceChanged }) => {
      if (balanceChanged.accountId === shown.current) setBalance(balanceChanged);
    },
    // Whatever changed while the stream was down is read again.
    onConnected: () => refetch({ requestPolicy: "network-only" }),
    // Once shown, the balance stays (a failed re-read must not end the stream).
    pause: balance === null,
  });
  const [warnings, setWarnings] = useState<Warning[]>([]);
  const warningStream = useSubscription(
    LiveWarningDocument,
    { mandateId: props.mandateId },
    {
      // One banner per warning, however often the event is delivered.
      onData: ({ balanceWarning }) =>
        setWarnings((all) =>
          all.some((w) => w.account.id === balanceWarning.account.id && w.at === balanceWarning.at) ? all : [...all, balanceWarning],
        ),
      pause: balance === null,
    },
  );
  const state =
    live.state === "connected" && warningStream.state !== "connected" && warningStream.state !== "stopped"
      ? warningStream.state
      : live.state;

  if (!balance) return <section class="card">{error ? <ApiError error={error} /> : <p>{t("loading")}</p>}</section>;
  const whose = balance.userId ? t("accountOf", { user: balance.userId }) : t("sharedAccount");
  return (
    <>
      {warnings.map((w) => (
        <WarningBanner key={`${w.account.id}|${w.at}`} warning={w} onDismiss={() => setWarnings((all) => all.filter((x) => x !== w))} />
      ))}
      <section class="card balance" data-testid="balance-card" data-account={balance.accountId}>
        <header class="row">
          <h2>
            {balance.mandateName} <small>· {whose}</small>
          </h2>
          <span class="spacer" />
          <LiveBadge state={state} />
        </header>
        <ProblemList problems={[...live.problems, ...warningStream.problems]} />
        <ApiError error={error} />
        <dl class="figures">
          <div class="figure main">
            <dt>{label("BillingAccount", "balance")}</dt>
            <dd data-testid="balance">
              <Money value={balance.balance} />
            </dd>
          </div>
          <div class="figure">
            <dt>{label("BillingAccount", "held")}</dt>
            <dd data-testid="held">
              <Money value={balance.held} />
            </dd>
          </div>
          <div class="figure">
            <dt>{label("BillingAccount", "available")}</dt>
            <dd data-testid="available">{balance.available === null ? t("unlimited") : <Money value={balance.available} />}</dd>
          </div>
          <div class="figure">
            <dt>{label("BillingAccount", "creditLimit")}</dt>
            <dd data-testid="credit-limit">{balance.creditLimit === null ? t("none") : <Money value={balance.creditLimit} />}</dd>
          </div>
          <div class="figure">
            <dt>{label("BillingAccount", "warningThreshold")}</dt>
            <dd>
              <Money value={balance.warningThreshold} />
            </dd>
          </div>
          <div class="figure">
            <dt>{label("BillingAccount", "isWarning")}</dt>
            <dd data-testid="warning-state" class={balance.isWarning ? "bad" : "good"}>
              {balance.isWarning ? t("yes") : t("no")}
            </dd>
          </div>
          <div class="figure">
            <dt>{label("Settings", "billingModel")}</dt>
            <dd>{balance.billingModel}</dd>
          </div>
        </dl>
      </section>
    </>
  );
}

function WarningBanner(props: { warning: Warning; onDismiss(): void }) {
  const { t, numberLocale } = useI18n();
  const w = props.warning;
  const whose = w.account.userId ? t("accountOf", { user: w.account.userId }) : t("sharedAccount");
  const at = new Date(w.at).toLocaleString(numberLocale);
  return (
    <div class="banner warning" role="alert" data-testid="warning-banner">
      <strong>{t("warningBanner")}:</strong>{" "}
      <span>
        {whose}{" "}
        {t("warningText", { balance: "§b", threshold: "§t" })
          .split(/(§b|§t)/)
          .map((part) => (part === "§b" ? <Money value={w.balance.balance} /> : part === "§t" ? <Money value={w.threshold} /> : part))}{" "}
        <small>({at})</small>
      </span>
      <button class="link" onClick={props.onDismiss}>
        {t("dismiss")}
      </button>
    </div>
  );
}

type Stats = UsageQuery["usageStatistics"];

/** The chart's series: one per key (largest total first), one value per period. */
function seriesOf(stats: Stats, by: "byProvider" | "byFeature"): CostSeries[] {
  return stats.totals[by].map((share) => ({
    key: share.key,
    total: share.cost,
    values: stats.data.map((point) => point[by].find((s) => s.key === share.key)?.cost ?? "0"),
  }));
}

function UsagePanel(props: { mandateId: string; userId: string | null }) {
  const { t, label, numberLocale } = useI18n();
  const now = new Date();
  const [period, setPeriod] = useState<PeriodType>("DAY");
  const [year, setYear] = useState(now.getFullYear());
  const [month, setMonth] = useState(now.getMonth() + 1);
  const [{ data, error, fetching }] = useQuery({
    query: UsageDocument,
    variables: { mandateId: props.mandateId, userId: props.userId, period, year, month: period === "DAY" ? month : null },
  });
  const stats = data?.usageStatistics;

  const step = (direction: 1 | -1) => {
    if (period === "DAY") {
      const next = new Date(year, month - 1 + direction, 1);
      setYear(next.getFullYear());
      setMonth(next.getMonth() + 1);
    } else {
      setYear(year + direction * (period === "YEAR" ? 5 : 1));
    }
  };
  const title =
    period === "DAY"
      ? new Date(year, month - 1, 1).toLocaleDateString(numberLocale, { month: "long", year: "numeric" })
      : period === "MONTH"
        ? String(year)
        : `${year - 4}–${year}`;
  const labels = useMemo(
    () =>
      stats?.data.map((p) => {
        const [y, m, d] = p.periodStart.split("-").map(Number);
        if (stats.period === "DAY") return String(d);
        if (stats.period === "MONTH") return new Date(y, m - 1, 1).toLocaleDateString(numberLocale, { month: "short" });
        return String(y);
      }) ?? [],
    [stats, numberLocale],
  );
  const byProvider = useMemo(() => (stats ? seriesOf(stats, "byProvider") : []), [stats]);
  const byFeature = useMemo(() => (stats ? seriesOf(stats, "byFeature") : []), [stats]);

  return (
    <section class="card usage" data-testid="usage">
      <header class="row">
        <h2>
          {t("usage")} · {title}
        </h2>
        <span class="spacer" />
        <span class="tabs" role="group">
          {(
            [
              ["DAY", t("monthByDay")],
              ["MONTH", t("yearByMonth")],
              ["YEAR", t("years")],
            ] as const
          ).map(([p, text]) => (
            <button key={p} class={period === p ? "active" : ""} aria-pressed={period === p} onClick={() => setPeriod(p)}>
              {text}
            </button>
          ))}
        </span>
        <button onClick={() => step(-1)} aria-label={t("previous")}>
          ‹
        </button>
        <button onClick={() => step(1)} aria-label={t("next")}>
          ›
        </button>
      </header>
      <ApiError error={error} />
      {!stats && fetching && <p>{t("loading")}</p>}
      {stats && (
        <>
          <dl class="figures">
            <div class="figure main">
              <dt>{label("UsageStatistics", "totalCost")}</dt>
              <dd data-testid="usage-total">
                <Money value={stats.totals.totalCost} />
              </dd>
            </div>
            <div class="figure">
              <dt>{label("UsageStatistics", "transactionCount")}</dt>
              <dd data-testid="usage-count">{stats.totals.transactionCount.toLocaleString(numberLocale)}</dd>
            </div>
          </dl>
          {stats.totals.transactionCount === 0 && <p class="help">{t("noUsage")}</p>}
          <div class="charts">
            <CostChart title={label("UsageStatistics", "costByProvider")} testId="chart-provider" labels={labels} series={byProvider} />
            <CostChart title={label("UsageStatistics", "costByFeature")} testId="chart-feature" labels={labels} series={byFeature} />
          </div>
        </>
      )}
    </section>
  );
}
