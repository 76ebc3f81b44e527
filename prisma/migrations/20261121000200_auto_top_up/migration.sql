-- CreateEnum
CREATE TYPE "AutoTopUpStatus" AS ENUM ('PENDING', 'SUCCEEDED', 'FAILED');

-- AlterTable
ALTER TABLE "Mandate" ADD COLUMN     "stripePaymentMethodId" TEXT;

-- AlterTable
ALTER TABLE "Settings" ADD COLUMN     "autoTopUpAmount" DECIMAL(18,6),
ADD COLUMN     "autoTopUpBelow" DECIMAL(18,6),
ADD COLUMN     "autoTopUpEnabled" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "autoTopUpMonthlyCap" DECIMAL(18,6);

-- CreateTable
CREATE TABLE "AutoTopUp" (
    "id" TEXT NOT NULL,
    "mandateId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "amount" DECIMAL(18,6) NOT NULL,
    "status" "AutoTopUpStatus" NOT NULL DEFAULT 'PENDING',
    "month" DATE NOT NULL,
    "paymentMethodId" TEXT NOT NULL,
    "paymentIntentId" TEXT,
    "transactionId" TEXT,
    "failureMessage" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "closedAt" TIMESTAMP(3),

    CONSTRAINT "AutoTopUp_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "AutoTopUp_paymentIntentId_key" ON "AutoTopUp"("paymentIntentId");

-- CreateIndex
CREATE UNIQUE INDEX "AutoTopUp_transactionId_key" ON "AutoTopUp"("transactionId");

-- CreateIndex
CREATE INDEX "AutoTopUp_accountId_createdAt_idx" ON "AutoTopUp"("accountId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "AutoTopUp_mandateId_month_idx" ON "AutoTopUp"("mandateId", "month");

-- AddForeignKey
ALTER TABLE "AutoTopUp" ADD CONSTRAINT "AutoTopUp_mandateId_fkey" FOREIGN KEY ("mandateId") REFERENCES "Mandate"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AutoTopUp" ADD CONSTRAINT "AutoTopUp_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

