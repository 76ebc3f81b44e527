-- Money safety (issue 11): idempotency keys per mandate and kind of write,
-- zero-cost DEBITs, rollups that cannot overflow, and an account of its own
-- for UNLIMITED.

-- Keys are unique per mandate and kind of write, not per account: a retry is
-- a replay whichever account the billing model picks now, and a client key
-- can never collide with a key Saldo derives itself (Stripe, settlements).
CREATE TYPE "IdempotencyScope" AS ENUM ('CREDIT', 'ADJUSTMENT', 'USAGE', 'SETTLEMENT', 'PAYMENT', 'REFUND', 'TRANSFER');
ALTER TABLE "Transaction" ADD COLUMN "idempotencyScope" "IdempotencyScope";

-- Existing rows get their scope from what wrote them. Only the key columns
-- change (the amounts never): the append-only guard steps aside for this
-- migration alone.
ALTER TABLE "Transaction" DISABLE TRIGGER "Transaction_append_only";
-- An account's initial credit is written once, when the account opens; it needs no key.
UPDATE "Transaction" SET "idempotencyKey" = NULL, "requestHash" = NULL WHERE "idempotencyKey" = 'saldo:initial-credit';
UPDATE "Transaction" SET "idempotencyScope" = (CASE
    WHEN "idempotencyKey" LIKE 'saldo:settle:%' THEN 'SETTLEMENT'
    WHEN "referenceType" = 'PAYMENT' AND "idempotencyKey" LIKE 'stripe:refund:%' THEN 'REFUND'
    WHEN "referenceType" = 'PAYMENT' AND "idempotencyKey" LIKE 'stripe:%' THEN 'PAYMENT'
    WHEN "transactionType" = 'CREDIT' THEN 'CREDIT'
    WHEN "transactionType" = 'ADJUSTMENT' THEN 'ADJUSTMENT'
    ELSE 'USAGE' END)::"IdempotencyScope"
  WHERE "idempotencyKey" IS NOT NULL;
UPDATE "Transaction" SET "idempotencyKey" = substr("idempotencyKey", length('saldo:settle:') + 1)
  WHERE "idempotencyScope" = 'SETTLEMENT';
-- One key booked on two accounts of a mandate (the defect this fixes): the
-- first keeps the key, later ones are marked with their own id.
UPDATE "Transaction" t SET "idempotencyKey" = t."idempotencyKey" || '#' || t."id"
  FROM (SELECT "id", row_number() OVER (PARTITION BY "mandateId", "idempotencyScope", "idempotencyKey"
                                        ORDER BY "createdAt", "sequence", "id") AS n
          FROM "Transaction" WHERE "idempotencyKey" IS NOT NULL) d
  WHERE d."id" = t."id" AND d.n > 1;
ALTER TABLE "Transaction" ENABLE TRIGGER "Transaction_append_only";

DROP INDEX "Transaction_accountId_idempotencyKey_key";
CREATE UNIQUE INDEX "Transaction_mandateId_idempotencyScope_idempotencyKey_key"
  ON "Transaction"("mandateId", "idempotencyScope", "idempotencyKey");

UPDATE "UsageAuthorization" z SET "idempotencyKey" = z."idempotencyKey" || '#' || z."id"
  FROM (SELECT "id", row_number() OVER (PARTITION BY "mandateId", "idempotencyKey" ORDER BY "createdAt", "id") AS n
          FROM "UsageAuthorization") d
  WHERE d."id" = z."id" AND d.n > 1;
DROP INDEX "UsageAuthorization_accountId_idempotencyKey_key";
CREATE UNIQUE INDEX "UsageAuthorization_mandateId_idempotencyKey_key" ON "UsageAuthorization"("mandateId", "idempotencyKey");

-- A call that cost nothing is still a call: a DEBIT of amount 0 reserves its
-- key and counts in the statistics. Every other amount stays positive.
CREATE OR REPLACE FUNCTION saldo_check_ledger_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."amount" < 0 OR (NEW."amount" = 0 AND NEW."transactionType" <> 'DEBIT') THEN
    RAISE EXCEPTION 'Transaction amount must be positive (0 only for a DEBIT), got %', NEW."amount"
      USING ERRCODE = 'check_violation';
  END IF;
  IF NOT ((NEW."transactionType" = 'CREDIT' AND NEW."delta" = NEW."amount")
       OR (NEW."transactionType" = 'DEBIT' AND NEW."delta" = -NEW."amount")
       OR (NEW."transactionType" = 'ADJUSTMENT' AND abs(NEW."delta") = NEW."amount")) THEN
    RAISE EXCEPTION 'Transaction delta % does not match % of %', NEW."delta", NEW."transactionType", NEW."amount"
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;
DROP TRIGGER "Transaction_entry_check" ON "Transaction";
CREATE TRIGGER "Transaction_entry_check"
  BEFORE INSERT ON "Transaction"
  FOR EACH ROW
  WHEN (NOT coalesce((NEW."amount" > 0 OR (NEW."amount" = 0 AND NEW."transactionType" = 'DEBIT'))
    AND ((NEW."transactionType" = 'CREDIT' AND NEW."delta" = NEW."amount")
      OR (NEW."transactionType" = 'DEBIT' AND NEW."delta" = -NEW."amount")
      OR (NEW."transactionType" = 'ADJUSTMENT' AND abs(NEW."delta") = NEW."amount")), false))
  EXECUTE FUNCTION saldo_check_ledger_entry();

-- Rollups wide enough that no sequence of valid moves overflows a YEAR row
-- (each move is at most 1e9 CHF; 1e32 CHF and 9.2e18 calls are out of reach).
ALTER TABLE "UsageStatistics" ALTER COLUMN "totalCost" SET DATA TYPE DECIMAL(38,6),
  ALTER COLUMN "transactionCount" SET DATA TYPE BIGINT;

-- UNLIMITED pays from an account of its own, so switching into it never runs
-- a prepaid balance into the negative (and switching back finds it as it was).
UPDATE "BillingAccount" a SET "accountKey" = 'unlimited'
  FROM "Settings" s
  WHERE s."mandateId" = a."mandateId" AND s."billingModel" = 'UNLIMITED' AND a."accountKey" = 'mandate';
