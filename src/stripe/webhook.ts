// POST /webhooks/stripe: Stripe's events, signature-checked on the raw body,
// handed to the billing domain (src/billing/payments.ts), which books each
// at most once. A yoga plugin that answers before yoga's own handling, so
// neither GraphQL parsing nor the CSRF check (Stripe sends no such header)
// applies to it; yoga.fetch in tests and the server on its port both serve it.
import type { Plugin } from "graphql-yoga";
import Stripe from "stripe";
import { type BillingContext } from "../billing/shared/context.js";
import { log } from "../log.js";
import { applyStripeEvent } from "./events.js";

const stripeLog = log.child({ module: "stripe" });

export const STRIPE_WEBHOOK_PATH = "/webhooks/stripe";
/** Stripe's events are a few kilobytes; anything far larger is not from Stripe. */
const MAX_BODY_BYTES = 1_000_000;

export interface StripeWebhookOptions {
  billing: BillingContext;
  /** The `stripe` client (its webhooks helper checks signatures); null when STRIPE_SECRET_KEY is not set. */
  stripe: Stripe | null;
  webhookSecret: string | undefined;
  /** Told each delivery's event type and outcome (the metrics); "unknown" type before the signature is checked. */
  observe?(eventType: string, outcome: string): void;
}

/** Handles one request to the webhook path. */
export async function handleStripeWebhook(request: Request, options: StripeWebhookOptions): Promise<Response> {
  let eventType = "unknown";
  let outcome = "rejected";
  try {
    const response = await handle(request, options, (type, result) => {
      eventType = type;
      outcome = result;
    });
    if (response.status === 503) outcome = "not_configured";
    return response;
  } finally {
    options.observe?.(eventType, outcome);
  }
}

async function handle(
  request: Request,
  options: StripeWebhookOptions,
  note: (eventType: string, outcome: string) => void,
): Promise<Response> {
  if (request.method !== "POST") return json(405, { error: "Use POST" }, { allow: "POST" });
  if (!options.webhookSecret) {
    return json(503, { error: "Stripe webhooks are not configured: set STRIPE_WEBHOOK_SECRET (and STRIPE_SECRET_KEY)" });
  }
  const signature = request.headers.get("stripe-signature");
  if (!signature) return json(400, { error: "Missing Stripe-Signature header" });
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) return json(413, { error: "Request body too large" });
  const rawBody = await request.text();
  if (Buffer.byteLength(rawBody) > MAX_BODY_BYTES) return json(413, { error: "Request body too large" });
  // Signatures are checked without the API key; a client is only needed for its helper.
  const stripe = options.stripe ?? new Stripe("sk_unused_for_signatures");
  let event: Stripe.Event;
  try {
    event = stripe.webhooks.constructEvent(rawBody, signature, options.webhookSecret);
  } catch (error) {
    return json(400, { error: `Invalid Stripe signature: ${(error as Error).message}` });
  }
  try {
    if (event.type === "charge.refunded") await withRefunds(event.data.object as Stripe.Charge, options.stripe);
    const result = await applyStripeEvent(options.billing, event as unknown as Parameters<typeof applyStripeEvent>[1]);
    note(event.type, result.outcome);
    if (result.outcome !== "unhandled")
      stripeLog.info({ eventId: event.id, eventType: event.type, outcome: result.outcome }, `event ${result.outcome}`);
  } catch (error) {
    // The database failed: 500, and Stripe retries the event later.
    note(event.type, "failed");
    stripeLog.error({ eventId: event.id, eventType: event.type, err: error }, "event failed");
    return json(500, { error: "The event could not be processed; Stripe will retry it" });
  }
  return json(200, { received: true });
}

/**
 * Since API version 2022-11-15 a charge's `refunds` is no longer included in
 * its events; the domain books each refund by its id, so fetch the list when
 * the event lacks it (or has more than it carries). One API call, only for
 * refunds.
 */
async function withRefunds(charge: Stripe.Charge, stripe: Stripe | null): Promise<void> {
  if (charge.refunds?.data && !charge.refunds.has_more) return;
  if (!stripe) throw new Error(`charge.refunded for ${charge.id} lists no refunds and STRIPE_SECRET_KEY is not set to fetch them`);
  const refunds = await stripe.refunds.list({ charge: charge.id, limit: 100 }).autoPagingToArray({ limit: 10_000 });
  (charge as { refunds: unknown }).refunds = { object: "list", data: refunds, has_more: false };
}

/** The webhook as a yoga plugin: register it before the CSRF plugin. */
export function useStripeWebhook(options: StripeWebhookOptions): Plugin {
  return {
    onRequest({ request, url, endResponse }) {
      if (url.pathname !== STRIPE_WEBHOOK_PATH) return;
      return handleStripeWebhook(request, options).then(endResponse);
    },
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
