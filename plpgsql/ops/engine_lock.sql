-- ops.take_engine_lock: serialise the warehouse engine. Keeps the concurrency rule of design.md:
-- several sink tasks insert into landing at once; the apply step of each batch runs under one
-- transaction-scoped advisory lock, so batches never interleave versions and cannot deadlock.
-- After the lock is granted, the next statement's snapshot sees every batch committed before.
CREATE OR REPLACE FUNCTION ops.take_engine_lock()
RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('whctl.engine'));
$$;
