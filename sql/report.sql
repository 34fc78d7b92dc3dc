-- Buyer reports (re-runnable): everything the HTML and CSV reports draw, as one JSON value,
-- buyer-safe by construction.
--
--   ct_report_data(gtin, lot, shipment) → jsonb, NULL when the scope is not found
--
-- Give (gtin, lot) for a lot's report, or shipment for a shipment's. The same JSON backs the
-- HTTP API's provenance page, so it holds no personal data: no device ids, plates, drivers or
-- staff names; vehicles appear by their pseudonymous label, QA actors by ct_pseudonym('QA', …),
-- sites by name and GLN (business locations, no phone numbers). Times are RFC 3339 UTC
-- strings. Readings are not in it: the renderers fetch each leg's series themselves
-- (ct_report_readings), decimated to what a chart can show.
SET search_path = coldtrace, public;
-- Files are applied in name order and this one uses trace.sql's functions: their bodies are
-- checked when called, not here (each file runs in its own transaction, so LOCAL suffices).
SET LOCAL check_function_bodies = off;

CREATE OR REPLACE FUNCTION ct_report_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- A business location (FSMA "location description" without the phone number).
CREATE OR REPLACE FUNCTION ct_report_site(p_gln text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_gln IS NULL THEN NULL ELSE coalesce(
        (SELECT jsonb_build_object('gln', s.gln, 'name', s.name, 'kind', s.kind,
                    'organisation', o.name, 'address', s.address, 'city', s.city,
                    'region', s.region, 'country', s.country, 'lat', s.lat, 'lon', s.lon)
           FROM coldtrace.sites s LEFT JOIN coldtrace.organisations o ON o.id = s.org_id
          WHERE s.gln = p_gln),
        jsonb_build_object('gln', p_gln)) END
$$;

-- The FSMA 204 critical tracking event an event records, or NULL when it is none
-- (aggregation, sensor reports, put-away). CBV has no harvesting or cooling bizStep: a
-- commissioning ObjectEvent that adds a lot is its harvest, a storing observation of a lot
-- that was later an input of a transformation (a raw commodity) its cooling; a transformation
-- of lots that were harvested is the initial packing, any other the FSMA transformation.
CREATE OR REPLACE FUNCTION ct_report_cte(p_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN e.type = 'TransformationEvent' OR EXISTS (
                 SELECT 1 FROM coldtrace.trace_items i
                  WHERE i.event_id = e.id AND i.role IN ('input', 'output')) THEN
            CASE WHEN NOT EXISTS (
                     SELECT 1 FROM coldtrace.trace_items i
                      WHERE i.event_id = e.id AND i.role = 'input' AND i.gtin IS NOT NULL
                        AND NOT EXISTS (
                            SELECT 1 FROM coldtrace.trace_items h
                              JOIN coldtrace.trace_events he ON he.id = h.event_id
                             WHERE h.gtin = i.gtin AND h.lot = i.lot AND h.role = 'what'
                               AND he.type = 'ObjectEvent' AND he.action = 'ADD'
                               AND he.biz_step = 'commissioning'))
                  AND EXISTS (SELECT 1 FROM coldtrace.trace_items i
                               WHERE i.event_id = e.id AND i.role = 'input')
                 THEN 'initial_packing' ELSE 'transformation' END
        WHEN e.type = 'ObjectEvent' AND e.action = 'ADD' AND e.biz_step = 'commissioning'
            THEN 'harvesting'
        WHEN e.biz_step LIKE '%cooling%' THEN 'cooling'
        WHEN e.type = 'ObjectEvent' AND e.biz_step = 'storing' AND EXISTS (
                 SELECT 1 FROM coldtrace.trace_items w
                   JOIN coldtrace.trace_items inp ON inp.gtin = w.gtin AND inp.lot = w.lot
                                                 AND inp.role = 'input'
                  WHERE w.event_id = e.id AND w.role = 'what') THEN 'cooling'
        WHEN e.biz_step = 'shipping' THEN 'shipping'
        WHEN e.biz_step = 'receiving' THEN 'receiving'
    END
      FROM coldtrace.trace_events e WHERE e.id = p_id
$$;

-- One leg's readings for the charts: time (µs since the epoch), the probes, position. One
-- ordered query; the caller decimates.
-- Dropped first: its result columns changed once (lat/lon to real), which REPLACE refuses.
DROP FUNCTION IF EXISTS ct_report_readings(text, timestamptz, timestamptz);
CREATE FUNCTION ct_report_readings(p_shipment text, p_from timestamptz,
                                              p_to timestamptz)
RETURNS TABLE (t_us bigint, t_product real, t_supply real, t_return real, t_ambient real,
               t_probes real[], lat real, lon real)
-- Kept inlinable (one SELECT, no SET clause): inlined, it streams from an index scan per
-- partition merged in time order; a non-inlined set-returning function would first store
-- all rows in a tuplestore.
LANGUAGE sql STABLE AS $$
    -- date_part is double precision (extract() is numeric, slower by a third here); µs
    -- survive it for 285 years around 1970. Positions as real: 7 digits, about a metre.
    SELECT (date_part('epoch', r.measured_at) * 1000000)::bigint, r.t_product, r.t_supply,
           r.t_return, r.t_ambient, r.t_probes, r.lat::real, r.lon::real
      FROM coldtrace.readings r
     WHERE r.shipment_id = p_shipment
       AND (p_from IS NULL OR r.measured_at >= p_from)
       AND (p_to IS NULL OR r.measured_at <= p_to)
     ORDER BY r.measured_at, r.device_id, r.seq
$$;

CREATE OR REPLACE FUNCTION ct_report_data(p_gtin text, p_lot text, p_shipment text)
RETURNS jsonb
LANGUAGE sql STABLE
-- Many small subqueries add up to a cost that would start JIT compilation: seconds of
-- compiling for a millisecond query.
SET jit = off
AS $$
    WITH RECURSIVE
    found AS (
        SELECT CASE WHEN p_shipment IS NOT NULL THEN
                    EXISTS (SELECT 1 FROM coldtrace.shipments WHERE id = p_shipment)
               ELSE p_gtin IS NOT NULL AND p_lot IS NOT NULL AND (
                    EXISTS (SELECT 1 FROM coldtrace.lots WHERE gtin = p_gtin AND lot = p_lot)
                    OR EXISTS (SELECT 1 FROM coldtrace.trace_items
                                WHERE gtin = p_gtin AND lot = p_lot)) END AS ok
    ),
    scope_lots AS (
        SELECT p_gtin AS gtin, p_lot AS lot WHERE p_shipment IS NULL
        UNION
        SELECT i.gtin, i.lot
          FROM coldtrace.trace_events e JOIN coldtrace.trace_items i ON i.event_id = e.id
         WHERE p_shipment IS NOT NULL AND e.shipment_id = p_shipment AND i.gtin IS NOT NULL
    ),
    -- The lots of the scope and every lot they were made from, each once at its depth.
    chain AS (
        SELECT DISTINCT ON (t.gtin, t.lot) t.gtin, t.lot, t.depth, t.via_event
          FROM scope_lots s
         CROSS JOIN LATERAL coldtrace.ct_trace_lots(s.gtin, s.lot, 'backward') t
         ORDER BY t.gtin, t.lot, t.depth
    ),
    ev AS (
        SELECT DISTINCT x.id, c.gtin, c.lot
          FROM chain c CROSS JOIN LATERAL coldtrace.ct_lot_event_ids(c.gtin, c.lot) x(id)
    ),
    first_lot AS (
        SELECT c.gtin, c.lot FROM chain c WHERE c.depth = 0 ORDER BY c.gtin, c.lot LIMIT 1
    ),
    lotinfo AS (
        SELECT c.gtin, c.lot, c.depth,
               jsonb_build_object(
                 'gtin', c.gtin, 'lot', c.lot, 'depth', c.depth,
                 'description', p.description, 'commodity', p.commodity,
                 'quantity', l.quantity, 'uom', l.uom, 'field', l.field,
                 'harvest_start', ct_report_ts(l.harvest_start),
                 'harvest_end', ct_report_ts(l.harvest_end),
                 'best_before', l.best_before, 'country', l.country,
                 'farm_gln', l.farm_gln,
                 -- Where the TLC was assigned: the event that made the lot.
                 'tlc_source', (SELECT ct_report_site(coalesce(e.site_gln, e.read_point))
                                  FROM coldtrace.trace_items i
                                  JOIN coldtrace.trace_events e ON e.id = i.event_id
                                 WHERE i.gtin = c.gtin AND i.lot = c.lot
                                   AND (i.role = 'output' OR (i.role = 'what'
                                        AND e.action = 'ADD' AND e.biz_step = 'commissioning'))
                                 ORDER BY e.event_time LIMIT 1)) AS j
          FROM chain c
          LEFT JOIN coldtrace.lots l ON l.gtin = c.gtin AND l.lot = c.lot
          LEFT JOIN coldtrace.products p ON p.gtin = c.gtin
    ),
    farm AS (
        SELECT coalesce(
                 (SELECT l.farm_gln FROM chain c
                    JOIN coldtrace.lots l ON l.gtin = c.gtin AND l.lot = c.lot
                   WHERE l.farm_gln IS NOT NULL ORDER BY c.depth DESC, c.gtin, c.lot LIMIT 1),
                 (SELECT e.site_gln FROM ev v
                    JOIN coldtrace.trace_events e ON e.id = v.id
                    JOIN coldtrace.sites s ON s.gln = e.site_gln AND s.kind = 'farm'
                   ORDER BY e.event_time LIMIT 1)) AS gln
    ),
    evs AS (
        SELECT e.*, v.gtin AS for_gtin, v.lot AS for_lot, ct_report_cte(e.id) AS cte
          FROM ev v JOIN coldtrace.trace_events e ON e.id = v.id
    ),
    legs AS (
        SELECT DISTINCT e.shipment_id AS id FROM evs e WHERE e.shipment_id IS NOT NULL
         AND p_shipment IS NULL
        UNION SELECT p_shipment WHERE p_shipment IS NOT NULL
    )
    SELECT jsonb_build_object(
        'version', 1,
        'scope', jsonb_build_object('gtin', p_gtin, 'lot', p_lot, 'shipment', p_shipment),
        'generated_at', ct_report_ts(greatest(
            (SELECT max(event_time) FROM evs),
            (SELECT max(f.to_time) FROM coldtrace.shipment_figures f
              WHERE f.shipment_id IN (SELECT id FROM legs)),
            (SELECT max(q.created_at) FROM coldtrace.qa_actions q
              WHERE q.shipment_id IN (SELECT id FROM legs)),
            (SELECT max(s.actual_arrival) FROM coldtrace.shipments s
              WHERE s.id IN (SELECT id FROM legs)))),
        'lot', (SELECT j FROM lotinfo JOIN first_lot f USING (gtin, lot)),
        'lots', coalesce((SELECT jsonb_agg(j ORDER BY depth, gtin, lot) FROM lotinfo), '[]'),
        'commodity', (SELECT jsonb_build_object('code', c.code, 'name_en', c.name_en,
                              'name_zh', c.name_zh, 'temp_min_c', c.temp_min_c,
                              'temp_max_c', c.temp_max_c, 'temp_opt_c', c.temp_opt_c,
                              'storage_life_days', c.storage_life_days)
                        FROM coldtrace.commodities c
                       WHERE c.code = coalesce(
                             (SELECT p.commodity FROM coldtrace.products p
                               WHERE p.gtin = (SELECT gtin FROM first_lot)),
                             (SELECT s.commodity FROM coldtrace.shipments s
                               WHERE s.id IN (SELECT id FROM legs) ORDER BY s.id LIMIT 1))),
        'farm', (SELECT ct_report_site(f.gln) || jsonb_build_object(
                     'registrations', coalesce((SELECT jsonb_agg(jsonb_build_object(
                             'scheme', r.scheme, 'ident', r.ident) ORDER BY r.scheme)
                         FROM coldtrace.registrations r WHERE r.site_gln = f.gln), '[]'),
                     'certifications', coalesce((SELECT jsonb_agg(jsonb_build_object(
                             'scheme', c.scheme, 'number', c.number, 'issuer', c.issuer,
                             'valid_from', c.valid_from, 'valid_to', c.valid_to)
                             ORDER BY c.scheme, c.number)
                         FROM coldtrace.certifications c WHERE c.site_gln = f.gln), '[]'))
                   FROM farm f WHERE f.gln IS NOT NULL),
        -- The custody timeline: every event of the lots, in time order, once per lot it
        -- concerns (an FSMA record is per lot and CTE).
        'events', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'id', e.id, 'cte', e.cte, 'type', e.type, 'action', e.action,
                'biz_step', e.biz_step, 'disposition', e.disposition,
                'time', ct_report_ts(e.event_time), 'tz_offset', e.tz_offset,
                'gtin', e.for_gtin, 'lot', e.for_lot,
                -- How the event names this lot: what, output, input, child; NULL when it
                -- concerns the lot through its pallet.
                'role', (SELECT min(i.role) FROM coldtrace.trace_items i
                          WHERE i.event_id = e.id AND i.gtin = e.for_gtin AND i.lot = e.for_lot),
                'quantity', (SELECT sum(i.quantity) FROM coldtrace.trace_items i
                              WHERE i.event_id = e.id AND i.gtin = e.for_gtin
                                AND i.lot = e.for_lot AND i.role IN ('what', 'output', 'child')),
                'uom', (SELECT min(i.uom) FROM coldtrace.trace_items i
                         WHERE i.event_id = e.id AND i.gtin = e.for_gtin AND i.lot = e.for_lot),
                'site', ct_report_site(coalesce(e.site_gln,
                          CASE WHEN e.read_point ~ '^[0-9]{13}$' THEN e.read_point END)),
                'source', ct_report_site(e.src_gln),
                'destination', ct_report_site(e.dest_gln),
                'shipment', e.shipment_id,
                'vehicle', (SELECT v.label FROM coldtrace.devices d
                              JOIN coldtrace.vehicles v ON v.id = d.vehicle_id
                             WHERE d.id = e.device_id),
                'sscc', (SELECT jsonb_agg(DISTINCT i.sscc) FROM coldtrace.trace_items i
                          WHERE i.event_id = e.id AND i.sscc IS NOT NULL),
                'biz_transactions', e.biz_transactions,
                'inputs', CASE WHEN e.cte IN ('initial_packing', 'transformation') THEN
                    (SELECT jsonb_agg(jsonb_build_object('gtin', i.gtin, 'lot', i.lot,
                                'quantity', i.quantity, 'uom', i.uom,
                                'description', p.description) ORDER BY i.ord)
                       FROM coldtrace.ct_transformation_events(e.id) g(id)
                       JOIN coldtrace.trace_items i ON i.event_id = g.id
                       LEFT JOIN coldtrace.products p ON p.gtin = i.gtin
                      WHERE i.role = 'input' AND i.gtin IS NOT NULL) END)
            ORDER BY e.event_time, e.id, e.for_gtin, e.for_lot) FROM evs e), '[]'),
        'legs', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'shipment', s.id, 'status', s.status,
                'origin', ct_report_site(s.origin_gln),
                'destination', ct_report_site(s.destination_gln),
                'planned_departure', ct_report_ts(s.planned_departure),
                'planned_arrival', ct_report_ts(s.planned_arrival),
                'departure', ct_report_ts(s.actual_departure),
                'arrival', ct_report_ts(s.actual_arrival),
                'vehicles', coalesce((SELECT jsonb_agg(DISTINCT v.label)
                                        FROM coldtrace.device_assignments a
                                        JOIN coldtrace.devices d ON d.id = a.device_id
                                        JOIN coldtrace.vehicles v ON v.id = d.vehicle_id
                                       WHERE a.shipment_id = s.id), '[]'),
                'figures', (SELECT to_jsonb(f) - 'shipment_id' - 'computed_at'
                                   - 'from_time' - 'to_time'
                                   || jsonb_build_object('from', ct_report_ts(f.from_time),
                                                         'to', ct_report_ts(f.to_time))
                              FROM coldtrace.shipment_figures f
                             WHERE f.shipment_id = s.id AND f.lot_key = ''),
                'lot_figures', coalesce((SELECT jsonb_agg(to_jsonb(f) - 'shipment_id'
                                   - 'computed_at' - 'from_time' - 'to_time'
                                   || jsonb_build_object('from', ct_report_ts(f.from_time),
                                                         'to', ct_report_ts(f.to_time))
                                   ORDER BY f.lot_key)
                              FROM coldtrace.shipment_figures f
                             WHERE f.shipment_id = s.id AND f.lot_key IN (
                                   SELECT c.gtin || '/' || c.lot FROM chain c)),
                        '[]'),
                -- First and last reading (index range ends, not a scan of the series).
                'readings', jsonb_build_object(
                    'from', (SELECT ct_report_ts(r.measured_at) FROM coldtrace.readings r
                              WHERE r.shipment_id = s.id ORDER BY r.measured_at LIMIT 1),
                    'to', (SELECT ct_report_ts(r.measured_at) FROM coldtrace.readings r
                            WHERE r.shipment_id = s.id ORDER BY r.measured_at DESC LIMIT 1)),
                'excursions', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'id', x.id, 'direction', x.direction, 'severity', x.severity,
                        'state', x.state, 'start', ct_report_ts(x.started_at),
                        'end', ct_report_ts(x.ended_at), 'threshold_c', x.threshold_c,
                        'peak_c', x.peak_c, 'duration_s', x.duration_s,
                        'degree_minutes', round(x.degree_minutes::numeric, 2),
                        'probe', x.probe, 'phase', x.phase,
                        'budget_breach', x.budget_breach) ORDER BY x.started_at, x.id)
                    FROM coldtrace.excursions x WHERE x.shipment_id = s.id), '[]'),
                'qa', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'id', q.id, 'target', q.target, 'target_id', q.target_id,
                        'action', q.action, 'disposition', q.disposition,
                        'reason', q.reason, 'actor', ct_pseudonym('QA', q.actor),
                        'at', ct_report_ts(q.created_at)) ORDER BY q.created_at, q.id)
                    FROM coldtrace.qa_actions q WHERE q.shipment_id = s.id), '[]'),
                -- Custody points on the route: loads, unloads and other handoffs.
                'stops', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'kind', CASE e.biz_step WHEN 'shipping' THEN 'load'
                                WHEN 'receiving' THEN 'unload' ELSE 'handoff' END,
                        'time', ct_report_ts(e.event_time),
                        'site', ct_report_site(coalesce(e.site_gln,
                                  CASE WHEN e.read_point ~ '^[0-9]{13}$' THEN e.read_point END,
                                  CASE e.biz_step WHEN 'shipping' THEN e.src_gln
                                  ELSE e.dest_gln END)))
                        ORDER BY e.event_time, e.id)
                    FROM coldtrace.trace_events e
                   WHERE e.shipment_id = s.id AND e.id IN (SELECT id FROM ev)), '[]'))
            ORDER BY coalesce(s.actual_departure, s.planned_departure), s.id)
            FROM coldtrace.shipments s WHERE s.id IN (SELECT id FROM legs)), '[]'))
      FROM found WHERE found.ok
$$;
