/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Omitted amounts keep their stored value; enabling needs all three and a saved card. */
export type AutoTopUpInput = {
  belowAmount?: string | null | undefined;
  enabled: boolean;
  /** Most that automatic top-ups may charge in a calendar month (billing time zone). */
  monthlyCap?: string | null | undefined;
  /** Whole rappen, at least 5 CHF and at most the configured top-up maximum. */
  topUpAmount?: string | null | undefined;
};

export type BillingAddressInput = {
  city: string;
  company: string;
  country: string;
  street: string;
  vatNumber?: string | null | undefined;
  zip: string;
};

export type BillingModel =
  | 'CREDIT_POSTPAY'
  | 'PREPAY_MANDATE'
  | 'PREPAY_USER'
  | 'UNLIMITED';

export type CreditAccountInput = {
  amount: string;
  description: string;
  idempotencyKey: string;
  mandateId: string | number;
  referenceId?: string | null | undefined;
  referenceType?: ReferenceType | null | undefined;
  userId?: string | null | undefined;
};

export type Locale =
  | 'DE'
  | 'EN';

export type ReferenceType =
  | 'ADMIN'
  | 'PAYMENT'
  | 'SYSTEM'
  | 'WORKFLOW';

export type UpdateSettingsInput = {
  /** Providers this mandate may use; an explicit null allows all again. */
  allowedProviders?: Array<string> | null | undefined;
  autoTopUp?: AutoTopUpInput | null | undefined;
  billingAddress?: BillingAddressInput | null | undefined;
  billingModel?: BillingModel | null | undefined;
  blockOnZeroBalance?: boolean | null | undefined;
  defaultUserCredit?: string | null | undefined;
  /** Of the mandate's emails and reports (Mandate.language). */
  language?: Locale | null | undefined;
  mandateId: string | number;
  notifyEmails?: Array<string> | null | undefined;
  notifyOnWarning?: boolean | null | undefined;
  warningThresholdPercent?: string | null | undefined;
};

export type UserErrorCode =
  | 'ACCOUNT_DISABLED'
  | 'AUTHORIZATION_NOT_ACTIVE'
  | 'BILLING_ADDRESS_REQUIRED'
  | 'IDEMPOTENCY_CONFLICT'
  | 'INSUFFICIENT_BALANCE'
  | 'INVALID_AMOUNT'
  | 'NOT_FOUND'
  | 'PROVIDER_NOT_ALLOWED'
  | 'UNKNOWN_PRICE'
  | 'VALIDATION_FAILED';

export type DemoMandateMutationVariables = Exact<{
  id: string | number;
  name: string;
}>;


export type DemoMandateMutation = { upsertMandate: { mandate: { id: string } | null, userErrors: Array<{ code: UserErrorCode, message: string }> } };

export type DemoSettingsMutationVariables = Exact<{
  input: UpdateSettingsInput;
}>;


export type DemoSettingsMutation = { updateSettings: { settings: { allowedProviders: Array<string> | null, warningThresholdPercent: string } | null, userErrors: Array<{ code: UserErrorCode, message: string }> } };

export type DemoCreditMutationVariables = Exact<{
  input: CreditAccountInput;
}>;


export type DemoCreditMutation = { creditAccount: { transaction: { amount: string } | null, account: { balance: string, warningThreshold: string, isWarning: boolean } | null, userErrors: Array<{ code: UserErrorCode, message: string }> } };

export type DemoBalanceQueryVariables = Exact<{
  mandateId: string | number;
}>;


export type DemoBalanceQuery = { balance: { balance: string, held: string, available: string | null, warningThreshold: string, isWarning: boolean } };

export type DemoSpendQueryVariables = Exact<{
  mandateId: string | number;
  year: number;
}>;


export type DemoSpendQuery = { usageStatistics: { totals: { totalCost: string, transactionCount: number, byProvider: Array<{ key: string, cost: string }> } } };

export type DemoWarningSubscriptionVariables = Exact<{
  mandateId: string | number;
}>;


export type DemoWarningSubscription = { balanceWarning: { threshold: string, at: string, balance: { balance: string, available: string | null } } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const DemoMandateDocument = new TypedDocumentString(`
    mutation DemoMandate($id: ID!, $name: String!) {
  upsertMandate(input: {id: $id, name: $name, billingModel: PREPAY_MANDATE}) {
    mandate {
      id
    }
    userErrors {
      code
      message
    }
  }
}
    `) as unknown as TypedDocumentString<DemoMandateMutation, DemoMandateMutationVariables>;
export const DemoSettingsDocument = new TypedDocumentString(`
    mutation DemoSettings($input: UpdateSettingsInput!) {
  updateSettings(input: $input) {
    settings {
      allowedProviders
      warningThresholdPercent
    }
    userErrors {
      code
      message
    }
  }
}
    `) as unknown as TypedDocumentString<DemoSettingsMutation, DemoSettingsMutationVariables>;
export const DemoCreditDocument = new TypedDocumentString(`
    mutation DemoCredit($input: CreditAccountInput!) {
  creditAccount(input: $input) {
    transaction {
      amount
    }
    account {
      balance
      warningThreshold
      isWarning
    }
    userErrors {
      code
      message
    }
  }
}
    `) as unknown as TypedDocumentString<DemoCreditMutation, DemoCreditMutationVariables>;
export const DemoBalanceDocument = new TypedDocumentString(`
    query DemoBalance($mandateId: ID!) {
  balance(mandateId: $mandateId) {
    balance
    held
    available
    warningThreshold
    isWarning
  }
}
    `) as unknown as TypedDocumentString<DemoBalanceQuery, DemoBalanceQueryVariables>;
export const DemoSpendDocument = new TypedDocumentString(`
    query DemoSpend($mandateId: ID!, $year: Int!) {
  usageStatistics(mandateId: $mandateId, period: YEAR, year: $year) {
    totals {
      totalCost
      transactionCount
      byProvider {
        key
        cost
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DemoSpendQuery, DemoSpendQueryVariables>;
export const DemoWarningDocument = new TypedDocumentString(`
    subscription DemoWarning($mandateId: ID!) {
  balanceWarning(mandateId: $mandateId) {
    threshold
    at
    balance {
      balance
      available
    }
  }
}
    `) as unknown as TypedDocumentString<DemoWarningSubscription, DemoWarningSubscriptionVariables>;