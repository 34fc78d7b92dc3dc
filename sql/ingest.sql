-- Ingest functions: re-runnable (CREATE OR REPLACE), applied after the migrations.
--
-- DESIGN. The ingest COPYs each batch in binary into a per-connection temporary table
-- ct_stage (shaped like coldtrace.stage_template) and calls ct_ingest_apply() in the same
-- transaction. Rows with kind 1 (reading) or 2 (event) are candidates for storage; kind 3 and 4
-- rows are dead letters (of a record, of a whole message) the ingest already decided on, carrying the raw payload. The ledger
-- record_keys makes every (device, seq) stored at most once; a candidate whose key exists
-- with the same digest is a resend and is ignored, one with another digest is a conflicting
-- duplicate and is handed back to the ingest, which dead-letters it with its raw message.
-- ct_advance_acks() then moves each device's watermark over the contiguous run of handled
-- seqs (stored or dead-lettered). The ingest locks the device_acks rows of its batch first
-- (ct_lock_devices), so two workers committing records of one device serialise there and
-- the second one sees the first one's records when it computes the watermark.

SET search_path = coldtrace, public;

DROP TABLE IF EXISTS stage_template;
CREATE TABLE stage_template (
    device_id   text NOT NULL,
    seq         bigint,
    kind        smallint NOT NULL,      -- 1 reading, 2 event, 3 dead record, 4 dead message
    measured_at timestamptz,
    shipment_id text,
    t_supply    real,
    t_return    real,
    t_product   real,
    t_ambient   real,
    t_probes    real[],
    rh          real,
    lat         double precision,
    lon         double precision,
    alt_m       real,
    speed_kmh   real,
    heading_deg real,
    setpoint    real,
    door_open   boolean,
    event_type  text,
    alarm_code  text,
    alarm_text  text,
    site_gln    text,
    lots        jsonb,
    sscc        text[],
    digest      bigint NOT NULL,
    received_at timestamptz NOT NULL,
    stage_no    integer NOT NULL,
    reason      text,
    detail      text,
    topic       text,
    raw         bytea,
    fresh       boolean NOT NULL DEFAULT false
);

-- Locks (creating when missing) the ack rows of the batch's devices, in key order so two
-- workers never deadlock.
CREATE OR REPLACE FUNCTION ct_lock_devices(devices text[]) RETURNS void
LANGUAGE sql SET search_path = coldtrace, pg_temp AS $$
    INSERT INTO device_acks (device_id)
        SELECT d FROM unnest(devices) AS d ORDER BY d ON CONFLICT DO NOTHING;
    SELECT 1 FROM device_acks WHERE device_id = ANY (devices) ORDER BY device_id FOR UPDATE;
$$;

-- The same lock, returning what the ingest needs to move most acks without asking again:
-- each device's watermark and whether handled records sit above it (gap_since is set exactly
-- when they do; ct_advance_acks keeps it so).
CREATE OR REPLACE FUNCTION ct_lock_acks(devices text[])
RETURNS TABLE (device_id text, acked_seq bigint, gap_open boolean)
LANGUAGE sql SET search_path = coldtrace, pg_temp AS $$
    INSERT INTO device_acks (device_id)
        SELECT d FROM unnest(devices) AS d ORDER BY d ON CONFLICT DO NOTHING;
    SELECT a.device_id, a.acked_seq, a.gap_since IS NOT NULL FROM device_acks a
     WHERE a.device_id = ANY (devices) ORDER BY a.device_id FOR UPDATE;
$$;

-- Ends a batch's ack work under the locks of ct_lock_acks: devices in `fast` get the ack the
-- ingest computed (their batch held every seq from just above the ack up to it, and nothing
-- handled lay above the ack before), the others go through ct_advance_acks, whose rows are
-- returned.
CREATE OR REPLACE FUNCTION ct_finish_acks(fast text[], acks bigint[], slow text[])
RETURNS TABLE (device_id text, acked_seq bigint)
LANGUAGE plpgsql SET search_path = coldtrace, pg_temp AS $$
BEGIN
    IF cardinality(fast) > 0 THEN
        UPDATE device_acks a SET acked_seq = v.ack, updated_at = now()
          FROM unnest(fast, acks) AS v(d, ack)
         WHERE a.device_id = v.d AND v.ack > a.acked_seq;
    END IF;
    IF cardinality(slow) > 0 THEN
        RETURN QUERY SELECT x.device_id, x.acked_seq FROM ct_advance_acks(slow) x;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION ct_ingest_apply()
