// Administration: the mandates (search, pages), and for the chosen one its
// settings, accounts, credits and adjustments (system admins) and top-ups.
// Every form shows the API's userErrors; money moves carry an idempotency
// key made once per submission, so a double click or a retry books once.
import { useState } from "preact/hooks";
import { useMutation, useQuery } from "@urql/preact";
import { useScope } from "../components/mandate-picker.js";
import { Money } from "../components/money.js";
import { resultFor } from "../components/paging.js";
import { ApiError, UserErrors } from "../components/problems.js";
import {
  AdjustAccountDocument,
  CreditAccountDocument,
  MandateAccountsDocument,
  MandatesDocument,
  MandateSettingsDocument,
  TopUpDocument,
  UpdateAccountDocument,
  UpdateSettingsDocument,
  UpsertMandateDocument,
  type AccountFieldsFragment,
  type BillingModel,
  type SettingsFieldsFragment,
  type UpdateSettingsInput,
} from "../generated/graphql.js";
import { useI18n } from "../i18n.js";
import { parseAmountInput } from "../money.js";
import { administers, isSysadmin, useSession } from "../session.js";

const MANDATES_PER_PAGE = 10;
const ACCOUNTS_PER_PAGE = 20;
/** Mutations returning a BillingAccount refresh the account list (urql's document cache). */
const ACCOUNTS_CONTEXT = { additionalTypenames: ["BillingAccount"] };
const MODELS: BillingModel[] = ["PREPAY_MANDATE", "PREPAY_USER", "CREDIT_POSTPAY", "UNLIMITED"];

/** A fresh idempotency key (getRandomValues works on plain http too, unlike randomUUID). */
export function newIdempotencyKey(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const inputValue = (e: Event) => (e.target as HTMLInputElement).value;

export function Admin() {
  const { mandateId } = useScope();
  const session = useSession();
  return (
    <>
      <MandateList />
      {isSysadmin(session) && <NewMandate />}
      {mandateId && administers(session, mandateId) && <MandateAdmin key={mandateId} mandateId={mandateId} />}
    </>
  );
}

function MandateList() {
  const { t } = useI18n();
  const { mandateId, update } = useScope();
  const [typed, setTyped] = useState("");
  const [search, setSearch] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const [result] = useQuery({
    query: MandatesDocument,
    variables: { first: MANDATES_PER_PAGE, after, search: search || null },
  });
  const { error } = result;
  const page = resultFor(result, { after, search: search || null })?.mandates;
  return (
    <section class="card" data-testid="mandates">
      <header class="row">
        <h2>{t("mandates")}</h2>
        <span class="spacer" />
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setSearch(typed.trim());
            setCursors([null]);
          }}
        >
          <input
            type="search"
            name="search"
            aria-label={t("search")}
            placeholder={t("search")}
            value={typed}
            onInput={(e) => setTyped(inputValue(e))}
          />
          <button type="submit">{t("search")}</button>
        </form>
      </header>
      <ApiError error={error} />
      {page && (
        <>
          <table>
            <tbody>
              {page.edges.map(({ node }) => (
                <tr key={node.id} class={node.id === mandateId ? "selected" : ""}>
                  <td>
                    <button class="link" onClick={() => update({ mandate: node.id })}>
                      {node.name}
                    </button>
                  </td>
                  <td>
                    <code>{node.id}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <footer class="row">
            <span data-testid="mandate-count">
              {t("page", { page: cursors.length })} · {t("mandateCount", { count: page.totalCount })}
            </span>
            <span class="spacer" />
            <button disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              ‹ {t("previous")}
            </button>
            <button disabled={!page.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, page.pageInfo.endCursor ?? null])}>
              {t("next")} ›
            </button>
          </footer>
        </>
      )}
    </section>
  );
}

