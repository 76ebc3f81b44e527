/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type AuthorizationStatus =
  | 'ACTIVE'
  | 'EXPIRED'
  | 'RELEASED'
  | 'SETTLED';

export type AuthorizeUsageInput = {
  estimatedCost?: string | null | undefined;
  estimatedUsage?: UsageInput | null | undefined;
  expiresInSeconds?: number | null | undefined;
  idempotencyKey: string;
  mandateId: string | number;
  model: string;
  provider: string;
  userId?: string | null | undefined;
};

export type BillingModel =
  | 'CREDIT_POSTPAY'
  | 'PREPAY_MANDATE'
  | 'PREPAY_USER'
  | 'UNLIMITED';

export type CheckBillingInput = {
  estimatedCost?: string | null | undefined;
  estimatedUsage?: UsageInput | null | undefined;
  mandateId: string | number;
  model?: string | null | undefined;
  provider: string;
  userId?: string | null | undefined;
};

export type DenialReason =
  | 'ACCOUNT_DISABLED'
  | 'INSUFFICIENT_BALANCE'
  | 'PROVIDER_NOT_ALLOWED';

export type QuoteInput = {
  model: string;
  provider: string;
  usage: UsageInput;
};

export type RecordUsageInput = {
  cost?: string | null | undefined;
  idempotencyKey: string;
  mandateId: string | number;
  metadata?: UsageMetadataInput | null | undefined;
  model: string;
  provider: string;
  usage?: UsageInput | null | undefined;
  userId?: string | null | undefined;
};

export type ReleaseUsageInput = {
  authorizationId: string | number;
};

export type SettleUsageInput = {
  authorizationId: string | number;
  /** Overrides the price catalog when given. */
  cost?: string | null | undefined;
  metadata?: UsageMetadataInput | null | undefined;
  usage?: UsageInput | null | undefined;
};

export type UsageInput = {
  inputTokens?: number | null | undefined;
  outputTokens?: number | null | undefined;
  requests?: number | null | undefined;
};