RETURNS TABLE (stage_no integer, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    ne bigint;
    total bigint;
    all_fresh boolean;
BEGIN
    -- Records of devices nobody registered: handed back to be dead-lettered. Checked per
    -- distinct device of the batch (hundreds), not per row (thousands).
    RETURN QUERY
        DELETE FROM ct_stage s
         WHERE s.kind < 3
           AND s.device_id IN (SELECT x.d FROM (SELECT DISTINCT c.device_id AS d FROM ct_stage c
                                                  WHERE c.kind < 3) x
                                WHERE NOT EXISTS (SELECT 1 FROM coldtrace.devices v WHERE v.id = x.d))
        RETURNING s.stage_no, 'unknown_device'::text;

    -- The same seq twice in one batch is rare (a resend racing its original): look first,
    -- then keep the first copy and hand back other contents as conflicts.
    n := 0;
    IF EXISTS (SELECT 1 FROM ct_stage c WHERE c.kind < 3
                GROUP BY c.device_id, c.seq HAVING count(*) > 1) THEN
        DELETE FROM ct_stage a USING ct_stage b
         WHERE a.kind < 3 AND b.kind < 3 AND a.device_id = b.device_id AND a.seq = b.seq
           AND a.digest = b.digest AND a.stage_no > b.stage_no;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN QUERY
            DELETE FROM ct_stage a USING ct_stage b
             WHERE a.kind < 3 AND b.kind < 3 AND a.device_id = b.device_id AND a.seq = b.seq
               AND a.stage_no > b.stage_no
            RETURNING a.stage_no, 'conflict_batch'::text;
    END IF;
    RETURN QUERY SELECT n::integer, 'duplicates'::text;

    -- Into the ledger. In the common batch every key is new: the count says so, and then
    -- the stage needs no marking and no look-up of stored keys. Only when some key was there
    -- already are the fresh rows marked (the one-time filter skips that join otherwise) and
    -- the stored ones sorted into resends and conflicts.
    SELECT count(*) INTO total FROM ct_stage s WHERE s.kind < 3;
    WITH ins AS (
        INSERT INTO coldtrace.record_keys (device_id, seq, digest, kind, measured_at)
        SELECT s.device_id, s.seq, s.digest, s.kind, s.measured_at
          FROM ct_stage s WHERE s.kind < 3
        ON CONFLICT DO NOTHING
        RETURNING device_id, seq),
    mark AS (
        UPDATE ct_stage s SET fresh = true
          FROM ins
         WHERE (SELECT count(*) FROM ins) < total
           AND s.kind < 3 AND s.device_id = ins.device_id AND s.seq = ins.seq)
    SELECT count(*) INTO n FROM ins;
    all_fresh := n = total;

    IF NOT all_fresh THEN
        RETURN QUERY
            SELECT s.stage_no, 'conflict'::text
              FROM ct_stage s JOIN coldtrace.record_keys k
                   ON k.device_id = s.device_id AND k.seq = s.seq
             WHERE s.kind < 3 AND NOT s.fresh AND k.digest <> s.digest;
    END IF;
    RETURN QUERY SELECT (total - n)::integer, 'not_fresh'::text;

    -- Readings and events in one statement, so that the monitor's queue is upserted once, in
    -- shipment order: two ingest connections (lanes or workers) whose batches share shipments
    -- then lock those queue rows in the same order and cannot deadlock. (Two statements, one
    -- for readings and one for events, would each be ordered but not the pair.)
    WITH ins_r AS (
    INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id,
            t_supply, t_return, t_product, t_ambient, t_probes, rh, lat, lon, alt_m,
            speed_kmh, heading_deg, setpoint, door_open)
    SELECT s.device_id, s.seq, s.measured_at, s.received_at,
           coalesce(s.shipment_id, (SELECT a.shipment_id FROM coldtrace.device_assignments a
                                     WHERE a.device_id = s.device_id
                                       AND a.during @> s.measured_at)),
           s.t_supply, s.t_return, s.t_product, s.t_ambient, s.t_probes, s.rh, s.lat, s.lon,
           s.alt_m, s.speed_kmh, s.heading_deg, s.setpoint, s.door_open
      FROM ct_stage s WHERE s.kind = 1 AND (all_fresh OR s.fresh)
    RETURNING shipment_id),
    ins_e AS (
    INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type,
            alarm_code, alarm_text, site_gln, lots, sscc)
    SELECT s.device_id, s.seq, s.measured_at, s.received_at,
           coalesce(s.shipment_id, (SELECT a.shipment_id FROM coldtrace.device_assignments a
                                     WHERE a.device_id = s.device_id
                                       AND a.during @> s.measured_at)),
           s.event_type, s.alarm_code, s.alarm_text, s.site_gln, s.lots, s.sscc
      FROM ct_stage s WHERE s.kind = 2 AND (all_fresh OR s.fresh)
    RETURNING shipment_id),
    queued AS (
        -- The monitor re-evaluates every shipment that got new data.
        INSERT INTO coldtrace.eval_queue (shipment_id)
        SELECT DISTINCT x.shipment_id
          FROM (SELECT ins_r.shipment_id FROM ins_r UNION ALL
                SELECT ins_e.shipment_id FROM ins_e) x
         WHERE x.shipment_id IS NOT NULL
         ORDER BY 1 -- one lock order for every connection: no deadlock
        ON CONFLICT (shipment_id) DO UPDATE SET queued_at = now())
    SELECT (SELECT count(*) FROM ins_r), (SELECT count(*) FROM ins_e) INTO n, ne;
    RETURN QUERY SELECT n::integer, 'readings'::text;
    RETURN QUERY SELECT ne::integer, 'events'::text;

    INSERT INTO coldtrace.dead_letters (device_id, seq, digest, received_at, topic, reason,
            detail, scope, payload)
    SELECT s.device_id, s.seq, s.digest, s.received_at, s.topic, s.reason,
           coalesce(s.detail, ''), CASE s.kind WHEN 4 THEN 'message' ELSE 'record' END, s.raw
      FROM ct_stage s WHERE s.kind >= 3
    ON CONFLICT (device_id, (coalesce(seq, 0)), digest) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN QUERY SELECT n::integer, 'dead_letters'::text;

    DELETE FROM ct_stage;