function NewMandate() {
  const { t } = useI18n();
  const { update } = useScope();
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [result, upsert] = useMutation(UpsertMandateDocument);
  const submit = async (e: Event) => {
    e.preventDefault();
    const { data } = await upsert({ input: { id: id.trim(), name: name.trim() } });
    if (data?.upsertMandate.mandate) update({ mandate: data.upsertMandate.mandate.id });
  };
  return (
    <details class="card">
      <summary>{t("newMandate")}</summary>
      <form class="grid" onSubmit={submit}>
        <label>
          {t("mandateId")} <input name="id" required value={id} onInput={(e) => setId(inputValue(e))} />
        </label>
        <label>
          {t("mandateName")} <input name="name" required value={name} onInput={(e) => setName(inputValue(e))} />
        </label>
        <button type="submit" disabled={result.fetching}>
          {t("create")}
        </button>
      </form>
      <ApiError error={result.error} />
      <UserErrors errors={result.data?.upsertMandate.userErrors} />
    </details>
  );
}

function MandateAdmin(props: { mandateId: string }) {
  const session = useSession();
  const [{ data, error }] = useQuery({ query: MandateSettingsDocument, variables: { id: props.mandateId } });
  const mandate = data?.mandate;
  if (!mandate) return <ApiError error={error} />;
  return (
    <>
      <h2 class="section-title">
        {mandate.name} <code>{mandate.id}</code>
      </h2>
      <SettingsForm settings={mandate.settings} />
      <Accounts mandateId={mandate.id} />
      {isSysadmin(session) && <MoneyMove kind="credit" mandateId={mandate.id} />}
      {isSysadmin(session) && <MoneyMove kind="adjustment" mandateId={mandate.id} />}
      <TopUp mandateId={mandate.id} />
    </>
  );
}

type AddressFields = "company" | "street" | "zip" | "city" | "country" | "vatNumber";
const ADDRESS_FIELDS: AddressFields[] = ["company", "street", "zip", "city", "country", "vatNumber"];

function formOf(s: SettingsFieldsFragment) {
  return {
    billingModel: s.billingModel,
    defaultUserCredit: s.defaultUserCredit,
    blockOnZeroBalance: s.blockOnZeroBalance,
    warningThresholdPercent: s.warningThresholdPercent,
    notifyOnWarning: s.notifyOnWarning,
    notifyEmails: s.notifyEmails.join("\n"),
    allowedProviders: (s.allowedProviders ?? []).join(", "),
    address: Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, s.billingAddress?.[f] ?? ""])) as Record<AddressFields, string>,
  };
}

