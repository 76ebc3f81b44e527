/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation RecordMany($inputs: [RecordUsageInput!]!) {\n  recordUsages(inputs: $inputs) {\n    results {\n      transaction {\n        ...EntryFields\n      }\n      account {\n        id\n        balance\n        available\n        isWarning\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}": typeof types.RecordManyDocument,
    "fragment CheckFields on BillingCheckResult {\n  allowed\n  reason\n  currentBalance\n  available\n  requiredAmount\n  billingModel\n}\n\nfragment UserErrorFields on UserError {\n  code\n  message\n  field\n}\n\nfragment EntryFields on Transaction {\n  id\n  amount\n  balanceAfter\n  createdAt\n}\n\nquery Check($input: CheckBillingInput!) {\n  checkBilling(input: $input) {\n    ...CheckFields\n  }\n}\n\nquery Quote($input: QuoteInput!) {\n  quote(input: $input) {\n    provider\n    model\n    baseCostChf\n    costChf\n    markupPercent\n    usdToChf\n  }\n}\n\nmutation Authorize($input: AuthorizeUsageInput!) {\n  authorizeUsage(input: $input) {\n    authorization {\n      id\n      amount\n      status\n      expiresAt\n    }\n    check {\n      ...CheckFields\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Settle($input: SettleUsageInput!) {\n  settleUsage(input: $input) {\n    transaction {\n      ...EntryFields\n    }\n    account {\n      id\n      balance\n      available\n      isWarning\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Release($input: ReleaseUsageInput!) {\n  releaseUsage(input: $input) {\n    authorization {\n      id\n      status\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Record($input: RecordUsageInput!) {\n  recordUsage(input: $input) {\n    transaction {\n      ...EntryFields\n    }\n    account {\n      id\n      balance\n      available\n      isWarning\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}": typeof types.CheckFieldsFragmentDoc,
};
const documents: Documents = {
    "mutation RecordMany($inputs: [RecordUsageInput!]!) {\n  recordUsages(inputs: $inputs) {\n    results {\n      transaction {\n        ...EntryFields\n      }\n      account {\n        id\n        balance\n        available\n        isWarning\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}": types.RecordManyDocument,
    "fragment CheckFields on BillingCheckResult {\n  allowed\n  reason\n  currentBalance\n  available\n  requiredAmount\n  billingModel\n}\n\nfragment UserErrorFields on UserError {\n  code\n  message\n  field\n}\n\nfragment EntryFields on Transaction {\n  id\n  amount\n  balanceAfter\n  createdAt\n}\n\nquery Check($input: CheckBillingInput!) {\n  checkBilling(input: $input) {\n    ...CheckFields\n  }\n}\n\nquery Quote($input: QuoteInput!) {\n  quote(input: $input) {\n    provider\n    model\n    baseCostChf\n    costChf\n    markupPercent\n    usdToChf\n  }\n}\n\nmutation Authorize($input: AuthorizeUsageInput!) {\n  authorizeUsage(input: $input) {\n    authorization {\n      id\n      amount\n      status\n      expiresAt\n    }\n    check {\n      ...CheckFields\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Settle($input: SettleUsageInput!) {\n  settleUsage(input: $input) {\n    transaction {\n      ...EntryFields\n    }\n    account {\n      id\n      balance\n      available\n      isWarning\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Release($input: ReleaseUsageInput!) {\n  releaseUsage(input: $input) {\n    authorization {\n      id\n      status\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Record($input: RecordUsageInput!) {\n  recordUsage(input: $input) {\n    transaction {\n      ...EntryFields\n    }\n    account {\n      id\n      balance\n      available\n      isWarning\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}": types.CheckFieldsFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RecordMany($inputs: [RecordUsageInput!]!) {\n  recordUsages(inputs: $inputs) {\n    results {\n      transaction {\n        ...EntryFields\n      }\n      account {\n        id\n        balance\n        available\n        isWarning\n      }\n      userErrors {\n        ...UserErrorFields\n      }\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}"): typeof import('./graphql.js').RecordManyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment CheckFields on BillingCheckResult {\n  allowed\n  reason\n  currentBalance\n  available\n  requiredAmount\n  billingModel\n}\n\nfragment UserErrorFields on UserError {\n  code\n  message\n  field\n}\n\nfragment EntryFields on Transaction {\n  id\n  amount\n  balanceAfter\n  createdAt\n}\n\nquery Check($input: CheckBillingInput!) {\n  checkBilling(input: $input) {\n    ...CheckFields\n  }\n}\n\nquery Quote($input: QuoteInput!) {\n  quote(input: $input) {\n    provider\n    model\n    baseCostChf\n    costChf\n    markupPercent\n    usdToChf\n  }\n}\n\nmutation Authorize($input: AuthorizeUsageInput!) {\n  authorizeUsage(input: $input) {\n    authorization {\n      id\n      amount\n      status\n      expiresAt\n    }\n    check {\n      ...CheckFields\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Settle($input: SettleUsageInput!) {\n  settleUsage(input: $input) {\n    transaction {\n      ...EntryFields\n    }\n    account {\n      id\n      balance\n      available\n      isWarning\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Release($input: ReleaseUsageInput!) {\n  releaseUsage(input: $input) {\n    authorization {\n      id\n      status\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Record($input: RecordUsageInput!) {\n  recordUsage(input: $input) {\n    transaction {\n      ...EntryFields\n    }\n    account {\n      id\n      balance\n      available\n      isWarning\n    }\n    userErrors {\n      ...UserErrorFields\n    }\n  }\n}"): typeof import('./graphql.js').CheckFieldsFragmentDoc;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
