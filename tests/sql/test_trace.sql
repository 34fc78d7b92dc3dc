-- Trace and recall (sql/trace.sql) on a built scenario: harvest → cooling → packing at a
-- packhouse (one pack merges two farms' harvests), pallets, a truck with device load/unload
-- events (the trigger makes them trace events), a split and a merge at the DC, a second truck
-- listing lots; then backward, forward and recall results checked exactly (lots, sites,
-- quantities), idempotent recorders, a cycle in bad data that ends, unknown lots. Rolled back.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET search_path = coldtrace, public;
SELECT plan(34);

INSERT INTO organisations (name, kind) VALUES ('T Grower', 'grower'), ('T Mart', 'retailer');
INSERT INTO sites (gln, name, kind, org_id) VALUES
    ('6970000000109', 'Farm 1', 'farm', (SELECT id FROM organisations WHERE name = 'T Grower')),
    ('6970000000208', 'Farm 2', 'farm', NULL),
    ('6970000000307', 'Packhouse', 'packhouse', NULL),
    ('6970000000406', 'DC', 'dc', NULL),
    ('6970000000505', 'Store', 'store', (SELECT id FROM organisations WHERE name = 'T Mart'));
INSERT INTO registrations VALUES ('6970000000109', 'gba_supply_base', 'GBA-1');
INSERT INTO certifications (site_gln, scheme, number, valid_to) VALUES ('6970000000109', '圳品', 'SZP-1', '2026-12-31');
INSERT INTO products (gtin, description) VALUES ('09521234000013', 'bulk'), ('19521234000027', 'case'),
                                               ('19521234000034', 'small');

CREATE TEMP TABLE r (step text, doc jsonb);
INSERT INTO r SELECT 'h1', ct_record_harvest('09521234000013', 'H1', '6970000000109', 'F03',
                                             '2024-05-01T06:30:00+08:00', '+08:00', 820, 'KGM');
INSERT INTO r SELECT 'h2', ct_record_harvest('09521234000013', 'H2', '6970000000109', 'F04',
                                             '2024-05-02T06:00:00+08:00', '+08:00', 500, 'KGM');
INSERT INTO r SELECT 'h3', ct_record_harvest('09521234000013', 'H3', '6970000000208', 'A1',
                                             '2024-05-01T07:00:00+08:00', '+08:00', 300, 'KGM');
INSERT INTO r SELECT 'cool', ct_record_cooling('09521234000013', 'H1', '6970000000307',
                                               '2024-05-01T07:40:00+08:00', '+08:00', 'forced_air');
INSERT INTO r SELECT 'gz1', ct_record_transformation('pack',
    '[{"gtin": "09521234000013", "lot": "H1", "quantity": 620, "uom": "KGM"}]',
    '[{"gtin": "19521234000027", "lot": "GZ1", "quantity": 120, "uom": "CS"}]',
    '6970000000307', '2024-05-01T10:20:00+08:00', '+08:00', '2024-05-08');
INSERT INTO r SELECT 'gz2', ct_record_transformation('pack',
    '[{"gtin": "09521234000013", "lot": "H2", "quantity": 500}, {"gtin": "09521234000013", "lot": "H3", "quantity": 300}]',
    '[{"gtin": "19521234000027", "lot": "GZ2", "quantity": 160, "uom": "CS"}]',
    '6970000000307', '2024-05-02T10:00:00+08:00', '+08:00');
INSERT INTO r SELECT 'p1', ct_record_aggregation('095212340000000013',
    '[{"gtin": "19521234000027", "lot": "GZ1", "quantity": 120, "uom": "CS"}]',
    '6970000000307', '2024-05-02T10:50:00+08:00', '+08:00');
INSERT INTO r SELECT 'p2', ct_record_aggregation('095212340000000020',
    '[{"gtin": "19521234000027", "lot": "GZ2", "quantity": 160, "uom": "CS"}]',
    '6970000000307', '2024-05-02T10:55:00+08:00', '+08:00');
INSERT INTO shipments (id, origin_gln, destination_gln, commodity) VALUES
    ('T-A', '6970000000307', '6970000000406', 'CHOY_SUM'),
    ('T-B', '6970000000406', '6970000000505', 'CHOY_SUM');
INSERT INTO events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, sscc) VALUES
    ('t-dev-a', 1, '2024-05-02T12:00:00+08:00', now(), 'T-A', 'load', '6970000000307', '{095212340000000013,095212340000000020}'),
    ('t-dev-a', 2, '2024-05-02T20:00:00+08:00', now(), 'T-A', 'unload', '6970000000406', '{095212340000000013,095212340000000020}');