END;
$$;

-- Moves the watermark of each given device over the contiguous run of handled seqs above it.
-- Returns the current ack of every given device, moved or not: a device whose batch held only
-- resends must hear its ack again, or it would resend forever. gap_since records since when a device has had
-- handled records above a hole in its seqs; ct_close_gaps acts on it.
CREATE OR REPLACE FUNCTION ct_advance_acks(devices text[])
RETURNS TABLE (device_id text, acked_seq bigint)
LANGUAGE sql SET search_path = coldtrace, pg_temp AS $$
    WITH cand AS (
        SELECT k.device_id, k.seq FROM device_acks a
          JOIN record_keys k ON k.device_id = a.device_id AND k.seq > a.acked_seq
         WHERE a.device_id = ANY (devices)
        UNION
        SELECT d.device_id, d.seq FROM device_acks a
          JOIN dead_letters d ON d.device_id = a.device_id AND d.seq > a.acked_seq
         WHERE a.device_id = ANY (devices)
    ), numbered AS (
        SELECT c.device_id, c.seq,
               c.seq - row_number() OVER (PARTITION BY c.device_id ORDER BY c.seq) AS base
          FROM cand c
    ), runs AS (
        SELECT n.device_id, max(n.seq) FILTER (WHERE n.base = a.acked_seq) AS new_ack,
               max(n.seq) AS top
          FROM numbered n JOIN device_acks a ON a.device_id = n.device_id
         GROUP BY n.device_id
    ), upd AS (
        UPDATE device_acks a
           SET acked_seq = coalesce(r.new_ack, a.acked_seq),
               gap_since = CASE
                   WHEN r.top <= coalesce(r.new_ack, a.acked_seq) THEN NULL
                   WHEN r.new_ack IS NOT NULL THEN now()
                   ELSE coalesce(a.gap_since, now()) END,
               updated_at = now()
          FROM runs r
         WHERE a.device_id = r.device_id
        RETURNING a.device_id, a.acked_seq)
    SELECT upd.device_id, upd.acked_seq FROM upd
    UNION ALL
    SELECT a.device_id, a.acked_seq FROM device_acks a
     WHERE a.device_id = ANY (devices) AND a.device_id NOT IN (SELECT device_id FROM runs);
$$;

