// Errors as the API words them: GraphQL errors with their code
// (UNAUTHENTICATED, FORBIDDEN, ...), a mutation's userErrors, or the
// network being down. Never a blank page.
import type { CombinedError } from "@urql/core";
import { useI18n } from "../i18n.js";

export interface ApiProblem {
  code?: string | null;
  message: string;
}

/** The problems of a failed request, in the API's words. */
export function problemsOf(error: CombinedError | undefined, networkDown: string): ApiProblem[] {
  if (!error) return [];
  if (error.graphQLErrors.length > 0) {
    return error.graphQLErrors.map((e) => ({ code: (e.extensions?.code as string | undefined) ?? null, message: e.message }));
  }
  return [{ code: "NETWORK", message: `${networkDown} (${error.networkError?.message ?? error.message})` }];
}

export function ProblemList(props: { problems: ApiProblem[] }) {
  if (props.problems.length === 0) return null;
  return (
    <div class="problems" role="alert">
      {props.problems.map((p, i) => (
        <p key={i}>
          {p.code && <code class="code">{p.code}</code>} {p.message}
        </p>
      ))}
    </div>
  );
}

export function ApiError(props: { error: CombinedError | undefined }) {
  const { t } = useI18n();
  return <ProblemList problems={problemsOf(props.error, t("networkDown"))} />;
}

/** A mutation's userErrors (what the caller can fix), with the field they name. */
export function UserErrors(props: { errors: { code: string; message: string; field?: string[] | null }[] | undefined }) {
  if (!props.errors?.length) return null;
  return (
    <ProblemList
      problems={props.errors.map((e) => ({ code: e.code, message: e.field?.length ? `${e.message} (${e.field.join(".")})` : e.message }))}
    />
  );
}
