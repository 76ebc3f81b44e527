-- A mandate has many ledger entries: say so to the planner.
--
-- ANALYZE of a young ledger (one initial credit per mandate) finds every
-- "mandateId" distinct and records the column as unique (n_distinct -1).
-- From then until the next ANALYZE the planner expects one row per mandate
-- however much the ledger grows, and answers the idempotency-key lookup of
-- every money move (mandateId, idempotencyScope, idempotencyKey) from a
-- (mandateId, ...) history index, its smallest, filtering every entry of the
-- mandate instead of reading the unique key index: measured 1.3 ms per
-- lookup at 20,000 entries on one mandate (0.03 ms through the key index),
-- growing with the ledger, and a batch of 32 moves on one account took
-- 15-24 ms instead of 5 ms (bench/README.md). With a fixed ratio, about 1,000
-- entries per mandate, the key index wins at any size; the history pages
-- still read through "Transaction_mandateId_createdAt_idx".
ALTER TABLE "Transaction" ALTER COLUMN "mandateId" SET (n_distinct = -0.001);
-- The hint is used by ANALYZE: take the statistics now rather than at
-- autovacuum's next visit (PGlite has no autovacuum).
ANALYZE "Transaction";
