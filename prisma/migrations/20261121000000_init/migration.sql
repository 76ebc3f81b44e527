-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "BillingModel" AS ENUM ('PREPAY_MANDATE', 'PREPAY_USER', 'CREDIT_POSTPAY', 'UNLIMITED');

-- CreateEnum
CREATE TYPE "AccountType" AS ENUM ('MANDATE', 'USER');

-- CreateEnum
CREATE TYPE "TransactionType" AS ENUM ('CREDIT', 'DEBIT', 'ADJUSTMENT');

-- CreateEnum
CREATE TYPE "ReferenceType" AS ENUM ('WORKFLOW', 'PAYMENT', 'ADMIN', 'SYSTEM');

-- CreateEnum
CREATE TYPE "PeriodType" AS ENUM ('DAY', 'MONTH', 'YEAR');

-- CreateEnum
CREATE TYPE "AuthorizationStatus" AS ENUM ('ACTIVE', 'SETTLED', 'RELEASED', 'EXPIRED');

-- CreateEnum
CREATE TYPE "Locale" AS ENUM ('EN', 'DE');

-- CreateEnum
CREATE TYPE "NotificationKind" AS ENUM ('BALANCE_WARNING', 'MONTHLY_REPORT');

-- CreateEnum
CREATE TYPE "NotificationStatus" AS ENUM ('PENDING', 'SENT', 'FAILED');

-- CreateTable
CREATE TABLE "Mandate" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "language" "Locale" NOT NULL DEFAULT 'EN',
    "stripeCustomerId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Mandate_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Settings" (
    "mandateId" TEXT NOT NULL,
    "billingModel" "BillingModel" NOT NULL DEFAULT 'PREPAY_MANDATE',
    "defaultUserCredit" DECIMAL(18,6) NOT NULL DEFAULT 10,
    "warningThresholdPercent" DECIMAL(18,6) NOT NULL DEFAULT 10,
    "blockOnZeroBalance" BOOLEAN NOT NULL DEFAULT true,
    "billingAddress" JSONB,
    "notifyEmails" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "notifyOnWarning" BOOLEAN NOT NULL DEFAULT true,
    "allowedProviders" JSONB,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Settings_pkey" PRIMARY KEY ("mandateId")
);

