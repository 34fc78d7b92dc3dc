-- Schema v1: master data, devices and shipments, readings and events, the per-device ledger of
-- handled records, ack watermarks, data gaps and dead letters.
--
-- Distribution rule (so the schema can later be sharded by Citus): every primary and unique
-- key of a per-device table holds device_id, of a per-shipment table shipment_id. Master data
-- (organisations, sites, vehicles) is small and would become reference tables.

CREATE SCHEMA IF NOT EXISTS coldtrace;
SET search_path = coldtrace, public;

CREATE TABLE organisations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    kind        text NOT NULL DEFAULT 'shipper'
                CHECK (kind IN ('grower', 'shipper', 'carrier', 'retailer', 'buyer', 'other')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    gln         text PRIMARY KEY CHECK (gln ~ '^[0-9]{13}$'),
    org_id      bigint REFERENCES organisations (id),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('farm', 'packhouse', 'dc', 'store')),
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    radius_m    integer NOT NULL DEFAULT 500 CHECK (radius_m > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vehicles (
    id          text PRIMARY KEY,
    org_id      bigint REFERENCES organisations (id),
    -- Pseudonymous label for buyer-facing output; plates and drivers stay internal.
    label       text NOT NULL,
    plate       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._-]{1,64}$'),
    -- mosquitto_passwd format ($7$ = PBKDF2-SHA512), so the broker file is generated as is.
    password_hash   text NOT NULL,
    vehicle_id      text REFERENCES vehicles (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Accounts of our own services on the broker (the ingest, alert publishers, benchmarks).
CREATE TABLE broker_accounts (
    username        text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9._-]{1,64}$'),
    password_hash   text NOT NULL,
    role            text NOT NULL CHECK (role IN ('ingest', 'service', 'fleet')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shipments (
    id                  text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    origin_gln          text NOT NULL REFERENCES sites (gln),
    destination_gln     text NOT NULL REFERENCES sites (gln),
    commodity           text NOT NULL,
    planned_departure   timestamptz,
    planned_arrival     timestamptz,
    actual_departure    timestamptz,
    actual_arrival      timestamptz,
    status              text NOT NULL DEFAULT 'planned'
                        CHECK (status IN ('planned', 'in_transit', 'delivered', 'cancelled')),
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Which shipment a device reports for, over time. A device serves one shipment at a time.
CREATE TABLE device_assignments (
    device_id   text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    shipment_id text NOT NULL REFERENCES shipments (id),
    during      tstzrange NOT NULL CHECK (NOT isempty(during)),
    PRIMARY KEY (device_id, shipment_id, during),
    EXCLUDE USING gist (device_id WITH =, during WITH &&)
);

-- The ledger: one row per (device, seq) ever stored, with the digest of its canonical
-- content. It makes resends idempotent across partitions and tells a same-content resend
-- from a conflicting one without reading the readings back.
CREATE TABLE record_keys (
    device_id   text NOT NULL,
    seq         bigint NOT NULL CHECK (seq >= 1),
    digest      bigint NOT NULL,
    kind        smallint NOT NULL,
    measured_at timestamptz NOT NULL,
    PRIMARY KEY (device_id, seq)
);

CREATE TABLE readings (
    device_id   text NOT NULL,
    seq         bigint NOT NULL,
    measured_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    shipment_id text,
    t_supply    real,
    t_return    real,
    t_product   real,
    t_ambient   real,
    t_probes    real[],           -- p1…p16, NULL where absent
    rh          real,
    lat         double precision,
    lon         double precision,
    alt_m       real,
    speed_kmh   real,
    heading_deg real,
    setpoint    real,
    door_open   boolean,
    PRIMARY KEY (device_id, seq, measured_at)
) PARTITION BY RANGE (measured_at);

CREATE TABLE readings_default PARTITION OF readings DEFAULT;

CREATE INDEX readings_shipment_time ON readings (shipment_id, measured_at);

CREATE TABLE events (
    device_id   text NOT NULL,
    seq         bigint NOT NULL,
    measured_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    shipment_id text,
    type        text NOT NULL CHECK (type IN ('door_open', 'door_close', 'reefer_alarm',
                'power_loss', 'power_restored', 'defrost_start', 'defrost_end', 'load', 'unload')),
    alarm_code  text,
    alarm_text  text,
    site_gln    text,
    lots        jsonb,
    sscc        text[],
    PRIMARY KEY (device_id, seq)
);

CREATE INDEX events_shipment_time ON events (shipment_id, measured_at);

-- Per-device ack watermark: every record with seq <= acked_seq is durably handled.
-- gap_since: when records above acked_seq were first seen with a hole below them.
CREATE TABLE device_acks (
    device_id   text PRIMARY KEY,
    acked_seq   bigint NOT NULL DEFAULT 0,
    gap_since   timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE data_gaps (
    device_id       text NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    kind            text NOT NULL DEFAULT 'seq' CHECK (kind IN ('seq', 'time')),
    shipment_id     text,
    from_seq        bigint,
    to_seq          bigint,
    from_time       timestamptz,
    to_time         timestamptz,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id)
);

CREATE INDEX data_gaps_shipment ON data_gaps (shipment_id);

CREATE TABLE dead_letters (
    device_id   text NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    seq         bigint,
    digest      bigint NOT NULL,
    received_at timestamptz NOT NULL,
    topic       text NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    -- 'message': payload is the whole uplink as received; 'record': the failing record's JSON.
    scope       text NOT NULL CHECK (scope IN ('message', 'record')),
    payload     bytea NOT NULL,
    resolved_at timestamptz,
    resolution  text,
    PRIMARY KEY (device_id, id)
);

-- A resend of the same bad record is one dead letter, not one per resend.
CREATE UNIQUE INDEX dead_letters_once ON dead_letters (device_id, coalesce(seq, 0), digest);
CREATE INDEX dead_letters_seq ON dead_letters (device_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX dead_letters_open ON dead_letters (received_at) WHERE resolved_at IS NULL;