INSERT INTO r SELECT 'split', ct_record_transformation('split',
    '[{"gtin": "19521234000027", "lot": "GZ1", "quantity": 120, "uom": "CS"}]',
    '[{"gtin": "19521234000034", "lot": "GZ1A", "quantity": 60, "uom": "CS"}, {"gtin": "19521234000034", "lot": "GZ1B", "quantity": 60, "uom": "CS"}]',
    '6970000000406', '2024-05-03T08:00:00+08:00', '+08:00');
INSERT INTO r SELECT 'merge', ct_record_transformation('merge',
    '[{"gtin": "19521234000034", "lot": "GZ1B", "quantity": 60, "uom": "CS"}, {"gtin": "19521234000027", "lot": "GZ2", "quantity": 40, "uom": "CS"}]',
    '[{"gtin": "19521234000034", "lot": "MIX1", "quantity": 100, "uom": "CS"}]',
    '6970000000406', '2024-05-03T09:00:00+08:00', '+08:00');
INSERT INTO events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, lots) VALUES
    ('t-dev-b', 1, '2024-05-03T10:00:00+08:00', now(), 'T-B', 'load', '6970000000406',
     '[{"gtin": "19521234000034", "lot": "GZ1A", "qty": 60, "uom": "CS"}, {"gtin": "19521234000034", "lot": "MIX1", "qty": 100, "uom": "CS"}]'),
    ('t-dev-b', 2, '2024-05-03T14:00:00+08:00', now(), 'T-B', 'unload', '6970000000505',
     '[{"gtin": "19521234000034", "lot": "GZ1A", "qty": 60, "uom": "CS"}, {"gtin": "19521234000034", "lot": "MIX1", "qty": 100, "uom": "CS"}]');

-- Recorders.
SELECT is((SELECT count(*)::int FROM r WHERE doc->>'created' = 'true'), 10, 'every recorder created its event');
SELECT is((SELECT count(*)::int FROM trace_events WHERE origin = 'cli' AND event_key LIKE 'urn:coldtrace:cli:%'), 10,
          'CLI events have origin cli and a urn:coldtrace:cli: key');
SELECT is(ct_record_harvest('09521234000013', 'H1', '6970000000109', 'F03', '2024-05-01T06:30:00+08:00', '+08:00', 820, 'KGM')->>'created',
          'false', 'the same harvest again is recognised, not recorded');
SELECT is(ct_record_harvest('09521234000013', 'H1', '6970000000109', 'F03', '2024-05-01T06:30:00+08:00', '+08:00', 821, 'KGM')->>'code',
          'conflict', 'another harvest of an existing lot is a conflict');
SELECT is(ct_record_harvest('09521234000013', 'HX', '6970000000307', 'F', now(), '+00:00', 1, 'KGM')->>'code',
          'invalid', 'a harvest at a packhouse is refused');
SELECT is(ct_record_cooling('09521234000013', 'NOPE', '6970000000307', now(), '+00:00', 'ice')->>'code',
          'not_found', 'cooling an unknown lot: not_found');
SELECT is(ct_record_transformation('split', '[{"gtin": "19521234000027", "lot": "GZ1"}]',
                                   '[{"gtin": "19521234000034", "lot": "MIX1"}]', '6970000000406', now(), '+00:00')->>'code',
          'conflict', 'a transformation into an existing lot: conflict');
SELECT is((SELECT count(*)::int FROM trace_events WHERE origin = 'device'), 4, 'the trigger made 4 device trace events');
SELECT results_eq($$SELECT farm_gln, field, harvest_start, best_before FROM lots WHERE lot = 'GZ1'$$,
                  $$VALUES ('6970000000109'::text, 'F03'::text, '2024-05-01T06:30:00+08:00'::timestamptz, '2024-05-08'::date)$$,
                  'a packed lot inherits farm, field and harvest time from its single-farm input');
