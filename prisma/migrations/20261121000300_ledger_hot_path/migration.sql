-- Less work per ledger entry, on the path every debit takes while it holds
-- its account's lock (bench/README.md, "npm run bench:ledger").

-- No query needs these: the transaction list filtered by provider or feature
-- reads the mandate's rows newest first through
-- "Transaction_mandateId_createdAt_idx" and filters them (as it counts them),
-- and spending per provider and feature comes from the "UsageStatistics"
-- rollups, never from the ledger. Each cost an index entry per transaction.
DROP INDEX "Transaction_mandateId_aicoreProvider_createdAt_idx";
DROP INDEX "Transaction_mandateId_featureCode_createdAt_idx";

-- The entry check runs its function only for a row that breaks the rule
-- (which then raises the same error as before): a valid row costs a WHEN
-- expression instead of a PL/pgSQL call. amount, delta and transactionType
-- are NOT NULL; coalesce keeps a NULL from ever skipping the check.
DROP TRIGGER "Transaction_entry_check" ON "Transaction";
CREATE TRIGGER "Transaction_entry_check"
  BEFORE INSERT ON "Transaction"
  FOR EACH ROW
  WHEN (NOT coalesce(NEW."amount" > 0
    AND ((NEW."transactionType" = 'CREDIT' AND NEW."delta" = NEW."amount")
      OR (NEW."transactionType" = 'DEBIT' AND NEW."delta" = -NEW."amount")
      OR (NEW."transactionType" = 'ADJUSTMENT' AND abs(NEW."delta") = NEW."amount")), false))
  EXECUTE FUNCTION saldo_check_ledger_entry();