function SettingsForm(props: { settings: SettingsFieldsFragment }) {
  const { t, label } = useI18n();
  const session = useSession();
  const sysadmin = isSysadmin(session);
  const s = props.settings;
  const [form, setForm] = useState(() => formOf(s));
  const [result, save] = useMutation(UpdateSettingsDocument);
  const [done, setDone] = useState(false);
  const set = <K extends keyof typeof form>(key: K, value: (typeof form)[K]) => {
    setDone(false);
    setForm({ ...form, [key]: value });
  };

  /** Only what changed: a mandate admin never sends a field only a system admin may change. */
  const changes = (): UpdateSettingsInput => {
    const input: UpdateSettingsInput = { mandateId: s.mandateId };
    if (sysadmin) {
      if (form.billingModel !== s.billingModel) input.billingModel = form.billingModel;
      if (form.defaultUserCredit !== s.defaultUserCredit) input.defaultUserCredit = form.defaultUserCredit.trim();
      if (form.blockOnZeroBalance !== s.blockOnZeroBalance) input.blockOnZeroBalance = form.blockOnZeroBalance;
    }
    if (form.warningThresholdPercent !== s.warningThresholdPercent) input.warningThresholdPercent = form.warningThresholdPercent.trim();
    if (form.notifyOnWarning !== s.notifyOnWarning) input.notifyOnWarning = form.notifyOnWarning;
    const emails = form.notifyEmails
      .split(/[\n,]/)
      .map((e) => e.trim())
      .filter(Boolean);
    if (emails.join("\n") !== s.notifyEmails.join("\n")) input.notifyEmails = emails;
    const providers = form.allowedProviders
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    if (providers.join(",") !== (s.allowedProviders ?? []).join(",")) input.allowedProviders = providers.length ? providers : null;
    const address = form.address;
    const addressChanged = ADDRESS_FIELDS.some((f) => address[f] !== (s.billingAddress?.[f] ?? ""));
    if (addressChanged && ADDRESS_FIELDS.some((f) => address[f].trim())) {
      input.billingAddress = {
        company: address.company.trim(),
        street: address.street.trim(),
        zip: address.zip.trim(),
        city: address.city.trim(),
        country: address.country.trim().toUpperCase(),
        vatNumber: address.vatNumber.trim() || null,
      };
    }
    return input;
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const { data } = await save({ input: changes() });
    const saved = data?.updateSettings.settings;
    if (saved && data.updateSettings.userErrors.length === 0) {
      // What the API stored, as it words it (e.g. "25" comes back "25.000000").
      setForm(formOf(saved));
      setDone(true);
    }
  };

  return (
    <form class="card grid settings" onSubmit={submit} data-testid="settings">
      <h3>{label("Settings")}</h3>
      <label>
        {label("Settings", "billingModel")}
        <select
          name="billingModel"
          disabled={!sysadmin}
          value={form.billingModel}
          onChange={(e) => set("billingModel", inputValue(e) as BillingModel)}
        >
          {MODELS.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label>
        {label("Settings", "defaultUserCredit")}
        <input
          name="defaultUserCredit"
          disabled={!sysadmin}
          value={form.defaultUserCredit}
          onInput={(e) => set("defaultUserCredit", inputValue(e))}
        />
      </label>
      <label class="check">
        <input
          type="checkbox"
          name="blockOnZeroBalance"
          disabled={!sysadmin}
          checked={form.blockOnZeroBalance}
          onChange={(e) => set("blockOnZeroBalance", (e.target as HTMLInputElement).checked)}
        />{" "}
        {label("Settings", "blockOnZeroBalance")}
      </label>
      {!sysadmin && <p class="help wide">{t("moneySettingsNote")}</p>}
      <label>
        {label("Settings", "warningThresholdPercent")}
        <input
          name="warningThresholdPercent"
          value={form.warningThresholdPercent}
          onInput={(e) => set("warningThresholdPercent", inputValue(e))}
        />
      </label>
      <label class="check">
        <input
          type="checkbox"
          name="notifyOnWarning"
          checked={form.notifyOnWarning}
          onChange={(e) => set("notifyOnWarning", (e.target as HTMLInputElement).checked)}
        />{" "}
        {label("Settings", "notifyOnWarning")}
      </label>
      <label>
        {label("Settings", "notifyEmails")} <small>({t("emailsHelp")})</small>
        <textarea name="notifyEmails" rows={3} value={form.notifyEmails} onInput={(e) => set("notifyEmails", inputValue(e))} />
      </label>
      <label>
        {label("Settings", "allowedProviders")} <small>({t("allProviders")})</small>
        <input name="allowedProviders" value={form.allowedProviders} onInput={(e) => set("allowedProviders", inputValue(e))} />
      </label>
      <fieldset class="wide">
        <legend>{label("Settings", "billingAddress")}</legend>
        {ADDRESS_FIELDS.map((f) => (
          <label key={f}>
            {label("BillingAddress", f)}
            <input name={`address.${f}`} value={form.address[f]} onInput={(e) => set("address", { ...form.address, [f]: inputValue(e) })} />
          </label>
        ))}
      </fieldset>
      <span class="actions wide">
        <button type="submit" disabled={result.fetching}>
          {result.fetching ? t("saving") : t("save")}
        </button>
        {done && <span role="status">{t("saved")}</span>}
      </span>
      <div class="wide">
        <ApiError error={result.error} />
        <UserErrors errors={result.data?.updateSettings.userErrors} />
      </div>
    </form>
  );
}

function Accounts(props: { mandateId: string }) {
  const { t, label } = useI18n();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const [result] = useQuery({
    query: MandateAccountsDocument,
    variables: { id: props.mandateId, first: ACCOUNTS_PER_PAGE, after },
    // A credit that opens the first account must refresh an empty list too.
    context: ACCOUNTS_CONTEXT,
  });
  const { error } = result;
  const page = resultFor(result, { after })?.mandate?.accounts;
  return (
    <section class="card" data-testid="accounts">
      <h3>{t("accounts")}</h3>
      <ApiError error={error} />
      {page && page.edges.length === 0 && <p>{t("noAccounts")}</p>}
      {page && page.edges.length > 0 && (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>{label("BillingAccount", "accountType")}</th>
                <th>{label("BillingAccount", "userId")}</th>
                <th class="num">{label("BillingAccount", "balance")}</th>
                <th class="num">{label("BillingAccount", "held")}</th>
                <th class="num">{label("BillingAccount", "available")}</th>
                <th>{label("BillingAccount", "enabled")}</th>
                <th>{label("BillingAccount", "warningThreshold")}</th>
                <th>{label("BillingAccount", "creditLimit")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {page.edges.map(({ node }) => (
                <AccountRow key={`${node.id}|${node.enabled}|${node.warningThreshold}|${node.creditLimit}`} account={node} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && (
        <footer class="row">
          <button disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            ‹ {t("previous")}
          </button>
          <button disabled={!page.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, page.pageInfo.endCursor ?? null])}>
            {t("next")} ›
          </button>
        </footer>
      )}
    </section>
  );
}

function AccountRow(props: { account: AccountFieldsFragment }) {
  const { t } = useI18n();
  const session = useSession();
  const a = props.account;
  const [threshold, setThreshold] = useState(a.warningThreshold);
  const [creditLimit, setCreditLimit] = useState(a.creditLimit ?? "");
  const [result, update] = useMutation(UpdateAccountDocument);
  const save = (changes: { enabled?: boolean; warningThreshold?: string; creditLimit?: string }) =>
    update({ input: { accountId: a.id, ...changes } });
  const changed = {
    ...(threshold.trim() !== a.warningThreshold ? { warningThreshold: threshold.trim() } : {}),
    ...(isSysadmin(session) && creditLimit.trim() !== (a.creditLimit ?? "") && creditLimit.trim()
      ? { creditLimit: creditLimit.trim() }
      : {}),
  };
  return (
    <tr data-account={a.id} data-user={a.userId ?? ""}>
      <td>{a.accountType}</td>
      <td>{a.userId ?? "—"}</td>
      <td class="num">
        <Money value={a.balance} />
      </td>
      <td class="num">
        <Money value={a.held} />
      </td>
      <td class="num">{a.available === null ? t("unlimited") : <Money value={a.available} />}</td>
      <td>
        <button onClick={() => save({ enabled: !a.enabled })} disabled={result.fetching} data-testid="toggle-enabled">
          {a.enabled ? t("disable") : t("enable")}
        </button>{" "}
        <small class={a.enabled ? "good" : "bad"}>{a.enabled ? t("enabled") : t("disabled")}</small>
      </td>
      <td>
        <input class="amount" name="warningThreshold" value={threshold} onInput={(e) => setThreshold(inputValue(e))} />
      </td>
      <td>
        <input
          class="amount"
          name="creditLimit"
          disabled={!isSysadmin(session)}
          value={creditLimit}
          onInput={(e) => setCreditLimit(inputValue(e))}
        />
      </td>
      <td>
        <button disabled={result.fetching || Object.keys(changed).length === 0} onClick={() => save(changed)}>
          {t("save")}
        </button>
        <ApiError error={result.error} />
        <UserErrors errors={result.data?.updateBillingAccount.userErrors} />
      </td>
    </tr>
  );
}

/** A credit or an adjustment (system admins). */
function MoneyMove(props: { kind: "credit" | "adjustment"; mandateId: string }) {
  const { t } = useI18n();
  const [amount, setAmount] = useState("");
  const [description, setDescription] = useState("");
  const [userId, setUserId] = useState("");
  const [invalid, setInvalid] = useState(false);
  // One key per submission: kept until the booking is confirmed, so a
  // double click or a retry after a lost answer books once.
  const [key, setKey] = useState(() => newIdempotencyKey(`ui-${props.kind}`));
  const [credit, runCredit] = useMutation(CreditAccountDocument);
  const [adjust, runAdjust] = useMutation(AdjustAccountDocument);
  const [booked, setBooked] = useState<string | null>(null);
  const result = props.kind === "credit" ? credit : adjust;
  const payload = props.kind === "credit" ? credit.data?.creditAccount : adjust.data?.adjustAccount;

  const submit = async (e: Event) => {
    e.preventDefault();
    const value = parseAmountInput(amount);
    setInvalid(value === null);
    if (value === null) return;
    const input = {
      mandateId: props.mandateId,
      userId: userId.trim() || null,
      amount: value,
      description: description.trim(),
      idempotencyKey: key,
    };
    const response =
      props.kind === "credit" ? (await runCredit({ input })).data?.creditAccount : (await runAdjust({ input })).data?.adjustAccount;
    if (response?.transaction) {
      setBooked(response.transaction.balanceAfter);
      setKey(newIdempotencyKey(`ui-${props.kind}`));
      setAmount("");
      setDescription("");
    }
  };

  return (
    <form class="card grid" onSubmit={submit} data-testid={`${props.kind}-form`} data-idempotency-key={key}>
      <h3>{props.kind === "credit" ? t("credit") : t("adjustment")}</h3>
      <label>
        {props.kind === "credit" ? t("amount") : t("signedAmount")}
        <input
          name="amount"
          required
          inputMode="decimal"
          value={amount}
          onInput={(e) => {
            setAmount(inputValue(e));
            setBooked(null);
          }}
        />
      </label>
      <label>
        {t("description")}
        <input name="description" required value={description} onInput={(e) => setDescription(inputValue(e))} />
      </label>
      <label>
        {t("userOptional")}
        <input name="userId" value={userId} onInput={(e) => setUserId(inputValue(e))} />
      </label>
      <span class="actions">
        <button type="submit" disabled={result.fetching}>
          {t("book")}
        </button>
        {booked && <BookedNote balance={booked} />}
      </span>
      <div class="wide">
        {invalid && <p class="problems">{t("invalidAmount")}</p>}
        <ApiError error={result.error} />
        <UserErrors errors={payload?.userErrors} />
      </div>
    </form>
  );
}

function BookedNote(props: { balance: string }) {
  const { t } = useI18n();
  const [before, after] = t("booked", { balance: "§" }).split("§");
  return (
    <span role="status" data-testid="booked">
      {before}
      <Money value={props.balance} />
      {after}
    </span>
  );
}

function TopUp(props: { mandateId: string }) {
  const { t } = useI18n();
  const [amount, setAmount] = useState("");
  const [userId, setUserId] = useState("");
  const [invalid, setInvalid] = useState(false);
  const [result, start] = useMutation(TopUpDocument);
  const submit = async (e: Event) => {
    e.preventDefault();
    const value = parseAmountInput(amount);
    setInvalid(value === null);
    if (value === null) return;
    const back = (outcome: string) => `${location.origin}/app/topup/${outcome}?mandate=${encodeURIComponent(props.mandateId)}`;
    const { data } = await start({
      input: {
        mandateId: props.mandateId,
        userId: userId.trim() || null,
        amount: value,
        successUrl: back("success"),
        cancelUrl: back("cancel"),
      },
    });
    const url = data?.createTopUpCheckout.checkout?.url;
    if (url) location.assign(url);
  };
  return (
    <form class="card grid" onSubmit={submit} data-testid="topup-form">
      <h3>{t("topUp")}</h3>
      <p class="help wide">{t("topUpHelp")}</p>
      <label>
        {t("amount")}
        <input name="amount" required inputMode="decimal" value={amount} onInput={(e) => setAmount(inputValue(e))} />
      </label>
      <label>
        {t("userOptional")}
        <input name="userId" value={userId} onInput={(e) => setUserId(inputValue(e))} />
      </label>
      <span class="actions">
        <button type="submit" disabled={result.fetching}>
          {t("toStripe")}
        </button>
      </span>
      <div class="wide">
        {invalid && <p class="problems">{t("invalidAmount")}</p>}
        <ApiError error={result.error} />
        <UserErrors errors={result.data?.createTopUpCheckout.userErrors} />
      </div>
    </form>
  );
}
