// What Saldo needs from a payment provider: the port the domain owns, so
// tests run it against fakes. src/stripe implements it with Stripe.
export interface PaymentProvider {
  /** The provider's customer for the mandate, created once and reused. */
  createCustomer(mandate: { id: string; name: string }): Promise<string>;
  createCheckout(request: CheckoutRequest): Promise<{ id: string; url: string }>;
  /**
   * Charges the saved card without the customer present (automatic top-up);
   * throws PaymentFailed when the payment is declined.
   */
  chargeOffSession(request: OffSessionCharge): Promise<{ id: string; status: string }>;
}

export interface OffSessionCharge {
  customerId: string;
  paymentMethodId: string;
  /** Smallest currency unit: rappen. */
  amountRappen: number;
  currency: "chf";
  metadata: { accountId: string; mandateId: string; userId: string; amount: string; autoTopUpId: string };
  /** The provider answers a retry with this key with the first payment, never a second one. */
  idempotencyKey: string;
}

/** The payment provider declined a payment (card declined, authentication required, ...). */
export class PaymentFailed extends Error {
  constructor(
    message: string,
    readonly paymentIntentId: string | null,
  ) {
    super(message);
    this.name = "PaymentFailed";
  }
}

export interface CheckoutRequest {
  customerId: string;
  /** Smallest currency unit: rappen. */
  amountRappen: number;
  currency: "chf";
  successUrl: string;
  cancelUrl: string;
  /**
   * The account the payment is for, by its key (and id): the webhook credits
   * that account whatever the billing model is by then, opening it if no
   * money move has yet.
   */
  metadata: { accountId: string; accountKey: string; mandateId: string; userId: string; amount: string };
}
