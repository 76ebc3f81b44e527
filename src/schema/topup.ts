import { startTopUp } from "../billing/payments/topups.js";
import { builder } from "../builder.js";
import { payload, payloadType } from "./errors.js";
import { readerScope } from "./guard.js";

const CheckoutSession = builder.objectRef<{ id: string; url: string }>("CheckoutSession").implement({
  fields: (t) => ({ id: t.exposeString("id"), url: t.exposeString("url") }),
});

const CreateTopUpCheckoutInput = builder.inputType("CreateTopUpCheckoutInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    userId: t.string(),
    amount: t.field({ type: "Decimal", required: true }),
    successUrl: t.string({ required: true }),
    cancelUrl: t.string({ required: true }),
  }),
});

const CheckoutPayload = payloadType<{ checkout: { id: string; url: string } }>("CheckoutPayload", (t) => ({
  checkout: t.field({ type: CheckoutSession, nullable: true, resolve: (p) => p.checkout ?? null }),
}));

builder.mutationField("createTopUpCheckout", (t) =>
  t.field({
    type: CheckoutPayload,
    description: "Starts a Stripe Checkout in CHF for the mandate's account (or, under PREPAY_USER, the user's own).",
    args: { input: t.arg({ type: CreateTopUpCheckoutInput, required: true }) },
    authScopes: (_root, { input }) => ({ mandateMember: String(input.mandateId) }),
    resolve: (_root, { input }, ctx) => {
      const mandateId = String(input.mandateId);
      // Admins top up any account of their mandate; a user only their own.
      const userId = readerScope(ctx, mandateId, input.userId);
      return payload(async () => ({
        checkout: await startTopUp(ctx.billing, ctx.payments, { ...input, mandateId, userId }),
      }));
    },
  }),
);
