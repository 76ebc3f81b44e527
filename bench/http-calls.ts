// The gateway's calls as `npm run bench:http` sends them, how each answer is
// judged, and the book of every money request sent: which were acknowledged
// (and with which transaction), which were refused, and which are still
// unresolved (no answer, a timeout, an error). The book is what the
// invariants are checked against after the run (bench/http-invariants.ts).
//
// Shared by the harness (bench/http.ts) and its smoke test, which drives the
// same calls through yoga.fetch (test/bench/http-harness.test.ts).

/** Sends one GraphQL POST body; resolves with the HTTP status and the raw response text. */
export type Post = (body: string) => Promise<{ status: number; text: string }>;

// What the gateway asks for. Selections are what a gateway needs from each
// answer (the id to settle or to log, the new balance, why it was refused).
export const TYPENAME = `{ __typename }`;
export const CHECK = `query Check($input: CheckBillingInput!) { checkBilling(input: $input) { allowed reason available requiredAmount } }`;
export const RECORD = `mutation Record($input: RecordUsageInput!) { recordUsage(input: $input) { transaction { id balanceAfter } userErrors { code message } } }`;
export const AUTHORIZE = `mutation Authorize($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { authorization { id amount } userErrors { code message } } }`;
export const SETTLE = `mutation Settle($input: SettleUsageInput!) { settleUsage(input: $input) { transaction { id amount balanceAfter } userErrors { code message } } }`;
export const RECORD_MANY = `mutation RecordMany($inputs: [RecordUsageInput!]!) { recordUsages(inputs: $inputs) { results { transaction { id } userErrors { code message } } userErrors { code message } } }`;

/** Every usage in the benchmark is priced from tokens by the catalog (a model the default catalog has). */
export const PROVIDER = "openai";
export const MODEL = "gpt-4o-mini";
/** What the gateway estimates before the call (checkBilling, authorizeUsage). */
export const ESTIMATE = { inputTokens: 2000, outputTokens: 500 };
/** What the call really used (recordUsage, settleUsage): every debit of the run costs the catalog price of this. */
export const USAGE = { inputTokens: 1200, outputTokens: 300 };

export const body = (query: string, variables?: Record<string, unknown>) => JSON.stringify(variables ? { query, variables } : { query });

/** What one answer means. `refused`: a userError or a denial, so by the API's contract nothing was written. */
export type Verdict = { ok: true; id?: string } | { ok: false; refused: boolean; reason: string };

