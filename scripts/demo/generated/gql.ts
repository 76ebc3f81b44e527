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
    "mutation DemoMandate($id: ID!, $name: String!) {\n  upsertMandate(input: {id: $id, name: $name, billingModel: PREPAY_MANDATE}) {\n    mandate {\n      id\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nmutation DemoSettings($input: UpdateSettingsInput!) {\n  updateSettings(input: $input) {\n    settings {\n      allowedProviders\n      warningThresholdPercent\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nmutation DemoCredit($input: CreditAccountInput!) {\n  creditAccount(input: $input) {\n    transaction {\n      amount\n    }\n    account {\n      balance\n      warningThreshold\n      isWarning\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nquery DemoBalance($mandateId: ID!) {\n  balance(mandateId: $mandateId) {\n    balance\n    held\n    available\n    warningThreshold\n    isWarning\n  }\n}\n\nquery DemoSpend($mandateId: ID!, $year: Int!) {\n  usageStatistics(mandateId: $mandateId, period: YEAR, year: $year) {\n    totals {\n      totalCost\n      transactionCount\n      byProvider {\n        key\n        cost\n      }\n    }\n  }\n}\n\nsubscription DemoWarning($mandateId: ID!) {\n  balanceWarning(mandateId: $mandateId) {\n    threshold\n    at\n    balance {\n      balance\n      available\n    }\n  }\n}": typeof types.DemoMandateDocument,
};
const documents: Documents = {
    "mutation DemoMandate($id: ID!, $name: String!) {\n  upsertMandate(input: {id: $id, name: $name, billingModel: PREPAY_MANDATE}) {\n    mandate {\n      id\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nmutation DemoSettings($input: UpdateSettingsInput!) {\n  updateSettings(input: $input) {\n    settings {\n      allowedProviders\n      warningThresholdPercent\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nmutation DemoCredit($input: CreditAccountInput!) {\n  creditAccount(input: $input) {\n    transaction {\n      amount\n    }\n    account {\n      balance\n      warningThreshold\n      isWarning\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nquery DemoBalance($mandateId: ID!) {\n  balance(mandateId: $mandateId) {\n    balance\n    held\n    available\n    warningThreshold\n    isWarning\n  }\n}\n\nquery DemoSpend($mandateId: ID!, $year: Int!) {\n  usageStatistics(mandateId: $mandateId, period: YEAR, year: $year) {\n    totals {\n      totalCost\n      transactionCount\n      byProvider {\n        key\n        cost\n      }\n    }\n  }\n}\n\nsubscription DemoWarning($mandateId: ID!) {\n  balanceWarning(mandateId: $mandateId) {\n    threshold\n    at\n    balance {\n      balance\n      available\n    }\n  }\n}": types.DemoMandateDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DemoMandate($id: ID!, $name: String!) {\n  upsertMandate(input: {id: $id, name: $name, billingModel: PREPAY_MANDATE}) {\n    mandate {\n      id\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nmutation DemoSettings($input: UpdateSettingsInput!) {\n  updateSettings(input: $input) {\n    settings {\n      allowedProviders\n      warningThresholdPercent\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nmutation DemoCredit($input: CreditAccountInput!) {\n  creditAccount(input: $input) {\n    transaction {\n      amount\n    }\n    account {\n      balance\n      warningThreshold\n      isWarning\n    }\n    userErrors {\n      code\n      message\n    }\n  }\n}\n\nquery DemoBalance($mandateId: ID!) {\n  balance(mandateId: $mandateId) {\n    balance\n    held\n    available\n    warningThreshold\n    isWarning\n  }\n}\n\nquery DemoSpend($mandateId: ID!, $year: Int!) {\n  usageStatistics(mandateId: $mandateId, period: YEAR, year: $year) {\n    totals {\n      totalCost\n      transactionCount\n      byProvider {\n        key\n        cost\n      }\n    }\n  }\n}\n\nsubscription DemoWarning($mandateId: ID!) {\n  balanceWarning(mandateId: $mandateId) {\n    threshold\n    at\n    balance {\n      balance\n      available\n    }\n  }\n}"): typeof import('./graphql.js').DemoMandateDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
