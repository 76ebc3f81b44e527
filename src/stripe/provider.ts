// Stripe at the edge: the real `stripe` client behind the domain's
// PaymentProvider. STRIPE_API_BASE points it at another host (stripe-mock, a
// local fake) for tests and demos.
import Stripe from "stripe";
import { PaymentFailed, type PaymentProvider } from "../billing/payments/provider.js";

export function createStripe(secretKey: string, apiBase?: string): Stripe {
  const base = apiBase ? new URL(apiBase) : null;
  return new Stripe(secretKey, {
    maxNetworkRetries: 2,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === "https:" ? 443 : 80),
          protocol: base.protocol.replace(":", "") as "http" | "https",
        }
      : {}),
  });
}

export function stripeProvider(stripe: Stripe): PaymentProvider {
  return {
    createCustomer: async (mandate) => {
      const customer = await stripe.customers.create(
        { name: mandate.name, metadata: { mandateId: mandate.id } },
        // Stripe answers a retry with this key with the same customer.
        { idempotencyKey: `saldo-customer-${mandate.id}` },
      );
      return customer.id;
    },
    createCheckout: async (request) => {
      const session = await stripe.checkout.sessions.create({
        mode: "payment",
        customer: request.customerId,
        currency: request.currency,
        line_items: [
          {
            quantity: 1,
            price_data: { currency: request.currency, unit_amount: request.amountRappen, product_data: { name: "Saldo credit" } },
          },
        ],
        success_url: request.successUrl,
        cancel_url: request.cancelUrl,
        metadata: request.metadata,
        // Saves the card for automatic top-ups later.
        payment_intent_data: { metadata: request.metadata, setup_future_usage: "off_session" },
      });
      if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
      return { id: session.id, url: session.url };
    },
    chargeOffSession: async (request) => {
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: request.amountRappen,
            currency: request.currency,
            customer: request.customerId,
            payment_method: request.paymentMethodId,
            off_session: true,
            confirm: true,
            description: "Saldo automatic top-up",
            metadata: request.metadata,
          },
          { idempotencyKey: request.idempotencyKey },
        );
        return { id: intent.id, status: intent.status };
      } catch (error) {
        // A declined card (or one that needs the customer to authenticate) and
        // a refused request are final answers; network and server errors are not.
        if (error instanceof Stripe.errors.StripeCardError || error instanceof Stripe.errors.StripeInvalidRequestError) {
          throw new PaymentFailed(error.message, error.payment_intent?.id ?? null);
        }
        throw error;
      }
    },
  };
}