interface GraphQLAnswer {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

function parse(status: number, text: string): GraphQLAnswer | Verdict {
  let answer: GraphQLAnswer;
  try {
    answer = JSON.parse(text) as GraphQLAnswer;
  } catch {
    return { ok: false, refused: false, reason: `HTTP ${status}, not JSON: ${text.slice(0, 80)}` };
  }
  if (answer.errors?.length) {
    const first = answer.errors[0];
    return { ok: false, refused: false, reason: `HTTP ${status}, ${first.extensions?.code ?? "error"}: ${first.message}` };
  }
  if (status !== 200) return { ok: false, refused: false, reason: `HTTP ${status}` };
  if (!answer.data) return { ok: false, refused: false, reason: "no data" };
  return answer;
}

const isVerdict = (value: GraphQLAnswer | Verdict): value is Verdict => "ok" in value;

function userErrors(result: { userErrors?: { code: string; message: string }[] } | null | undefined): Verdict | null {
  if (!result) return { ok: false, refused: false, reason: "null payload" };
  const first = result.userErrors?.[0];
  return first ? { ok: false, refused: true, reason: `userError ${first.code}: ${first.message}` } : null;
}

export function judgeTypename(status: number, text: string): Verdict {
  const answer = parse(status, text);
  if (isVerdict(answer)) return answer;
  return answer.data!.__typename === "Query"
    ? { ok: true }
    : { ok: false, refused: false, reason: `unexpected answer ${text.slice(0, 80)}` };
}

export function judgeCheck(status: number, text: string): Verdict {
  const answer = parse(status, text);
  if (isVerdict(answer)) return answer;
  const check = answer.data!.checkBilling;
  if (!check) return { ok: false, refused: false, reason: "null checkBilling" };
  return check.allowed === true ? { ok: true } : { ok: false, refused: true, reason: `denied: ${check.reason}` };
}

/** recordUsage and settleUsage: the transaction booked. */
export function judgeTransaction(field: "recordUsage" | "settleUsage") {
  return (status: number, text: string): Verdict => {
    const answer = parse(status, text);
    if (isVerdict(answer)) return answer;
    const payload = answer.data![field];
    const refused = userErrors(payload);
    if (refused) return refused;
    const id = payload.transaction?.id;
    return typeof id === "string" ? { ok: true, id } : { ok: false, refused: false, reason: "no transaction" };
  };
}

export const judgeRecord = judgeTransaction("recordUsage");
export const judgeSettle = judgeTransaction("settleUsage");

export function judgeAuthorize(status: number, text: string): Verdict {
  const answer = parse(status, text);
  if (isVerdict(answer)) return answer;
  const payload = answer.data!.authorizeUsage;
  const refused = userErrors(payload);
  if (refused) return refused;
  const id = payload.authorization?.id;
  return typeof id === "string" ? { ok: true, id } : { ok: false, refused: false, reason: "no authorization" };
}

/** recordUsages: one verdict per input, in order (or one verdict for the whole request when it failed). */
export function judgeRecordMany(status: number, text: string, count: number): Verdict | Verdict[] {
  const answer = parse(status, text);
  if (isVerdict(answer)) return answer;
  const payload = answer.data!.recordUsages;
  const refusedAll = userErrors(payload);
  if (refusedAll) return refusedAll;
  const results = payload.results;
  if (!Array.isArray(results) || results.length !== count) {
    return {
      ok: false,
      refused: false,
      reason: `expected ${count} results, got ${Array.isArray(results) ? results.length : typeof results}`,
    };
  }
  return results.map((payload) => {
    const refused = userErrors(payload);
    if (refused) return refused;
    const id = payload.transaction?.id;
    return typeof id === "string" ? { ok: true, id } : { ok: false, refused: false, reason: "no transaction" };
  });
}

/** Whether the server has recordUsages with the result shape this harness drives, and if not, why. */
export async function bulkSupport(post: Post): Promise<string | null> {
  const typeRef = "name kind ofType { name kind ofType { name kind ofType { name kind } } }";
  const fieldsOf = async (name: string) => {
    const found = await data(post, `query($name: String!) { __type(name: $name) { fields { name args { name } type { ${typeRef} } } } }`, {
      name,
    });
    return (found.__type?.fields ?? []) as { name: string; args: { name: string }[]; type: TypeRef }[];
  };
  const field = (await fieldsOf("Mutation")).find((f) => f.name === "recordUsages");
  if (!field) return "server has no recordUsages";
  if (!field.args.some((a) => a.name === "inputs")) return "recordUsages has no argument inputs";
  // RecordUsagesPayload { results: [TransactionPayload!], userErrors }: each result with transaction and userErrors.
  const payload = await fieldsOf(unwrap(field.type).name);
  const results = payload.find((f) => f.name === "results");
  if (!results || unwrap(results.type).lists !== 1 || !payload.some((f) => f.name === "userErrors")) {
    return "recordUsages does not return { results: [payload], userErrors }";
  }
  const names = new Set((await fieldsOf(unwrap(results.type).name)).map((f) => f.name));
  if (!names.has("transaction") || !names.has("userErrors")) return "recordUsages' results have no transaction and userErrors";
  return null;
}

interface TypeRef {
  name: string | null;
  kind: string;
  ofType?: TypeRef | null;
}

/** A type's named type under NON_NULL and LIST, and how many lists wrap it. */
function unwrap(type: TypeRef): { name: string; lists: number } {
  let lists = 0;
  while (type.ofType && (type.kind === "NON_NULL" || type.kind === "LIST")) {
    if (type.kind === "LIST") lists += 1;
    type = type.ofType;
  }
  return { name: type.name ?? "", lists };
}

/** The data of a query that must succeed. */
export async function data(post: Post, query: string, variables?: Record<string, unknown>): Promise<any> {
  const response = await post(body(query, variables));
  const answer = JSON.parse(response.text);
  if (response.status !== 200 || answer.errors?.length)
    throw new Error(`${query.slice(0, 60)}: HTTP ${response.status} ${response.text.slice(0, 300)}`);
  return answer.data;
}

// ------------------------------------------------------------- the book

export type CallState = "pending" | "acked" | "refused";

export interface UsageCall {
  key: string;
  mandateId: string;
  state: CallState;
  /** The transaction the API returned (acked). */
  transactionId?: string;
}

export interface PairCall {
  /** The authorization's idempotency key. */
  key: string;
  mandateId: string;
  /** The authorization step: pending until acknowledged (then the hold's id is known). */
  authorize: CallState;
  authorizationId?: string;
  /** The settle step: pending until acknowledged; "none" while it was never sent. */
  settle: CallState | "none";
  transactionId?: string;
}

/** Every money request sent during a run, by idempotency key. */
export class MoneyBook {
  readonly usage = new Map<string, UsageCall>();
  readonly pairs = new Map<string, PairCall>();
  private next = 0;

  /** `prefix` makes the keys of one run unique on a shared database. */
  constructor(readonly prefix: string) {}

  newUsage(mandateId: string): UsageCall {
    const call: UsageCall = { key: `${this.prefix}-u${this.next++}`, mandateId, state: "pending" };
    this.usage.set(call.key, call);
    return call;
  }

  newPair(mandateId: string): PairCall {
    const pair: PairCall = { key: `${this.prefix}-a${this.next++}`, mandateId, authorize: "pending", settle: "none" };
    this.pairs.set(pair.key, pair);
    return pair;
  }

  /** Records an answer to a recordUsage; only acked and refused are final (anything else is replayed later). */
  answerUsage(call: UsageCall, verdict: Verdict): void {
    if (verdict.ok) {
      call.state = "acked";
      call.transactionId = verdict.id;
    } else if (verdict.refused) {
      call.state = "refused";
    }
  }

