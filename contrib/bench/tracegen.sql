-- tracegen.sql: a generated trace store for the trace benchmark (contrib/bench/trace.sh),
-- set-based (generate_series), into an empty coldtrace schema. psql variables:
--   nh  harvest lots (default 240000); the other counts follow from it:
--   lots   = nh harvest + nh packed + 2·nh split + chains·chain_len chained ≈ 4·nh + 40000
--   events ≈ 8.7·nh in the supply chain, topped up with OBSERVE events on random lots to
--            :events (default 10000000) in all.
-- Shapes (times advance along the chain, so pallet events follow their aggregation):
--   harvest   ObjectEvent ADD commissioning at one of 200 farms (lot master data: farm,
--             field, harvest time), then cooling (storing + coolingMethod) at a packhouse
--   packing   TransformationEvent H_i → P_i; every 10th also takes H_(i-1) (a merge)
--   pallets   AggregationEvent ADD, 4 packed lots per SSCC
--   trucks    device load/unload events (shipment_id, SSCCs), 2 pallets per shipment
--   split     TransformationEvent P_i → S_(2i-1), S_(2i) at one of 10 DCs
--   stores    shipping + receiving per split lot, DC → one of 500 stores
--   chains    800 chains of 50 repacks starting from S_(100c): long histories
--   observe   the rest: OBSERVE storing/inspecting events on random lots
\set ON_ERROR_STOP 1
SET search_path = coldtrace, public;
\if :{?nh}
\else
\set nh 240000
\endif
\if :{?events}
\else
\set events 10000000
\endif
\set chains 800
\set chain_len 50

SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';

-- Secondary indexes are dropped during the load and rebuilt after it (faster than
-- maintaining them row by row); their definitions are kept here.
CREATE TEMP TABLE saved_indexes AS
SELECT indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'coldtrace' AND tablename IN ('trace_events', 'trace_items', 'lots')
   AND indexname NOT IN ('trace_events_pkey', 'trace_items_pkey', 'lots_pkey',
                         'trace_events_event_key_key');
SELECT format('DROP INDEX coldtrace.%I', indexname) FROM saved_indexes \gexec
ALTER TABLE trace_events DROP CONSTRAINT IF EXISTS trace_events_event_key_key;

INSERT INTO organisations (name, kind) VALUES ('bench grower', 'grower'), ('bench retailer', 'retailer')
ON CONFLICT DO NOTHING;
-- Sites: 200 farms (69700001xxxxC), 20 packhouses, 10 DCs, 500 stores; check digits computed.
CREATE TEMP TABLE bsite AS
SELECT kind, n, body || (10 - (SELECT sum(substr(body, 12 - k, 1)::int * CASE WHEN k % 2 = 0 THEN 3 ELSE 1 END)
                               FROM generate_series(0, 11) k) % 10) % 10 AS gln
  FROM (SELECT kind, n, prefix || lpad(n::text, 5, '0') AS body
          FROM (VALUES ('farm', '6970001', 200), ('packhouse', '6970002', 20),
                       ('dc', '6970003', 10), ('store', '6970004', 500)) v(kind, prefix, cnt),
               generate_series(1, cnt) n) s;
INSERT INTO sites (gln, name, kind, org_id)
SELECT gln, kind || ' ' || n, kind,
       (SELECT id FROM organisations WHERE name = CASE WHEN kind = 'store' THEN 'bench retailer' ELSE 'bench grower' END)
  FROM bsite ON CONFLICT DO NOTHING;
CREATE TEMP TABLE farm AS SELECT n - 1 AS slot, gln FROM bsite WHERE kind = 'farm';
CREATE TEMP TABLE ph AS SELECT n - 1 AS slot, gln FROM bsite WHERE kind = 'packhouse';
CREATE TEMP TABLE dc AS SELECT n - 1 AS slot, gln FROM bsite WHERE kind = 'dc';
CREATE TEMP TABLE store AS SELECT n - 1 AS slot, gln FROM bsite WHERE kind = 'store';
INSERT INTO products (gtin, description, commodity) VALUES
    ('09521234000013', 'bench bulk', 'CHOY_SUM'), ('19521234000027', 'bench case', 'CHOY_SUM'),
    ('19521234000034', 'bench pack', 'CHOY_SUM'), ('19521234000041', 'bench repack', 'CHOY_SUM')