SELECT is((SELECT farm_gln FROM lots WHERE lot = 'GZ2'), NULL, 'a pack of two farms names none');

-- Walks.
SELECT results_eq($$SELECT lot, depth FROM ct_trace_lots('19521234000034', 'MIX1', 'backward') ORDER BY depth, gtin, lot$$,
                  $$VALUES ('MIX1', 0), ('GZ2', 1), ('GZ1B', 1), ('H2', 2), ('H3', 2), ('GZ1', 2), ('H1', 3)$$,
                  'backward through a merge and a split, each lot once at its smallest depth');
SELECT results_eq($$SELECT lot, depth FROM ct_trace_lots('09521234000013', 'H1', 'forward') ORDER BY depth, lot$$,
                  $$VALUES ('H1', 0), ('GZ1', 1), ('GZ1A', 2), ('GZ1B', 2), ('MIX1', 3)$$,
                  'forward through packing, split and merge');
SELECT throws_ok($$SELECT * FROM ct_trace_lots('09521234000013', 'H1', 'sideways')$$, '22023', NULL,
                 'an unknown direction is refused');
SELECT is((SELECT count(*)::int FROM ct_lot_event_ids('19521234000027', 'GZ1')), 5,
          'GZ1 has 5 events: packing, pallet, load and unload of its pallet, split');
SELECT results_eq($$SELECT e.biz_step, i.sscc, i.quantity FROM ct_lot_items(ARRAY['19521234000027'], ARRAY['GZ1']) i
                     JOIN trace_events e ON e.id = i.event_id WHERE e.origin = 'device' ORDER BY e.event_time$$,
                  $$VALUES ('shipping'::text, '095212340000000013'::text, 120::numeric), ('receiving', '095212340000000013', 120)$$,
                  'a lot travels on its pallet, with the quantity put on it');

-- ct_trace.
CREATE TEMP TABLE t AS SELECT ct_trace('09521234000013', 'H1') AS d;
SELECT is((SELECT d->'lot'->>'farm_gln' FROM t), '6970000000109', 'trace: the lot with its farm');
SELECT is((SELECT jsonb_agg(e->>'cte' ORDER BY e->>'time') FROM t, jsonb_array_elements(d->'backward'->'lots'->0->'events') e),
          '["harvesting", "cooling", "initial_packing"]', 'trace: harvest, cooling and packing of H1');
SELECT is((SELECT d->'backward'->'farms'->0->'registrations' FROM t), '[{"id": "GBA-1", "scheme": "gba_supply_base"}]',
          'trace: the farm''s registration');
SELECT is((SELECT d->'backward'->'farms'->0->'certifications'->0->>'number' FROM t), 'SZP-1', 'trace: the farm''s certification');
SELECT results_eq($$SELECT s->>'shipment_id', s->>'from_gln', s->>'to_gln', s->>'shipped_at', s->>'received_at', s->'lots'
                      FROM t, jsonb_array_elements(d->'forward'->'shipments') s$$,
                  $$VALUES ('T-A', '6970000000307', '6970000000406', '2024-05-02T04:00:00Z', '2024-05-02T12:00:00Z',
                            '[{"gtin": "19521234000027", "lot": "GZ1", "uom": "CS", "quantity": 120}]'::jsonb),
                           ('T-B', '6970000000406', '6970000000505', '2024-05-03T02:00:00Z', '2024-05-03T06:00:00Z',
                            '[{"gtin": "19521234000034", "lot": "GZ1A", "uom": "CS", "quantity": 60}, {"gtin": "19521234000034", "lot": "MIX1", "uom": "CS", "quantity": 100}]')$$,
                  'trace forward: both shipments with lots and quantities (pallets and device lists)');
SELECT results_eq($$SELECT r->>'gln', x->>'lot', (x->>'quantity')::numeric, x->>'received_at', x->>'status', r->>'organisation'
                      FROM t, jsonb_array_elements(d->'forward'->'receivers') r, jsonb_array_elements(r->'lots') x$$,
                  $$VALUES ('6970000000406', 'GZ1', 120::numeric, '2024-05-02T12:00:00Z', 'received', NULL::text),
                           ('6970000000505', 'GZ1A', 60, '2024-05-03T06:00:00Z', 'received', 'T Mart'),
                           ('6970000000505', 'MIX1', 100, '2024-05-03T06:00:00Z', 'received', 'T Mart')$$,
                  'trace forward: receivers with quantities and times');
