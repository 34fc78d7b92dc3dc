-- Schema and ingest-function tests against a real PostgreSQL (pgTAP, run by pg_prove).
-- Everything happens in one transaction that is rolled back, so the database is unchanged.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET search_path = coldtrace, public;
SELECT plan(27);

-- Distribution rule: every primary or unique key of a per-device table holds device_id, of
-- a per-shipment table shipment_id (so Citus can distribute by them). trace_events names the
-- device of a device-born event only as provenance: it is keyed by event identity and stays
-- on the coordinator (0004_trace.sql), so it is not a per-device table.
SELECT is(
    (SELECT count(*)::int FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'coldtrace' AND (i.indisunique OR i.indisprimary)
        AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE 'readings_%'
        AND c.relname <> 'trace_events'
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                     AND a.attname = 'device_id' AND NOT a.attisdropped)
        AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                     AND a.attname = 'device_id' AND a.attnum = ANY (i.indkey))),
    0, 'every unique key of a table with device_id includes device_id');

SELECT has_table('coldtrace', 'readings', 'readings table');
SELECT is((SELECT relkind::text FROM pg_class WHERE oid = 'coldtrace.readings'::regclass), 'p',
          'readings is partitioned');
SELECT ok((SELECT count(*) FROM pg_inherits WHERE inhparent = 'coldtrace.readings'::regclass) >= 13,
          'monthly partitions exist ahead');
SELECT ok(to_regclass('coldtrace.readings_y' || to_char(now() AT TIME ZONE 'UTC', 'YYYY')
                      || 'm' || to_char(now() AT TIME ZONE 'UTC', 'MM')) IS NOT NULL,
          'partition of the current month exists');
SELECT is(ct_ensure_partitions(3, 12), 0, 'ensure_partitions is idempotent');

-- Master data for the function tests.
INSERT INTO sites (gln, name, kind) VALUES ('6970000000017', 'Guiyang PH', 'packhouse'),
                                         ('6970000000024', 'GZ DC', 'dc');
INSERT INTO devices (id, password_hash) VALUES ('dev-a', 'x'), ('dev-b', 'x');
INSERT INTO shipments (id, origin_gln, destination_gln, commodity)
     VALUES ('SHP-1', '6970000000017', '6970000000024', 'CHOY_SUM');
INSERT INTO device_assignments VALUES ('dev-a', 'SHP-1', tstzrange('2026-01-01', NULL));

SELECT throws_ok($$INSERT INTO device_assignments VALUES ('dev-a', 'SHP-1',
                   tstzrange('2026-02-01', '2026-03-01'))$$, '23P01', NULL,
                 'a device serves one shipment at a time');

CREATE TEMP TABLE ct_stage (LIKE coldtrace.stage_template INCLUDING DEFAULTS);

