// Which mandate (and, where it matters, which user) a page shows: kept in
// the URL (?mandate=&user=), chosen from the mandates the API lets the
// caller see. A mandate typed into the URL by hand is asked for all the
// same, and the API's answer (FORBIDDEN) is what the page shows.
import { useEffect, useState } from "preact/hooks";
import { useQuery } from "@urql/preact";
import { useSearchParams } from "wouter-preact";
import { MandatesDocument } from "../generated/graphql.js";
import { useI18n } from "../i18n.js";
import { isSysadmin, useSession } from "../session.js";
import { ApiError } from "./problems.js";

export function useScope() {
  const [params, setParams] = useSearchParams();
  const mandateId = params.get("mandate") || null;
  const userId = params.get("user") || null;
  const update = (changes: Record<string, string | null>, replace = false) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        for (const [key, value] of Object.entries(changes)) {
          if (value) next.set(key, value);
          else next.delete(key);
        }
        return next;
      },
      { replace },
    );
  return { params, mandateId, userId, update };
}

export function MandatePicker() {
  const { t } = useI18n();
  const session = useSession();
  const { mandateId, update } = useScope();
  const [search, setSearch] = useState("");
  const [typed, setTyped] = useState("");
  const [{ data, error }] = useQuery({ query: MandatesDocument, variables: { first: 50, search: search || null } });
  const mandates = data?.mandates.edges.map((e) => e.node) ?? [];

  // No mandate chosen yet: take the first the caller may see.
  useEffect(() => {
    if (!mandateId && !search && mandates.length > 0) update({ mandate: mandates[0].id, user: null }, true);
  }, [mandateId, mandates.length > 0]);

  if (data && mandates.length === 0 && !search) return <p class="notice">{t("noMandates")}</p>;
  const known = mandates.some((m) => m.id === mandateId);
  return (
    <div class="picker">
      {isSysadmin(session) && (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setSearch(typed.trim());
          }}
        >
          <input
            type="search"
            aria-label={t("search")}
            placeholder={t("search")}
            value={typed}
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
        </form>
      )}
      <label>
        {t("mandate")}{" "}
        <select
          name="mandate"
          value={mandateId ?? ""}
          onChange={(e) => update({ mandate: (e.target as HTMLSelectElement).value || null, user: null })}
        >
          {!mandateId && <option value="">{t("chooseMandate")}</option>}
          {mandateId && !known && <option value={mandateId}>{mandateId}</option>}
          {mandates.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name} ({m.id})
            </option>
          ))}
        </select>
      </label>
      <ApiError error={error} />
    </div>
  );
}
