-- Storage that lasts: readings cross a partition boundary into the right partitions, the
-- indexes the services need exist, and a retention run drops exactly the partitions that
-- lie wholly beyond the retention period. Rolled back at the end.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET search_path = coldtrace, public;
SELECT plan(10);

-- Two readings either side of the next month boundary (UTC).
CREATE TEMP TABLE boundary AS
SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 month' AS b;
INSERT INTO readings (device_id, seq, measured_at, received_at, t_product)
SELECT 'dev-p', 1, b - interval '1 microsecond', now(), 2.0 FROM boundary
UNION ALL
SELECT 'dev-p', 2, b, now(), 2.1 FROM boundary;

SELECT is((SELECT count(DISTINCT tableoid)::int FROM readings WHERE device_id = 'dev-p'), 2,
          'the two sides of a month boundary land in two partitions');
SELECT is((SELECT tableoid::regclass::text FROM readings WHERE device_id = 'dev-p' AND seq = 2),
          'readings_y' || to_char((SELECT b FROM boundary) AT TIME ZONE 'UTC', 'YYYY') || 'm'
          || to_char((SELECT b FROM boundary) AT TIME ZONE 'UTC', 'MM'),
          'the first instant of a month belongs to that month');
SELECT is((SELECT count(*)::int FROM readings_default WHERE device_id = 'dev-p'), 0,
          'nothing falls into the default partition');

SELECT has_index('coldtrace', 'readings', 'readings_shipment_time',
                 'readings are indexed by shipment and time');
SELECT has_index('coldtrace', 'events', 'events_shipment_time',
                 'events are indexed by shipment and time');
SELECT ok(EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = 'coldtrace.record_keys'::regclass
                  AND i.indisprimary), 'the ledger has its (device, seq) key');

-- Retention: make partitions 40 months back, then keep two years.
SELECT ok(ct_ensure_partitions(40, 0) > 0, 'old partitions created for the test');
INSERT INTO readings (device_id, seq, measured_at, received_at, t_product)
VALUES ('dev-old', 1, now() - interval '38 months', now(), 1.0),
       ('dev-old', 2, now() - interval '13 months', now(), 1.0);
CREATE TEMP TABLE dropped AS SELECT * FROM ct_apply_retention(interval '2 years');
SELECT ok((SELECT count(*) FROM dropped) >= 14, 'retention drops the partitions older than two years');
SELECT is((SELECT count(*)::int FROM readings WHERE device_id = 'dev-old'), 1,
          'the reading inside the retention period survives, the older one is gone');
SELECT is((SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'coldtrace.readings'::regclass
              AND c.relname IN (SELECT * FROM dropped)), 0,
          'dropped partitions are gone from the table');

SELECT * FROM finish();
ROLLBACK;