CREATE FUNCTION pg_temp.stage(dev text, s bigint, k smallint, d bigint, n int,
                              prod real DEFAULT 2.0, why text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO ct_stage (device_id, seq, kind, measured_at, t_product, digest, received_at,
                          stage_no, reason, topic, raw)
    VALUES (dev, s, k, now() - interval '1 hour' + s * interval '1 min', prod, d, now(), n, why,
            CASE WHEN k >= 3 THEN 'coldtrace/v1/dev/' || dev || '/up' END,
            CASE WHEN k >= 3 THEN '\x7b7d'::bytea END)
$$;

-- Batch 1: seqs 1–3 of dev-a, seq 2 twice (same digest), a dead record at seq 4.
SELECT pg_temp.stage('dev-a', 1, 1::smallint, 11, 0);
SELECT pg_temp.stage('dev-a', 2, 1::smallint, 12, 1);
SELECT pg_temp.stage('dev-a', 2, 1::smallint, 12, 2);
SELECT pg_temp.stage('dev-a', 3, 1::smallint, 13, 3);
SELECT pg_temp.stage('dev-a', 4, 3::smallint, 14, 4, 99, 'temp_out_of_range');
SELECT pg_temp.stage('ghost', 1, 1::smallint, 15, 5);
CREATE TEMP TABLE out1 AS SELECT * FROM ct_ingest_apply();

SELECT is((SELECT stage_no FROM out1 WHERE outcome = 'duplicates'), 1, 'in-batch resend counted once');
SELECT is((SELECT stage_no FROM out1 WHERE outcome = 'readings'), 3, 'three readings stored');
SELECT is((SELECT array_agg(stage_no) FROM out1 WHERE outcome = 'unknown_device'), ARRAY[5],
          'unregistered device handed back');
SELECT is((SELECT stage_no FROM out1 WHERE outcome = 'dead_letters'), 1, 'one dead letter');
SELECT is((SELECT shipment_id FROM readings WHERE device_id = 'dev-a' AND seq = 1), 'SHP-1',
          'shipment resolved from the assignment');
SELECT is((SELECT count(*)::int FROM ct_stage), 0, 'stage emptied');

SELECT ct_lock_devices(ARRAY['dev-a']);
SELECT results_eq($$SELECT device_id, acked_seq FROM ct_advance_acks(ARRAY['dev-a'])$$,
                  $$VALUES ('dev-a'::text, 4::bigint)$$,
                  'ack covers stored and dead-lettered seqs');

-- Batch 2: resend of seq 3 (same digest), conflict on seq 2, seq 6 leaves a hole at 5.
SELECT pg_temp.stage('dev-a', 3, 1::smallint, 13, 0);
SELECT pg_temp.stage('dev-a', 2, 1::smallint, 999, 1, 7.0);
SELECT pg_temp.stage('dev-a', 6, 1::smallint, 16, 2);
CREATE TEMP TABLE out2 AS SELECT * FROM ct_ingest_apply();
SELECT is((SELECT array_agg(stage_no) FROM out2 WHERE outcome = 'conflict'), ARRAY[1],
          'conflicting resend handed back');
SELECT is((SELECT stage_no FROM out2 WHERE outcome = 'not_fresh'), 2,
          'resend and conflict both found stored');
SELECT is((SELECT t_product FROM readings WHERE device_id = 'dev-a' AND seq = 2), 2.0::real,
          'the stored record is kept');
SELECT results_eq($$SELECT device_id, acked_seq FROM ct_advance_acks(ARRAY['dev-a'])$$,
                  $$VALUES ('dev-a'::text, 4::bigint)$$, 'a hole holds the ack back');
SELECT isnt((SELECT gap_since FROM device_acks WHERE device_id = 'dev-a'), NULL,
            'the hole is being timed');
SELECT results_eq($$SELECT device_id, acked_seq FROM ct_close_gaps('1 hour')$$,
                  $$SELECT NULL::text, NULL::bigint WHERE false$$, 'a young gap is left open');

UPDATE device_acks SET gap_since = now() - interval '2 hours' WHERE device_id = 'dev-a';
SELECT results_eq($$SELECT device_id, acked_seq FROM ct_close_gaps('1 hour')$$,
                  $$VALUES ('dev-a'::text, 6::bigint)$$, 'an old gap moves the ack past it');
SELECT results_eq($$SELECT from_seq, to_seq, shipment_id FROM data_gaps WHERE device_id = 'dev-a'$$,
                  $$VALUES (5::bigint, 5::bigint, 'SHP-1'::text)$$, 'the gap is recorded');

-- Dead letters are not duplicated by resends.
SELECT pg_temp.stage('dev-a', 4, 3::smallint, 14, 0, 99, 'temp_out_of_range');
CREATE TEMP TABLE out3 AS SELECT * FROM ct_ingest_apply();
SELECT is((SELECT stage_no FROM out3 WHERE outcome = 'dead_letters'), 0,
          'a resent bad record is one dead letter');
SELECT is((SELECT count(*)::int FROM dead_letters WHERE device_id = 'dev-a' AND seq = 4), 1,
          'still one dead letter row');

-- Events.
INSERT INTO ct_stage (device_id, seq, kind, measured_at, event_type, site_gln, lots, sscc,
                      digest, received_at, stage_no)
VALUES ('dev-b', 1, 2, now() - interval '1 hour', 'load', '6970000000017',
        '[{"gtin":"06970000000123","lot":"L1","qty":120,"uom":"CS"}]', ARRAY['369700000000000017'],
        21, now(), 0);
CREATE TEMP TABLE out4 AS SELECT * FROM ct_ingest_apply();
SELECT is((SELECT stage_no FROM out4 WHERE outcome = 'events'), 1, 'event stored');
SELECT is((SELECT lots->0->>'lot' FROM events WHERE device_id = 'dev-b'), 'L1', 'lots kept as JSON');

SELECT throws_ok($$INSERT INTO record_keys VALUES ('dev-a', 1, 0, 1, now())$$, '23505', NULL,
                 'a (device, seq) exists once in the ledger');

SELECT * FROM finish();
ROLLBACK;
