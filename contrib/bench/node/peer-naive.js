// The common tutorial shape of an MQTT → PostgreSQL service in Node.js: npm `mqtt` and `pg`,
// one client, one INSERT per reading, awaited in the message handler. Same table and same
// stream as peer.js. Run by contrib/bench/run.sh.
'use strict';
const mqtt = require('mqtt');
const { Client } = require('pg');
const { settings, createTable, COLUMNS, row } = require('./common');

const SQL = `INSERT INTO bench_peer.readings (${COLUMNS}) ` +
  'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING';

async function main() {
  const cfg = settings();
  const db = new Client({ application_name: 'coldtrace-bench-node-naive' });
  await db.connect();
  await db.query(createTable);

  const client = mqtt.connect(cfg.url, {
    clientId: process.env.PEER_CLIENT_ID || 'bench-node-naive',
    clean: false,
    protocolVersion: 4,
    username: cfg.username,
    password: cfg.password,
  });
  client.on('connect', () => {
    client.subscribe(cfg.topic, { qos: 1 }, (err) => {
      if (err) { console.error('peer-naive: subscribe failed:', err.message); process.exit(1); }
      console.error('peer-naive: ready');
    });
  });
  client.on('error', (err) => console.error('peer-naive: mqtt:', err.message));
  client.on('message', async (topic, payload) => {
    try {
      const m = JSON.parse(payload);
      for (const r of m.records) await db.query(SQL, row(m.device, r));
    } catch (err) {
      console.error('peer-naive:', err.message);
    }
  });

  const stop = () => { client.end(false, {}, () => db.end().then(() => process.exit(0))); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => { console.error('peer-naive:', err.message); process.exit(1); });