-- Records every gap that has stayed open longer than `timeout` as a data gap of its device
-- and shipment, moves the ack past it, and returns the devices whose ack moved.
CREATE OR REPLACE FUNCTION ct_close_gaps(timeout interval)
RETURNS TABLE (device_id text, acked_seq bigint)
LANGUAGE plpgsql SET search_path = coldtrace, pg_temp AS $$
DECLARE
    r record;
    next_seq bigint;
    next_time timestamptz;
    prev_time timestamptz;
    ship text;
    moved text[] := '{}';
BEGIN
    FOR r IN SELECT a.device_id, a.acked_seq FROM device_acks a
              WHERE a.gap_since < now() - timeout
              ORDER BY a.device_id FOR UPDATE SKIP LOCKED LOOP
        SELECT min(x.seq) INTO next_seq FROM (
            SELECT min(k.seq) AS seq FROM record_keys k
             WHERE k.device_id = r.device_id AND k.seq > r.acked_seq
            UNION ALL
            SELECT min(d.seq) FROM dead_letters d
             WHERE d.device_id = r.device_id AND d.seq > r.acked_seq) x;
        IF next_seq IS NULL THEN
            UPDATE device_acks a SET gap_since = NULL WHERE a.device_id = r.device_id;
            CONTINUE;
        END IF;
        SELECT k.measured_at INTO next_time FROM record_keys k
         WHERE k.device_id = r.device_id AND k.seq = next_seq;
        SELECT k.measured_at INTO prev_time FROM record_keys k
         WHERE k.device_id = r.device_id AND k.seq <= r.acked_seq
         ORDER BY k.seq DESC LIMIT 1;
        SELECT s.shipment_id INTO ship FROM (
            SELECT rd.shipment_id FROM readings rd
             WHERE rd.device_id = r.device_id AND rd.seq = next_seq
            UNION ALL
            SELECT e.shipment_id FROM events e
             WHERE e.device_id = r.device_id AND e.seq = next_seq) s
         WHERE s.shipment_id IS NOT NULL LIMIT 1;
        INSERT INTO data_gaps (device_id, kind, shipment_id, from_seq, to_seq, from_time,
                               to_time)
        VALUES (r.device_id, 'seq', ship, r.acked_seq + 1, next_seq - 1, prev_time,
                next_time);
        UPDATE device_acks a SET acked_seq = next_seq - 1, gap_since = NULL
         WHERE a.device_id = r.device_id;
        moved := moved || r.device_id;
    END LOOP;
    -- The ack now sits just below a handled record: carry it over the run that follows.
    PERFORM ct_advance_acks(moved);
    RETURN QUERY SELECT a.device_id, a.acked_seq FROM device_acks a
                  WHERE a.device_id = ANY (moved);
END;
$$;

-- Monthly partitions of readings from `months_back` before now to `months_ahead` after.
CREATE OR REPLACE FUNCTION ct_ensure_partitions(months_back integer, months_ahead integer)
RETURNS integer
LANGUAGE plpgsql SET search_path = coldtrace, pg_temp AS $$
DECLARE
    m date;
    made integer := 0;
    name text;
BEGIN
    FOR i IN -months_back .. months_ahead LOOP
        m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
        name := format('readings_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
        IF to_regclass('coldtrace.' || name) IS NULL THEN
            EXECUTE format('CREATE TABLE coldtrace.%I PARTITION OF coldtrace.readings '
                           'FOR VALUES FROM (%L) TO (%L)', name,
                           (m::timestamp AT TIME ZONE 'UTC'),
                           ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END;
$$;

SELECT ct_ensure_partitions(3, 12);

-- Retention: drops (or, with archive_schema set, detaches and moves) every readings partition
-- whose whole range ends before now() - keep. Two years by default: the FSMA 204
-- record-keeping period. Returns the partitions it handled.
CREATE OR REPLACE FUNCTION ct_apply_retention(keep interval DEFAULT interval '2 years',
                                              archive_schema text DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql SET search_path = coldtrace, pg_temp AS $$
DECLARE
    p record;
BEGIN
    FOR p IN
        SELECT c.relname,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'coldtrace.readings'::regclass
           AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
    LOOP
        CONTINUE WHEN p.upper_bound > now() - keep;
        IF archive_schema IS NULL THEN
            EXECUTE format('DROP TABLE coldtrace.%I', p.relname);
        ELSE
            EXECUTE format('ALTER TABLE coldtrace.readings DETACH PARTITION coldtrace.%I', p.relname);
            EXECUTE format('ALTER TABLE coldtrace.%I SET SCHEMA %I', p.relname, archive_schema);
        END IF;
        RETURN NEXT p.relname;
    END LOOP;
END;
$$;
