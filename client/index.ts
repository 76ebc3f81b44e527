// Saldo's client for the AI gateway: `import { createSaldoClient } from "saldo/client"`.
// It depends on Saldo's public GraphQL API only (client/tsconfig.json keeps
// it from importing anything outside client/).
export { createSaldoClient, SaldoClient, type PendingSettlement, type SaldoClientOptions } from "./client.js";
export {
  AccountDisabledError,
  BillingDeniedError,
  InsufficientBalanceError,
  ProviderNotAllowedError,
  SaldoError,
  SaldoRequestError,
  SaldoUnavailableError,
  SaldoUserError,
  UnsettledHoldError,
} from "./errors.js";
export type { RetryPolicy } from "./transport.js";
export type * from "./types.js";
