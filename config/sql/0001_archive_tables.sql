-- 0001: the archive's tables (docs/adr/0011-postgres-archive.md). Applied by `leadpoet migrate` inside one
-- transaction, which also records the version in schema_version.
--
-- Every table is partitioned by month on ts. The partition key must be part of every unique key, so each
-- primary key ends with ts, and ts is fixed when the row is made (the answer's time, the outcome's event
-- time): a retried batch carries the same ts and ON CONFLICT DO NOTHING skips it.
-- With the TimescaleDB extension installed the same tables become hypertables (one-month chunks) instead
-- of declaratively partitioned tables; 0002's partition function then leaves them alone.
DO $migration$
DECLARE
  hyper boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
  tables text[][] := ARRAY[
    ['answers',
     'query_id text NOT NULL, ts timestamptz NOT NULL, prompt text NOT NULL, icp jsonb, model text NOT NULL, '
     'variant text NOT NULL DEFAULT '''', cost_usd double precision NOT NULL, k integer NOT NULL, '
     'PRIMARY KEY (query_id, ts)'],
    ['answer_leads',
     'query_id text NOT NULL, ts timestamptz NOT NULL, rank integer NOT NULL, domain text NOT NULL, '
     'score double precision NOT NULL, signals jsonb, PRIMARY KEY (query_id, rank, ts)'],
    ['outcomes',
     'id text NOT NULL, ts timestamptz NOT NULL, domain text NOT NULL, event text NOT NULL, query_id text, '
     'product text, value_usd double precision, PRIMARY KEY (id, ts)']];
  i int;
BEGIN
  FOR i IN 1 .. array_length(tables, 1) LOOP
    IF hyper THEN
      EXECUTE format('CREATE TABLE %I (%s)', tables[i][1], tables[i][2]);
      EXECUTE format('SELECT create_hypertable(%L, %L, chunk_time_interval => interval %L)',
                     tables[i][1], 'ts', '1 month');
    ELSE
      EXECUTE format('CREATE TABLE %I (%s) PARTITION BY RANGE (ts)', tables[i][1], tables[i][2]);
      -- Rows outside every monthly partition (an outcome of long ago) land here rather than fail.
      EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tables[i][1] || '_default', tables[i][1]);
    END IF;
  END LOOP;
END
$migration$;

-- What analysts join on: the leads of an answer by query_id, outcomes by lead and by the answer that
-- delivered them.
CREATE INDEX answer_leads_domain ON answer_leads (domain);
CREATE INDEX outcomes_query_id ON outcomes (query_id, domain) WHERE query_id IS NOT NULL;
CREATE INDEX outcomes_domain ON outcomes (domain, ts);
