// recordUsage: the gateway's one-step DEBIT after the fact, for callers that
// do not reserve (no check: the call already happened).
import { parseUsageMetadata, usageEntry, type UsageMetadata } from "../ledger/entries.js";
import { moveMoney, type MoneyMoveResult } from "../ledger/moves.js";
import { callCostContent, costOf, requireCallCost, type UsageAmounts } from "../pricing/pricing.js";
import type { BillingContext } from "../shared/context.js";
import { BillingError, validation } from "../shared/errors.js";
import { parseIdempotencyKey, requestHash } from "../shared/idempotency.js";
import type { DecimalInput } from "../shared/money.js";
import { identifier, requiredText } from "../shared/validation.js";
import { COST_FIELDS, parseProvider } from "./holds.js";

export interface RecordUsageInput {
  mandateId: string;
  userId?: string | null;
  provider: string;
  model: string;
  usage?: UsageAmounts | null;
  cost?: DecimalInput | null;
  metadata?: UsageMetadata | null;
  idempotencyKey: string;
}

/** A DEBIT after the fact (of 0 when the call cost nothing), without a check, for callers that do not reserve. */
export async function recordUsage(ctx: BillingContext, input: RecordUsageInput): Promise<MoneyMoveResult> {
  const provider = parseProvider(input.provider);
  const model = identifier(requiredText(input.model, ["input", "model"]), ["input", "model"], "model");
  const key = parseIdempotencyKey(input.idempotencyKey);
  const metadata = parseUsageMetadata(input.metadata);
  const call = requireCallCost(input, COST_FIELDS, "a usage record books what the call cost");
  const hash = requestHash({ op: "recordUsage", userId: input.userId, provider, model, cost: callCostContent(call), metadata });
  return moveMoney(
    ctx,
    { payer: input },
    { key: { scope: "USAGE", key }, hash },
    (_account, locked) =>
      usageEntry(provider, model, costOf(ctx, call, locked.price, { provider, model }, COST_FIELDS), metadata, input.userId),
    { price: { provider, model } },
  );
}

/** The most usages one recordUsages call takes. */
export const MAX_USAGES_PER_CALL = 1000;

/** One usage's outcome in recordUsages: its booking, or why it was refused. */
export type UsageOutcome = { booked: MoneyMoveResult } | { refused: BillingError };

/**
 * Many usages in one call (the gateway's after-the-fact path). Each is booked
 * as recordUsage books it, with its own idempotency key; they are submitted
 * together, so they share the ledger's batches. A refused usage is refused
 * alone: the others are booked. Outcomes are in the order of `inputs`.
 */
export async function recordUsages(ctx: BillingContext, inputs: RecordUsageInput[]): Promise<UsageOutcome[]> {
  if (inputs.length > MAX_USAGES_PER_CALL) {
    throw validation(`At most ${MAX_USAGES_PER_CALL} usages per call (got ${inputs.length}): send them in several calls`, ["inputs"]);
  }
  return Promise.all(
    inputs.map((input) =>
      recordUsage(ctx, input).then(
        (booked): UsageOutcome => ({ booked }),
        (error: unknown): UsageOutcome => {
          if (error instanceof BillingError) return { refused: error };
          throw error;
        },
      ),
    ),
  );
}
