// A local fake of the few Stripe API endpoints Saldo calls, on a free port in
// the test process. The real `stripe` client reaches it through
// STRIPE_API_BASE; each request is recorded with its form-encoded body.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeStripeRequest {
  method: string;
  path: string;
  /** The form-encoded body, flat: keys as Stripe encodes them (`line_items[0][quantity]`). */
  form: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
}

export interface FakeStripe {
  url: string;
  requests: FakeStripeRequest[];
  /** Refunds GET /v1/refunds?charge=... lists, by charge id. */
  refunds: Map<string, { id: string; amount: number; status: string }[]>;
  /** Payment methods whose off-session payment intents are declined (402 card_error), with the decline message. */
  declined: Map<string, string>;
  /** The recorded requests to one endpoint. */
  calls(method: string, path: string): FakeStripeRequest[];
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: FakeStripeRequest[] = [];
  const refunds = new Map<string, { id: string; amount: number; status: string }[]>();
  const declined = new Map<string, string>();
  let counter = 0;
  // Stripe answers a retried create with the same Idempotency-Key with the first object.
  const byIdempotencyKey = new Map<string, unknown>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const [path, query = ""] = (req.url ?? "/").split("?");
      const form = Object.fromEntries(new URLSearchParams(body));
      const method = req.method ?? "GET";
      requests.push({ method, path, form, headers: req.headers });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { "content-type": "application/json", "request-id": `req_${++counter}` });
        res.end(JSON.stringify(payload));
      };
      const key = req.headers["idempotency-key"] as string | undefined;
      if (key && byIdempotencyKey.has(`${method} ${path} ${key}`)) return send(200, byIdempotencyKey.get(`${method} ${path} ${key}`));
      let payload: unknown;
      if (method === "POST" && path === "/v1/customers") {
        payload = { id: `cus_fake_${++counter}`, object: "customer", name: form.name ?? null, metadata: pick(form, "metadata") };
      } else if (method === "POST" && path === "/v1/checkout/sessions") {
        const id = `cs_test_fake_${++counter}`;
        payload = {
          id,
          object: "checkout.session",
          mode: form.mode,
          customer: form.customer,
          currency: form.currency ?? null,
          amount_total: Number(form["line_items[0][price_data][unit_amount]"]),
          payment_status: "unpaid",
          metadata: pick(form, "metadata"),
          url: `https://checkout.stripe.test/c/pay/${id}`,
        };
      } else if (method === "POST" && path === "/v1/payment_intents") {
        const intent = {
          id: `pi_fake_${++counter}`,
          object: "payment_intent",
          amount: Number(form.amount),
          currency: form.currency,
          customer: form.customer,
          payment_method: form.payment_method,
          metadata: pick(form, "metadata"),
          status: "succeeded",
        };
        const decline = declined.get(form.payment_method);
        if (decline) {
          // Stripe answers a declined confirmation with 402 and the failed intent inside the error.
          const error = {
            type: "card_error",
            code: "card_declined",
            decline_code: "insufficient_funds",
            message: decline,
            payment_intent: {
              ...intent,
              status: "requires_payment_method",
              last_payment_error: { code: "card_declined", message: decline },
            },
          };
          res.writeHead(402, { "content-type": "application/json", "request-id": `req_${++counter}` });
          return res.end(JSON.stringify({ error }));
        }
        payload = intent;
      } else if (method === "GET" && path === "/v1/refunds") {
        const charge = new URLSearchParams(query).get("charge") ?? "";
        const data = (refunds.get(charge) ?? []).map((r) => ({ ...r, object: "refund", charge, currency: "chf" }));
        return send(200, { object: "list", url: "/v1/refunds", has_more: false, data });
      } else {
        return send(404, { error: { type: "invalid_request_error", message: `Fake Stripe has no ${method} ${path}` } });
      }
      if (key) byIdempotencyKey.set(`${method} ${path} ${key}`, payload);
      send(200, payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    refunds,
    declined,
    calls: (method, path) => requests.filter((r) => r.method === method && r.path === path),
    reset: () => void requests.splice(0),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // The stripe client keeps its connections alive.
        server.closeAllConnections();
      }),
  };
}

/** `metadata[accountId]=...` form fields as an object. */
function pick(form: Record<string, string>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(form)) {
    const match = key.match(new RegExp(`^${prefix}\\[([^\\]]+)\\]$`));
    if (match) out[match[1]] = value;
  }
  return out;
}