  answerAuthorize(pair: PairCall, verdict: Verdict): void {
    if (verdict.ok) {
      pair.authorize = "acked";
      pair.authorizationId = verdict.id;
    } else if (verdict.refused) {
      pair.authorize = "refused";
    }
  }

  answerSettle(pair: PairCall, verdict: Verdict): void {
    if (verdict.ok) {
      pair.settle = "acked";
      pair.transactionId = verdict.id;
    } else if (verdict.refused) {
      pair.settle = "refused";
    }
  }

  /** Requests whose outcome is not known yet, and holds left open. */
  unresolved(): { usage: UsageCall[]; pairs: PairCall[] } {
    return {
      usage: [...this.usage.values()].filter((c) => c.state === "pending"),
      pairs: [...this.pairs.values()].filter((p) => p.authorize === "pending" || (p.authorize === "acked" && p.settle !== "acked")),
    };
  }
}

// ------------------------------------------------------------ the inputs

export const recordInput = (call: UsageCall) => ({
  mandateId: call.mandateId,
  provider: PROVIDER,
  model: MODEL,
  usage: USAGE,
  idempotencyKey: call.key,
  metadata: { featureCode: "bench" },
});

export const authorizeInput = (pair: PairCall) => ({
  mandateId: pair.mandateId,
  provider: PROVIDER,
  model: MODEL,
  estimatedUsage: ESTIMATE,
  idempotencyKey: pair.key,
});

export const settleInput = (pair: PairCall) => ({
  authorizationId: pair.authorizationId!,
  usage: USAGE,
  metadata: { featureCode: "bench" },
});

export const checkInput = (mandateId: string) => ({ mandateId, provider: PROVIDER, model: MODEL, estimatedUsage: ESTIMATE });

/**
 * After a run: what was sent but not answered (cut off at the end of a
 * measurement, timed out, failed with an error) is sent again with the same
 * idempotency key until it is acknowledged or refused, as a gateway retries;
 * holds that were granted but not settled are settled. Afterwards every key
 * has a known outcome, so the ledger can be compared with the book exactly.
 * `recordMany` replays usages that were sent through recordUsages (their
 * request hash may differ from recordUsage's). Returns what stayed unresolved.
 */
export async function resolveAll(
  book: MoneyBook,
  post: Post,
  options: { bulkKeys?: Set<string>; attempts?: number } = {},
): Promise<{ replayed: number; unresolved: number; reasons: string[] }> {
  const attempts = options.attempts ?? 3;
  const reasons: string[] = [];
  let replayed = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const { usage, pairs } = book.unresolved();
    if (usage.length === 0 && pairs.length === 0) break;
    const bulk = usage.filter((c) => options.bulkKeys?.has(c.key));
    const single = usage.filter((c) => !options.bulkKeys?.has(c.key));
    for (const call of single) {
      replayed += 1;
      const verdict = await send(post, RECORD, { input: recordInput(call) }, judgeRecord);
      book.answerUsage(call, verdict);
      if (!verdict.ok) reasons.push(`recordUsage ${call.key}: ${verdict.reason}`);
    }
    for (let i = 0; i < bulk.length; i += 100) {
      const chunk = bulk.slice(i, i + 100);
      replayed += chunk.length;
      const response = await post(body(RECORD_MANY, { inputs: chunk.map(recordInput) })).catch((error: Error) => ({
        status: 0,
        text: error.message,
      }));
      const verdicts = judgeRecordMany(response.status, response.text, chunk.length);
      chunk.forEach((call, j) => {
        const verdict = Array.isArray(verdicts) ? verdicts[j] : verdicts;
        book.answerUsage(call, verdict);
        if (!verdict.ok) reasons.push(`recordUsages ${call.key}: ${verdict.reason}`);
      });
    }
    for (const pair of pairs) {
      replayed += 1;
      if (pair.authorize === "pending") {
        const verdict = await send(post, AUTHORIZE, { input: authorizeInput(pair) }, judgeAuthorize);
        book.answerAuthorize(pair, verdict);
        if (!verdict.ok) reasons.push(`authorizeUsage ${pair.key}: ${verdict.reason}`);
      }
      if (pair.authorize === "acked" && pair.settle !== "acked") {
        const verdict = await send(post, SETTLE, { input: settleInput(pair) }, judgeSettle);
        book.answerSettle(pair, verdict);
        if (!verdict.ok) reasons.push(`settleUsage ${pair.key}: ${verdict.reason}`);
      }
    }
  }
  const left = book.unresolved();
  return { replayed, unresolved: left.usage.length + left.pairs.length, reasons };
}

async function send(
  post: Post,
  query: string,
  variables: Record<string, unknown>,
  judge: (status: number, text: string) => Verdict,
): Promise<Verdict> {
  try {
    const response = await post(body(query, variables));
    return judge(response.status, response.text);
  } catch (error) {
    return { ok: false, refused: false, reason: (error as Error).message };
  }
}
