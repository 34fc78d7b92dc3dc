// Shared set-up of the two Node.js peers: broker and database settings from the same
// environment the coldtrace programs use (contrib/devstack env), and the peers' plain table.
'use strict';
const fs = require('fs');

function settings() {
  const pwFile = process.env.COLDTRACE_MQTT_PASSWORD_FILE;
  return {
    url: `mqtt://${process.env.COLDTRACE_MQTT_HOST || '127.0.0.1'}:${process.env.COLDTRACE_MQTT_PORT || 1883}`,
    username: process.env.COLDTRACE_MQTT_USERNAME,
    password: pwFile ? fs.readFileSync(pwFile, 'utf8').split('\n')[0] : process.env.COLDTRACE_MQTT_PASSWORD,
    topic: `${process.env.COLDTRACE_TOPIC_PREFIX || 'coldtrace/v1'}/dev/+/up`,
  };
}

// The peers write a plain table of their own: (device_id, seq) as the key, no ledger, no acks.
const createTable = `
  CREATE SCHEMA IF NOT EXISTS bench_peer;
  CREATE TABLE IF NOT EXISTS bench_peer.readings (
    device_id   text NOT NULL,
    seq         bigint NOT NULL,
    measured_at timestamptz NOT NULL,
    shipment_id text,
    t_supply    real,
    t_return    real,
    t_product   real,
    t_ambient   real,
    rh          real,
    lat         double precision,
    lon         double precision,
    speed_kmh   real,
    setpoint    real,
    door_open   boolean,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, seq)
  )`;

const COLUMNS = 'device_id, seq, measured_at, shipment_id, t_supply, t_return, t_product, ' +
  't_ambient, rh, lat, lon, speed_kmh, setpoint, door_open';
const NCOLS = 14;

// One reading of an uplink as a parameter row.
function row(device, r) {
  const t = r.temp || {};
  const p = r.pos || {};
  return [device, r.seq, r.t, r.shipment ?? null, t.supply ?? null, t.return ?? null,
    t.product ?? null, t.ambient ?? null, r.rh ?? null, p.lat ?? null, p.lon ?? null,
    p.speed_kmh ?? null, r.setpoint ?? null, r.door === undefined ? null : r.door === 'open'];
}

module.exports = { settings, createTable, COLUMNS, NCOLS, row };
