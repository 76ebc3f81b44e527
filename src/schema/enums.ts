import { builder } from "../builder.js";

export const BillingModel = builder.enumType("BillingModel", {
  values: ["PREPAY_MANDATE", "PREPAY_USER", "CREDIT_POSTPAY", "UNLIMITED"] as const,
});
export const AccountType = builder.enumType("AccountType", { values: ["MANDATE", "USER"] as const });
export const TransactionType = builder.enumType("TransactionType", { values: ["CREDIT", "DEBIT", "ADJUSTMENT"] as const });
export const ReferenceType = builder.enumType("ReferenceType", { values: ["WORKFLOW", "PAYMENT", "ADMIN", "SYSTEM"] as const });
export const PeriodType = builder.enumType("PeriodType", { values: ["DAY", "MONTH", "YEAR"] as const });
export const AuthorizationStatus = builder.enumType("AuthorizationStatus", {
  values: ["ACTIVE", "SETTLED", "RELEASED", "EXPIRED"] as const,
});
export const Locale = builder.enumType("Locale", { values: ["EN", "DE"] as const });
export const DenialReason = builder.enumType("DenialReason", {
  values: ["INSUFFICIENT_BALANCE", "PROVIDER_NOT_ALLOWED", "ACCOUNT_DISABLED"] as const,
});
export const AutoTopUpStatus = builder.enumType("AutoTopUpStatus", { values: ["PENDING", "SUCCEEDED", "FAILED"] as const });