export type UsageMetadataInput = {
  bytesReceived?: number | null | undefined;
  bytesSent?: number | null | undefined;
  description?: string | null | undefined;
  errorCount?: number | null | undefined;
  featureCode?: string | null | undefined;
  featureInstanceId?: string | null | undefined;
  processingTime?: number | null | undefined;
  workflowId?: string | null | undefined;
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

export type RecordManyMutationVariables = Exact<{
  inputs: Array<RecordUsageInput> | RecordUsageInput;
}>;


export type RecordManyMutation = { recordUsages: { results: Array<{ transaction: { id: string, amount: string, balanceAfter: string, createdAt: string } | null, account: { id: string, balance: string, available: string | null, isWarning: boolean } | null, userErrors: Array<{ code: UserErrorCode, message: string, field: Array<string> | null }> }> | null, userErrors: Array<{ code: UserErrorCode, message: string, field: Array<string> | null }> } };

export type CheckFieldsFragment = { allowed: boolean, reason: DenialReason | null, currentBalance: string | null, available: string | null, requiredAmount: string | null, billingModel: BillingModel | null };

export type UserErrorFieldsFragment = { code: UserErrorCode, message: string, field: Array<string> | null };

export type EntryFieldsFragment = { id: string, amount: string, balanceAfter: string, createdAt: string };

export type CheckQueryVariables = Exact<{
  input: CheckBillingInput;
}>;


export type CheckQuery = { checkBilling: { allowed: boolean, reason: DenialReason | null, currentBalance: string | null, available: string | null, requiredAmount: string | null, billingModel: BillingModel | null } };

export type QuoteQueryVariables = Exact<{
  input: QuoteInput;
}>;


export type QuoteQuery = { quote: { provider: string, model: string, baseCostChf: string, costChf: string, markupPercent: string, usdToChf: string } };

export type AuthorizeMutationVariables = Exact<{
  input: AuthorizeUsageInput;
}>;


export type AuthorizeMutation = { authorizeUsage: { authorization: { id: string, amount: string, status: AuthorizationStatus, expiresAt: string } | null, check: { allowed: boolean, reason: DenialReason | null, currentBalance: string | null, available: string | null, requiredAmount: string | null, billingModel: BillingModel | null } | null, userErrors: Array<{ code: UserErrorCode, message: string, field: Array<string> | null }> } };

export type SettleMutationVariables = Exact<{
  input: SettleUsageInput;
}>;


export type SettleMutation = { settleUsage: { transaction: { id: string, amount: string, balanceAfter: string, createdAt: string } | null, account: { id: string, balance: string, available: string | null, isWarning: boolean } | null, userErrors: Array<{ code: UserErrorCode, message: string, field: Array<string> | null }> } };

export type ReleaseMutationVariables = Exact<{
  input: ReleaseUsageInput;
}>;


export type ReleaseMutation = { releaseUsage: { authorization: { id: string, status: AuthorizationStatus } | null, userErrors: Array<{ code: UserErrorCode, message: string, field: Array<string> | null }> } };

export type RecordMutationVariables = Exact<{
  input: RecordUsageInput;
}>;


export type RecordMutation = { recordUsage: { transaction: { id: string, amount: string, balanceAfter: string, createdAt: string } | null, account: { id: string, balance: string, available: string | null, isWarning: boolean } | null, userErrors: Array<{ code: UserErrorCode, message: string, field: Array<string> | null }> } };

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
export const CheckFieldsFragmentDoc = new TypedDocumentString(`
    fragment CheckFields on BillingCheckResult {
  allowed
  reason
  currentBalance
  available
  requiredAmount
  billingModel
}
    `, {"fragmentName":"CheckFields"}) as unknown as TypedDocumentString<CheckFieldsFragment, unknown>;
export const UserErrorFieldsFragmentDoc = new TypedDocumentString(`
    fragment UserErrorFields on UserError {
  code
  message
  field
}
    `, {"fragmentName":"UserErrorFields"}) as unknown as TypedDocumentString<UserErrorFieldsFragment, unknown>;
export const EntryFieldsFragmentDoc = new TypedDocumentString(`
    fragment EntryFields on Transaction {
  id
  amount
  balanceAfter
  createdAt
}
    `, {"fragmentName":"EntryFields"}) as unknown as TypedDocumentString<EntryFieldsFragment, unknown>;
export const RecordManyDocument = new TypedDocumentString(`
    mutation RecordMany($inputs: [RecordUsageInput!]!) {
  recordUsages(inputs: $inputs) {
    results {
      transaction {
        ...EntryFields
      }
      account {
        id
        balance
        available
        isWarning
      }
      userErrors {
        ...UserErrorFields
      }
    }
    userErrors {
      ...UserErrorFields
    }
  }
}
    fragment UserErrorFields on UserError {
  code
  message
  field
}
fragment EntryFields on Transaction {
  id
  amount
  balanceAfter
  createdAt
}`) as unknown as TypedDocumentString<RecordManyMutation, RecordManyMutationVariables>;
export const CheckDocument = new TypedDocumentString(`
    query Check($input: CheckBillingInput!) {
  checkBilling(input: $input) {
    ...CheckFields
  }
}
    fragment CheckFields on BillingCheckResult {
  allowed
  reason
  currentBalance
  available
  requiredAmount
  billingModel
}`) as unknown as TypedDocumentString<CheckQuery, CheckQueryVariables>;
export const QuoteDocument = new TypedDocumentString(`
    query Quote($input: QuoteInput!) {
  quote(input: $input) {
    provider
    model
    baseCostChf
    costChf
    markupPercent
    usdToChf
  }
}
    `) as unknown as TypedDocumentString<QuoteQuery, QuoteQueryVariables>;
export const AuthorizeDocument = new TypedDocumentString(`
    mutation Authorize($input: AuthorizeUsageInput!) {
  authorizeUsage(input: $input) {
    authorization {
      id
      amount
      status
      expiresAt
    }
    check {
      ...CheckFields
    }
    userErrors {
      ...UserErrorFields
    }
  }
}
    fragment CheckFields on BillingCheckResult {
  allowed
  reason
  currentBalance
  available
  requiredAmount
  billingModel
}
fragment UserErrorFields on UserError {
  code
  message
  field
}`) as unknown as TypedDocumentString<AuthorizeMutation, AuthorizeMutationVariables>;
export const SettleDocument = new TypedDocumentString(`
    mutation Settle($input: SettleUsageInput!) {
  settleUsage(input: $input) {
    transaction {
      ...EntryFields
    }
    account {
      id
      balance
      available
      isWarning
    }
    userErrors {
      ...UserErrorFields
    }
  }
}
    fragment UserErrorFields on UserError {
  code
  message
  field
}
fragment EntryFields on Transaction {
  id
  amount
  balanceAfter
  createdAt
}`) as unknown as TypedDocumentString<SettleMutation, SettleMutationVariables>;
export const ReleaseDocument = new TypedDocumentString(`
    mutation Release($input: ReleaseUsageInput!) {
  releaseUsage(input: $input) {
    authorization {
      id
      status
    }
    userErrors {
      ...UserErrorFields
    }
  }
}
    fragment UserErrorFields on UserError {
  code
  message
  field
}`) as unknown as TypedDocumentString<ReleaseMutation, ReleaseMutationVariables>;
export const RecordDocument = new TypedDocumentString(`
    mutation Record($input: RecordUsageInput!) {
  recordUsage(input: $input) {
    transaction {
      ...EntryFields
    }
    account {
      id
      balance
      available
      isWarning
    }
    userErrors {
      ...UserErrorFields
    }
  }
}
    fragment UserErrorFields on UserError {
  code
  message
  field
}
fragment EntryFields on Transaction {
  id
  amount
  balanceAfter
  createdAt
}`) as unknown as TypedDocumentString<RecordMutation, RecordMutationVariables>;