ON CONFLICT DO NOTHING;

-- Event id blocks.
\set b_cool :nh
SELECT :nh * 2 AS b_pack, :nh * 3 AS b_split, :nh * 4 AS b_chain,
       :nh * 4 + :chains * :chain_len AS b_agg,
       :nh * 4 + :chains * :chain_len + :nh / 4 AS b_truck,
       :nh * 4 + :chains * :chain_len + :nh / 4 + :nh / 4 AS b_store,
       :nh * 4 + :chains * :chain_len + :nh / 4 + :nh / 4 + :nh * 4 AS b_obs \gset
\echo blocks: pack :b_pack split :b_split chain :b_chain agg :b_agg truck :b_truck store :b_store observe :b_obs

\timing on
-- Lots (master data).
INSERT INTO lots (gtin, lot, farm_gln, field, harvest_start, quantity, uom)
SELECT '09521234000013', 'H' || i, f.gln, 'F' || (i % 7), timestamptz '2024-01-01 00:00Z' + i * interval '2 min', 800, 'KGM'
  FROM generate_series(1, :nh) i JOIN farm f ON f.slot = i % 200;
INSERT INTO lots (gtin, lot, farm_gln, harvest_start, quantity, uom)
SELECT '19521234000027', 'P' || i, f.gln, timestamptz '2024-01-01 00:00Z' + i * interval '2 min', 120, 'CS'
  FROM generate_series(1, :nh) i JOIN farm f ON f.slot = i % 200;
INSERT INTO lots (gtin, lot, quantity, uom)
SELECT '19521234000034', 'S' || i, 60, 'CS' FROM generate_series(1, 2 * :nh) i;
INSERT INTO lots (gtin, lot, quantity, uom)
SELECT '19521234000041', 'C' || c || '-' || k, 10, 'CS'
  FROM generate_series(1, :chains) c, generate_series(1, :chain_len) k;

-- Shipments of the trucks (packhouse → DC), for the device events' shipment_id.
INSERT INTO shipments (id, origin_gln, destination_gln, commodity)
SELECT 'BENCH-' || j, p.gln, d.gln, 'CHOY_SUM'
  FROM generate_series(1, :nh / 8) j JOIN ph p ON p.slot = j % 20 JOIN dc d ON d.slot = j % 10;

-- Events. t(i): the harvest time of chain i.
INSERT INTO trace_events (id, event_key, origin, type, action, biz_step, disposition, event_time,
                          tz_offset, site_gln, extra_xml, document)
OVERRIDING SYSTEM VALUE
SELECT i, 'bench:h:' || i, 'epcis', 'ObjectEvent', 'ADD', 'commissioning', 'active',
       timestamptz '2024-01-01 00:00Z' + i * interval '2 min', '+08:00', f.gln,
       '<ilmd><cbvmda:harvestStartDate xmlns:cbvmda="urn:epcglobal:cbv:mda">x</cbvmda:harvestStartDate></ilmd>', 'bench'
  FROM generate_series(1, :nh) i JOIN farm f ON f.slot = i % 200
UNION ALL
SELECT :b_cool + i, 'bench:c:' || i, 'epcis', 'ObjectEvent', 'OBSERVE', 'storing', 'in_progress',
       timestamptz '2024-01-01 01:00Z' + i * interval '2 min', '+08:00', p.gln,
       '<ct:coolingMethod xmlns:ct="urn:coldtrace:epcis">forced_air</ct:coolingMethod>', 'bench'
  FROM generate_series(1, :nh) i JOIN ph p ON p.slot = i % 20
UNION ALL
SELECT :b_pack + i, 'bench:p:' || i, 'epcis', 'TransformationEvent', NULL, 'commissioning', 'active',
       timestamptz '2024-01-01 03:00Z' + i * interval '2 min', '+08:00', p.gln, NULL, 'bench'
  FROM generate_series(1, :nh) i JOIN ph p ON p.slot = i % 20
