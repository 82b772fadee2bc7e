-- 0002: monthly partitions, made ahead of time. The archive calls leadpoet_ensure_partitions(now(), 2)
-- when it connects and when the month changes; any instance may call it at any time (idempotent,
-- serialised by an advisory lock). A table that is not declaratively partitioned (a TimescaleDB
-- hypertable) is left alone.
CREATE FUNCTION leadpoet_ensure_partitions(at timestamptz, months_ahead integer)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  t text;
  m integer;
  lo timestamptz;
  part text;
  made integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('leadpoet.ensure_partitions'));
  FOREACH t IN ARRAY ARRAY['answers', 'answer_leads', 'outcomes'] LOOP
    IF (SELECT relkind FROM pg_class WHERE oid = to_regclass(quote_ident(t))) IS DISTINCT FROM 'p' THEN
      CONTINUE;
    END IF;
    FOR m IN 0 .. months_ahead LOOP
      lo := (date_trunc('month', at AT TIME ZONE 'UTC') + make_interval(months => m)) AT TIME ZONE 'UTC';
      part := t || '_' || to_char(lo AT TIME ZONE 'UTC', 'YYYY"m"MM');
      CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
      BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, t, lo, lo + interval '1 month');
        made := made + 1;
      EXCEPTION WHEN check_violation THEN
        -- The default partition already holds rows of that month: they stay there (still queried
        -- through the parent); the month simply gets no partition of its own.
        RAISE NOTICE 'partition % not made: the default partition holds rows of that month', part;
      END;
    END LOOP;
  END LOOP;
  RETURN made;
END
$fn$;

SELECT leadpoet_ensure_partitions(now(), 2);