SELECT is((SELECT jsonb_agg(s->>'gln') FROM t, jsonb_array_elements(d->'forward'->'sites') s),
          '["6970000000109", "6970000000307", "6970000000406", "6970000000505"]', 'trace forward: sites in order');
SELECT is(ct_trace('19521234000034', 'NOPE'), NULL, 'trace of an unknown lot is NULL');

-- Recall.
SELECT is((SELECT jsonb_agg(l->>'lot') FROM jsonb_array_elements(ct_recall_farm('6970000000109', '2024-05-01', '2024-05-01')->'implicated') l),
          '["H1"]', 'farm recall: the harvest days are local (06:30+08:00 is 1 May)');
SELECT is(ct_recall_farm('6970000000109', '2024-05-01', '2024-05-02')->'summary',
          '{"lots": 7, "receivers": 2, "shipments": 2, "implicated": 2, "quantity_by_uom": {"CS": 440}}',
          'farm recall over two days: 7 lots, 2 receivers, 440 CS');
SELECT results_eq($$SELECT r->>'gln', x->>'lot', (x->>'quantity')::numeric
                      FROM jsonb_array_elements(ct_recall_farm('6970000000109', '2024-05-01', '2024-05-02')->'receivers') r,
                           jsonb_array_elements(r->'lots') x$$,
                  $$VALUES ('6970000000406', 'GZ1', 120::numeric), ('6970000000406', 'GZ2', 160),
                           ('6970000000505', 'GZ1A', 60), ('6970000000505', 'MIX1', 100)$$,
                  'farm recall: every receiving site with lots and quantities');
SELECT is(ct_recall_farm('6970000000208', '2023-01-01', '2023-01-02')->'summary'->'lots', '0', 'a recall of nothing is empty');
SELECT is((SELECT jsonb_agg(l->>'lot') FROM jsonb_array_elements(ct_recall_lot('19521234000034', 'GZ1A', false)->'lots') l),
          '["GZ1A"]', 'lot recall: the lot and what was made of it');
SELECT is((SELECT jsonb_agg(l->>'lot' ORDER BY l->>'lot') FROM jsonb_array_elements(ct_recall_lot('19521234000034', 'GZ1A', true)->'lots') l),
          '["GZ1", "GZ1A", "GZ1B", "H1", "MIX1"]', 'lot recall from sources: the siblings too');
SELECT is(ct_recall_lot('19521234000034', 'NOPE', false), NULL, 'recall of an unknown lot is NULL');

-- A cycle in bad data (X → Y → X) ends, each lot once.
INSERT INTO trace_events (event_key, origin, type, event_time, tz_offset) VALUES
    ('t:cyc1', 'epcis', 'TransformationEvent', now(), '+00:00'), ('t:cyc2', 'epcis', 'TransformationEvent', now(), '+00:00');
INSERT INTO trace_items (event_id, ord, role, gtin, lot)
SELECT id, 1, 'input', '19521234000034', CASE event_key WHEN 't:cyc1' THEN 'X' ELSE 'Y' END FROM trace_events WHERE event_key LIKE 't:cyc%'
UNION ALL
SELECT id, 2, 'output', '19521234000034', CASE event_key WHEN 't:cyc1' THEN 'Y' ELSE 'X' END FROM trace_events WHERE event_key LIKE 't:cyc%';
SELECT results_eq($$SELECT lot, depth FROM ct_trace_lots('19521234000034', 'X', 'forward') ORDER BY depth$$,
                  $$VALUES ('X', 0), ('Y', 1)$$, 'a forward cycle ends, each lot once');
SELECT results_eq($$SELECT lot, depth FROM ct_trace_lots('19521234000034', 'X', 'backward') ORDER BY depth$$,
                  $$VALUES ('X', 0), ('Y', 1)$$, 'a backward cycle ends too');
SELECT ok(ct_trace('19521234000034', 'X') IS NOT NULL, 'a lot only events know is traced');
SELECT is((SELECT count(*)::int FROM ct_trace_lots('19521234000034', 'NOPE', 'forward')), 1,
          'an unknown lot walks to itself only');

SELECT * FROM finish();
ROLLBACK;