UNION ALL
SELECT :b_split + i, 'bench:s:' || i, 'epcis', 'TransformationEvent', NULL, 'repackaging', 'active',
       timestamptz '2024-01-01 14:00Z' + i * interval '2 min', '+08:00', d.gln, NULL, 'bench'
  FROM generate_series(1, :nh) i JOIN dc d ON d.slot = i % 10
UNION ALL
SELECT :b_chain + (c - 1) * :chain_len + k, 'bench:r:' || c || ':' || k, 'epcis', 'TransformationEvent',
       NULL, 'repackaging', 'active',
       timestamptz '2024-01-01 20:00Z' + (100 * c) * interval '1 min' + k * interval '1 hour',
       '+08:00', d.gln, NULL, 'bench'
  FROM generate_series(1, :chains) c CROSS JOIN generate_series(1, :chain_len) k JOIN dc d ON d.slot = k % 10
UNION ALL
SELECT :b_agg + j, 'bench:a:' || j, 'epcis', 'AggregationEvent', 'ADD', 'packing', 'in_progress',
       timestamptz '2024-01-01 04:00Z' + 4 * j * interval '2 min', '+08:00', p.gln, NULL, 'bench'
  FROM generate_series(1, :nh / 4) j JOIN ph p ON p.slot = j % 20
UNION ALL
SELECT :b_truck + 2 * j - 1 + x, 'bench:t:' || j || ':' || x, 'device', 'ObjectEvent', 'OBSERVE',
       CASE x WHEN 0 THEN 'shipping' ELSE 'receiving' END,
       CASE x WHEN 0 THEN 'in_transit' ELSE 'in_progress' END,
       timestamptz '2024-01-01 05:00Z' + 8 * j * interval '2 min' + x * interval '8 hours', '+00:00',
       CASE x WHEN 0 THEN NULL ELSE s.destination_gln END, NULL, 'device'
  FROM generate_series(1, :nh / 8) j CROSS JOIN generate_series(0, 1) x
  JOIN shipments s ON s.id = 'BENCH-' || j
UNION ALL
SELECT :b_store + 2 * i - 1 + x, 'bench:d:' || i || ':' || x, 'epcis', 'ObjectEvent', 'OBSERVE',
       CASE x WHEN 0 THEN 'shipping' ELSE 'receiving' END,
       CASE x WHEN 0 THEN 'in_transit' ELSE 'in_progress' END,
       timestamptz '2024-01-01 16:00Z' + i * interval '1 min' + x * interval '4 hours', '+08:00',
       CASE x WHEN 0 THEN NULL ELSE st.gln END, NULL, 'bench'
  FROM generate_series(1, 2 * :nh) i CROSS JOIN generate_series(0, 1) x
  JOIN store st ON st.slot = i % 500;
-- Device events: shipment, device and source/destination columns.
UPDATE trace_events e SET shipment_id = 'BENCH-' || ((e.id - :b_truck + 1) / 2),
       device_id = 'bench-dev-' || ((e.id - :b_truck + 1) / 2), device_seq = 2 - (e.id - :b_truck) % 2,
       src_gln = s.origin_gln, dest_gln = s.destination_gln
  FROM shipments s
 WHERE e.id > :b_truck AND e.id <= :b_store AND s.id = 'BENCH-' || ((e.id - :b_truck + 1) / 2);
UPDATE trace_events e SET src_gln = d.gln, dest_gln = st.gln
  FROM dc d, store st
 WHERE e.id > :b_store AND e.id <= :b_obs
   AND d.slot = ((e.id - :b_store + 1) / 2) % 10 AND st.slot = ((e.id - :b_store + 1) / 2) % 500;

