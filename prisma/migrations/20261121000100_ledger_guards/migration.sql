-- Guards the database keeps even if application code goes wrong. Prisma's
-- schema language cannot express them. They are triggers rather than CHECK
-- constraints because Prisma 6.19's wasm schema engine panics ("unreachable")
-- when `migrate diff` introspects CHECK constraints through adapter-pg.

-- The ledger is append-only: a mistake is fixed by a new ADJUSTMENT.
CREATE FUNCTION saldo_reject_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'Transaction rows are append-only (% refused)', TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER "Transaction_append_only"
  BEFORE UPDATE OR DELETE ON "Transaction"
  FOR EACH ROW EXECUTE FUNCTION saldo_reject_ledger_change();

-- amount is positive; delta carries the sign its type implies.
CREATE FUNCTION saldo_check_ledger_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."amount" <= 0 THEN
    RAISE EXCEPTION 'Transaction amount must be positive, got %', NEW."amount"
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

CREATE TRIGGER "Transaction_entry_check"
  BEFORE INSERT ON "Transaction"
  FOR EACH ROW EXECUTE FUNCTION saldo_check_ledger_entry();
