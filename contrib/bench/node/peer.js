// Node.js peer of coldtrace-ingest, written as an integrator would: npm `mqtt` and `pg`,
// a persistent MQTT session, readings buffered and written 1000 per multi-row parameterised
// INSERT … ON CONFLICT DO NOTHING into a plain table, one INSERT in flight at a time.
// It publishes no acks (the benchmark counts its rows instead). Run by contrib/bench/run.sh.
'use strict';
const mqtt = require('mqtt');
const { Client } = require('pg');
const { settings, createTable, COLUMNS, NCOLS, row } = require('./common');

const BATCH = 1000;
const FLUSH_MS = 100;

function insertSql(n) {
  const tuples = [];
  for (let i = 0; i < n; i++) {
    const ph = [];
    for (let j = 1; j <= NCOLS; j++) ph.push('$' + (i * NCOLS + j));
    tuples.push('(' + ph.join(',') + ')');
  }
  return `INSERT INTO bench_peer.readings (${COLUMNS}) VALUES ${tuples.join(',')} ON CONFLICT DO NOTHING`;
}

async function main() {
  const cfg = settings();
  const db = new Client({ application_name: 'coldtrace-bench-node-peer' });
  await db.connect();
  await db.query(createTable);

  const fullSql = insertSql(BATCH);
  let buffer = [];
  let flushing = false;

  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      while (buffer.length > 0) {
        const rows = buffer.length > BATCH ? buffer.splice(0, BATCH) : buffer.splice(0);
        await db.query(rows.length === BATCH ? fullSql : insertSql(rows.length), rows.flat());
      }
    } catch (err) {
      console.error('peer: insert failed:', err.message);
      process.exit(1);
    } finally {
      flushing = false;
    }
  }

  const client = mqtt.connect(cfg.url, {
    clientId: process.env.PEER_CLIENT_ID || 'bench-node-peer',
    clean: false,
    protocolVersion: 4,
    username: cfg.username,
    password: cfg.password,
  });
  client.on('connect', () => {
    client.subscribe(cfg.topic, { qos: 1 }, (err) => {
      if (err) { console.error('peer: subscribe failed:', err.message); process.exit(1); }
      console.error('peer: ready');
    });
  });
  client.on('error', (err) => console.error('peer: mqtt:', err.message));
  client.on('message', (topic, payload) => {
    let m;
    try { m = JSON.parse(payload); } catch { return; }
    if (!m || !Array.isArray(m.records)) return;
    for (const r of m.records) buffer.push(row(m.device, r));
    if (buffer.length >= BATCH) flush();
  });
  setInterval(() => { if (buffer.length) flush(); }, FLUSH_MS);

  const stop = () => { client.end(false, {}, () => db.end().then(() => process.exit(0))); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => { console.error('peer:', err.message); process.exit(1); });