-- CreateTable
CREATE TABLE "BillingAccount" (
    "id" TEXT NOT NULL,
    "mandateId" TEXT NOT NULL,
    "userId" TEXT,
    "accountKey" TEXT NOT NULL,
    "accountType" "AccountType" NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'CHF',
    "balance" DECIMAL(18,6) NOT NULL DEFAULT 0,
    "sequence" INTEGER NOT NULL DEFAULT 0,
    "creditLimit" DECIMAL(18,6),
    "warningThreshold" DECIMAL(18,6),
    "lastTopUpBalance" DECIMAL(18,6),
    "isWarning" BOOLEAN NOT NULL DEFAULT false,
    "lastWarningAt" TIMESTAMP(3),
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BillingAccount_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Transaction" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "mandateId" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "transactionType" "TransactionType" NOT NULL,
    "amount" DECIMAL(18,6) NOT NULL,
    "delta" DECIMAL(18,6) NOT NULL,
    "balanceAfter" DECIMAL(18,6) NOT NULL,
    "description" TEXT NOT NULL,
    "referenceType" "ReferenceType",
    "referenceId" TEXT,
    "workflowId" TEXT,
    "featureInstanceId" TEXT,
    "featureCode" TEXT,
    "aicoreProvider" TEXT,
    "aicoreModel" TEXT,
    "createdByUserId" TEXT,
    "processingTime" DOUBLE PRECISION,
    "bytesSent" INTEGER,
    "bytesReceived" INTEGER,
    "errorCount" INTEGER,
    "idempotencyKey" TEXT,
    "requestHash" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Transaction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UsageAuthorization" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "mandateId" TEXT NOT NULL,
    "userId" TEXT,
    "amount" DECIMAL(18,6) NOT NULL,
    "status" "AuthorizationStatus" NOT NULL DEFAULT 'ACTIVE',
    "provider" TEXT NOT NULL,
    "model" TEXT,
    "idempotencyKey" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "transactionId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "closedAt" TIMESTAMP(3),

    CONSTRAINT "UsageAuthorization_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UsageStatistics" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "mandateId" TEXT NOT NULL,
    "periodType" "PeriodType" NOT NULL,
    "periodStart" DATE NOT NULL,
    "totalCost" DECIMAL(18,6) NOT NULL DEFAULT 0,
    "transactionCount" INTEGER NOT NULL DEFAULT 0,
    "costByProvider" JSONB NOT NULL DEFAULT '{}',
    "costByFeature" JSONB NOT NULL DEFAULT '{}',
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "UsageStatistics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Price" (
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "inputPerMillionTokensUsd" DECIMAL(18,6) NOT NULL,
    "outputPerMillionTokensUsd" DECIMAL(18,6) NOT NULL,
    "perRequestUsd" DECIMAL(18,6) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Price_pkey" PRIMARY KEY ("provider","model")
);

-- CreateTable
CREATE TABLE "StripeWebhookEvent" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "transactionId" TEXT,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StripeWebhookEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Notification" (
    "id" TEXT NOT NULL,
    "mandateId" TEXT NOT NULL,
    "kind" "NotificationKind" NOT NULL,
    "dedupeKey" TEXT NOT NULL,
    "status" "NotificationStatus" NOT NULL DEFAULT 'PENDING',
    "payload" JSONB NOT NULL DEFAULT '{}',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" TIMESTAMP(3),

    CONSTRAINT "Notification_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Mandate_stripeCustomerId_key" ON "Mandate"("stripeCustomerId");

-- CreateIndex
CREATE INDEX "BillingAccount_mandateId_accountType_idx" ON "BillingAccount"("mandateId", "accountType");

-- CreateIndex
CREATE UNIQUE INDEX "BillingAccount_mandateId_accountKey_key" ON "BillingAccount"("mandateId", "accountKey");

-- CreateIndex
CREATE INDEX "Transaction_accountId_createdAt_idx" ON "Transaction"("accountId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "Transaction_mandateId_createdAt_idx" ON "Transaction"("mandateId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "Transaction_mandateId_aicoreProvider_createdAt_idx" ON "Transaction"("mandateId", "aicoreProvider", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "Transaction_mandateId_featureCode_createdAt_idx" ON "Transaction"("mandateId", "featureCode", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "Transaction_mandateId_createdByUserId_createdAt_idx" ON "Transaction"("mandateId", "createdByUserId", "createdAt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "Transaction_accountId_sequence_key" ON "Transaction"("accountId", "sequence");

-- CreateIndex
CREATE UNIQUE INDEX "Transaction_accountId_idempotencyKey_key" ON "Transaction"("accountId", "idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "UsageAuthorization_transactionId_key" ON "UsageAuthorization"("transactionId");

-- CreateIndex
CREATE INDEX "UsageAuthorization_accountId_status_expiresAt_idx" ON "UsageAuthorization"("accountId", "status", "expiresAt");

-- CreateIndex
CREATE INDEX "UsageAuthorization_status_expiresAt_idx" ON "UsageAuthorization"("status", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "UsageAuthorization_accountId_idempotencyKey_key" ON "UsageAuthorization"("accountId", "idempotencyKey");

-- CreateIndex
CREATE INDEX "UsageStatistics_mandateId_periodType_periodStart_idx" ON "UsageStatistics"("mandateId", "periodType", "periodStart");

-- CreateIndex
CREATE UNIQUE INDEX "UsageStatistics_accountId_periodType_periodStart_key" ON "UsageStatistics"("accountId", "periodType", "periodStart");

-- CreateIndex
CREATE INDEX "Notification_status_nextAttemptAt_idx" ON "Notification"("status", "nextAttemptAt");

-- CreateIndex
CREATE UNIQUE INDEX "Notification_mandateId_kind_dedupeKey_key" ON "Notification"("mandateId", "kind", "dedupeKey");

-- AddForeignKey
ALTER TABLE "Settings" ADD CONSTRAINT "Settings_mandateId_fkey" FOREIGN KEY ("mandateId") REFERENCES "Mandate"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BillingAccount" ADD CONSTRAINT "BillingAccount_mandateId_fkey" FOREIGN KEY ("mandateId") REFERENCES "Mandate"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Transaction" ADD CONSTRAINT "Transaction_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Transaction" ADD CONSTRAINT "Transaction_mandateId_fkey" FOREIGN KEY ("mandateId") REFERENCES "Mandate"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UsageAuthorization" ADD CONSTRAINT "UsageAuthorization_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UsageAuthorization" ADD CONSTRAINT "UsageAuthorization_mandateId_fkey" FOREIGN KEY ("mandateId") REFERENCES "Mandate"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UsageAuthorization" ADD CONSTRAINT "UsageAuthorization_transactionId_fkey" FOREIGN KEY ("transactionId") REFERENCES "Transaction"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UsageStatistics" ADD CONSTRAINT "UsageStatistics_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UsageStatistics" ADD CONSTRAINT "UsageStatistics_mandateId_fkey" FOREIGN KEY ("mandateId") REFERENCES "Mandate"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_mandateId_fkey" FOREIGN KEY ("mandateId") REFERENCES "Mandate"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