-- Items.
INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom, sscc)
SELECT i, 1, 'what', '09521234000013', 'H' || i, 800, 'KGM', NULL FROM generate_series(1, :nh) i
UNION ALL
SELECT :b_cool + i, 1, 'what', '09521234000013', 'H' || i, 800, 'KGM', NULL FROM generate_series(1, :nh) i
UNION ALL
SELECT :b_pack + i, 1, 'input', '09521234000013', 'H' || i, 600, 'KGM', NULL FROM generate_series(1, :nh) i
UNION ALL
SELECT :b_pack + i, 2, 'input', '09521234000013', 'H' || (i - 1), 200, 'KGM', NULL
  FROM generate_series(2, :nh) i WHERE i % 10 = 0
UNION ALL
SELECT :b_pack + i, 3, 'output', '19521234000027', 'P' || i, 120, 'CS', NULL FROM generate_series(1, :nh) i
UNION ALL
SELECT :b_split + i, 1, 'input', '19521234000027', 'P' || i, 120, 'CS', NULL FROM generate_series(1, :nh) i
UNION ALL
SELECT :b_split + i, 1 + x, 'output', '19521234000034', 'S' || (2 * i - 2 + x), 60, 'CS', NULL
  FROM generate_series(1, :nh) i CROSS JOIN generate_series(1, 2) x
UNION ALL
SELECT :b_chain + (c - 1) * :chain_len + k, 1, 'input',
       CASE k WHEN 1 THEN '19521234000034' ELSE '19521234000041' END,
       CASE k WHEN 1 THEN 'S' || (100 * c) ELSE 'C' || c || '-' || (k - 1) END, 10, 'CS', NULL
  FROM generate_series(1, :chains) c, generate_series(1, :chain_len) k
UNION ALL
SELECT :b_chain + (c - 1) * :chain_len + k, 2, 'output', '19521234000041', 'C' || c || '-' || k, 10, 'CS', NULL
  FROM generate_series(1, :chains) c, generate_series(1, :chain_len) k
UNION ALL
SELECT :b_agg + j, x, 'child', '19521234000027', 'P' || (4 * j - 4 + x), 120, 'CS', NULL
  FROM generate_series(1, :nh / 4) j CROSS JOIN generate_series(1, 4) x
UNION ALL
SELECT :b_truck + 2 * j - 1 + y, x, 'what', NULL, NULL, NULL, NULL, lpad((2 * j - 2 + x)::text, 18, '0')
  FROM generate_series(1, :nh / 8) j CROSS JOIN generate_series(1, 2) x CROSS JOIN generate_series(0, 1) y
UNION ALL
SELECT :b_store + 2 * i - 1 + x, 1, 'what', '19521234000034', 'S' || i, 60, 'CS', NULL
  FROM generate_series(1, 2 * :nh) i CROSS JOIN generate_series(0, 1) x;
UPDATE trace_events SET parent_epc = lpad((id - :b_agg)::text, 18, '0'),
       parent_sscc = lpad((id - :b_agg)::text, 18, '0')
 WHERE id > :b_agg AND id <= :b_truck;

-- Observations on random lots (uniform over the lot kinds by index) up to :events.
INSERT INTO trace_events (id, event_key, origin, type, action, biz_step, disposition, event_time,
                          tz_offset, site_gln, document)
OVERRIDING SYSTEM VALUE
SELECT :b_obs + n, 'bench:o:' || n, 'epcis', 'ObjectEvent', 'OBSERVE',
       CASE n % 3 WHEN 0 THEN 'inspecting' ELSE 'storing' END, 'sellable_accessible',
       timestamptz '2024-01-02 00:00Z' + n * interval '3 s', '+08:00', st.gln, 'bench'
  FROM generate_series(1, :events - :b_obs) n JOIN store st ON st.slot = n % 500;
INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom)
SELECT :b_obs + n, 1, 'what', '19521234000034', 'S' || (1 + (hashint4(n) & 2147483647) % (2 * :nh)), 1, 'CS'
  FROM generate_series(1, :events - :b_obs) n;

SELECT setval(pg_get_serial_sequence('coldtrace.trace_events', 'id'), :events);
ALTER TABLE trace_events ADD CONSTRAINT trace_events_event_key_key UNIQUE (event_key);
SELECT indexdef FROM saved_indexes \gexec
ANALYZE lots;
ANALYZE trace_events;
ANALYZE trace_items;
