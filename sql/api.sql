-- The documents of the HTTP API (re-runnable), each built by PostgreSQL as one JSON value.
--
-- Every ct_api_* function that takes (p_org, p_role) first sets the caller's settings for
-- the current transaction (ct_api_context), so the API's one statement per request is also
-- the transaction that row-level security (sql/migrations/0007_access.sql) judges: a
-- shipment, lot or reading of another organisation is simply not there, and the function
-- returns NULL (the API answers 404). The API calls them as coldtrace_api, which cannot
-- bypass row-level security.
--
-- ct_api_public_lot is the one door for the unauthenticated provenance page: SECURITY
-- DEFINER, it answers only for a lot its owner marked public.
SET search_path = coldtrace, public;

CREATE OR REPLACE FUNCTION ct_api_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t IS NULL OR NOT isfinite(t) THEN NULL
                ELSE rtrim(rtrim(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                                 '0'), '.') || 'Z' END
$$;

-- The caller's settings, for this transaction only.
CREATE OR REPLACE FUNCTION ct_api_context(p_org bigint, p_role text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('coldtrace.org_id', coalesce(p_org::text, ''), true),
            set_config('coldtrace.role', coalesce(p_role, ''), true);
END $$;

-- The same for the session, around C code that runs its own transactions (qa.c, reports);
-- ct_api_leave clears them again before the connection goes back to the pool.
CREATE OR REPLACE FUNCTION ct_api_enter(p_org bigint, p_role text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('coldtrace.org_id', coalesce(p_org::text, ''), false),
            set_config('coldtrace.role', coalesce(p_role, ''), false);
END $$;

CREATE OR REPLACE FUNCTION ct_api_leave() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('coldtrace.org_id', '', false), set_config('coldtrace.role', '', false);
END $$;

CREATE OR REPLACE FUNCTION ct_api_shipment_row(s shipments) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', s.id, 'commodity', s.commodity, 'status', s.status,
        'origin', json_build_object('gln', o.gln, 'name', o.name, 'lat', o.lat, 'lon', o.lon),
        'destination', json_build_object('gln', d.gln, 'name', d.name, 'lat', d.lat, 'lon', d.lon),
        'planned_departure', ct_api_time(s.planned_departure),
        'planned_arrival', ct_api_time(s.planned_arrival),
        'actual_departure', ct_api_time(s.actual_departure),
        'actual_arrival', ct_api_time(s.actual_arrival),
        'owner', (SELECT name FROM organisations WHERE id = s.owner_org_id),
        'receiver', (SELECT name FROM organisations WHERE id = s.receiver_org_id),
        'carrier', (SELECT name FROM organisations WHERE id = s.carrier_org_id))
      FROM sites o, sites d
     WHERE o.gln = s.origin_gln AND d.gln = s.destination_gln
$$;

-- GET /v1/shipments: newest first, optionally of one status.
CREATE OR REPLACE FUNCTION ct_api_shipments(p_org bigint, p_role text, p_status text,
                                            p_limit integer, p_offset integer) RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ct_api_context(p_org, p_role);
    RETURN (SELECT coalesce(json_agg(ct_api_shipment_row(s) ORDER BY s.created_at DESC, s.id), '[]')
              FROM (SELECT * FROM shipments
                     WHERE p_status IS NULL OR status = p_status
                     ORDER BY created_at DESC, id
                     LIMIT p_limit OFFSET p_offset) s);
END $$;

-- GET /v1/shipments/{id}: the shipment, its figures, lots and excursion counts.
CREATE OR REPLACE FUNCTION ct_api_shipment(p_org bigint, p_role text, p_id text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    s shipments;
BEGIN
    PERFORM ct_api_context(p_org, p_role);
    SELECT * INTO s FROM shipments WHERE id = p_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT (ct_api_shipment_row(s)::jsonb || jsonb_build_object(
        'figures', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'scope', CASE f.lot_key WHEN '' THEN 'shipment' ELSE 'lot:' || f.lot_key END,
                        'from', ct_api_time(f.from_time), 'to', ct_api_time(f.to_time),
                        'probe', f.probe, 'samples', f.samples, 'min_c', f.min_c,
                        'max_c', f.max_c, 'mean_c', f.mean_c, 'mkt_c', f.mkt_c,
                        'time_above_s', f.time_above_s, 'time_below_s', f.time_below_s,
                        'coverage', f.coverage, 'remaining_life_days', f.remaining_life_days)
                        ORDER BY f.lot_key), '[]')
                      FROM shipment_figures f WHERE f.shipment_id = s.id),
        'lots', (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object(
                        'gtin', lpad(l->>'gtin', 14, '0'), 'lot', l->>'lot')), '[]')
                   FROM events e, jsonb_array_elements(coalesce(e.lots, '[]')) l
                  WHERE e.shipment_id = s.id AND e.type IN ('load', 'unload')),
        'excursions', (SELECT count(*) FROM excursions x WHERE x.shipment_id = s.id),
        'open_excursions', (SELECT count(*) FROM excursions x
                             WHERE x.shipment_id = s.id AND x.state = 'open'),
        'readings', (SELECT count(*) FROM readings r WHERE r.shipment_id = s.id)))::json);
END $$;

-- GET /v1/shipments/{id}/readings: readings in [from, to], at most p_points of them: when
-- there are more, one per time bucket with the bucket's mean and extremes.
CREATE OR REPLACE FUNCTION ct_api_readings(p_org bigint, p_role text, p_id text,
                                           p_from timestamptz, p_to timestamptz,
                                           p_points integer) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
    n  bigint;
BEGIN
    PERFORM ct_api_context(p_org, p_role);
    IF NOT EXISTS (SELECT 1 FROM shipments WHERE id = p_id) THEN
        RETURN NULL;
    END IF;
    SELECT min(measured_at), max(measured_at), count(*) INTO lo, hi, n
      FROM readings
     WHERE shipment_id = p_id AND (p_from IS NULL OR measured_at >= p_from)
       AND (p_to IS NULL OR measured_at <= p_to);
    IF n <= p_points THEN
        RETURN json_build_object('shipment', p_id, 'from', ct_api_time(lo), 'to', ct_api_time(hi),
            'readings', n, 'downsampled', false, 'points',
            (SELECT coalesce(json_agg(json_build_object(
                    't', ct_api_time(r.measured_at), 'device', r.device_id,
                    'product_c', r.t_product, 'return_c', r.t_return, 'supply_c', r.t_supply,
                    'ambient_c', r.t_ambient, 'rh', r.rh, 'lat', r.lat, 'lon', r.lon,
                    'setpoint_c', r.setpoint, 'door_open', r.door_open)
                    ORDER BY r.measured_at, r.device_id, r.seq), '[]')
               FROM readings r
              WHERE r.shipment_id = p_id AND r.measured_at BETWEEN lo AND hi));
    END IF;
    RETURN json_build_object('shipment', p_id, 'from', ct_api_time(lo), 'to', ct_api_time(hi),
        'readings', n, 'downsampled', true, 'points',
        (SELECT coalesce(json_agg(json_build_object(
                't', ct_api_time(b.t), 'samples', b.samples,
                'product_c', b.product_c, 'product_min_c', b.product_min_c,
                'product_max_c', b.product_max_c, 'return_c', b.return_c,
                'return_min_c', b.return_min_c, 'return_max_c', b.return_max_c, 'rh', b.rh)
                ORDER BY b.t), '[]')
           FROM (SELECT min(r.measured_at) AS t, count(*) AS samples,
                        round(avg(r.t_product)::numeric, 2) AS product_c,
                        min(r.t_product) AS product_min_c, max(r.t_product) AS product_max_c,
                        round(avg(r.t_return)::numeric, 2) AS return_c,
                        min(r.t_return) AS return_min_c, max(r.t_return) AS return_max_c,
                        round(avg(r.rh)::numeric, 1) AS rh
                   FROM readings r
                  WHERE r.shipment_id = p_id AND r.measured_at BETWEEN lo AND hi
                  GROUP BY width_bucket(extract(epoch FROM r.measured_at),
                                        extract(epoch FROM lo),
                                        extract(epoch FROM hi) + 0.001, p_points)) b));
END $$;

-- The route of a shipment: positions in time order, at most p_points (the first of each time
-- bucket), as [[lon, lat], …].
CREATE OR REPLACE FUNCTION ct_api_route_coords(p_id text, p_points integer) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH pos AS (
        SELECT measured_at, lat, lon FROM readings
         WHERE shipment_id = p_id AND lat IS NOT NULL AND lon IS NOT NULL
    ), span AS (
        SELECT min(measured_at) AS lo, max(measured_at) AS hi FROM pos
    ), picked AS (
        SELECT DISTINCT ON (width_bucket(extract(epoch FROM p.measured_at),
                                         extract(epoch FROM s.lo),
                                         extract(epoch FROM s.hi) + 0.001, p_points))
               p.measured_at, p.lat, p.lon
          FROM pos p, span s
         ORDER BY width_bucket(extract(epoch FROM p.measured_at), extract(epoch FROM s.lo),
                               extract(epoch FROM s.hi) + 0.001, p_points), p.measured_at
    )
    SELECT coalesce(json_agg(json_build_array(round(lon::numeric, 6), round(lat::numeric, 6))
                             ORDER BY measured_at), '[]')
      FROM picked
$$;

-- GET /v1/shipments/{id}/route: a GeoJSON Feature (LineString).
CREATE OR REPLACE FUNCTION ct_api_route(p_org bigint, p_role text, p_id text, p_points integer)
RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ct_api_context(p_org, p_role);
    IF NOT EXISTS (SELECT 1 FROM shipments WHERE id = p_id) THEN
        RETURN NULL;
    END IF;
    RETURN json_build_object('type', 'Feature',
        'geometry', json_build_object('type', 'LineString',
                                      'coordinates', ct_api_route_coords(p_id, p_points)),
        'properties', (SELECT json_build_object('shipment', s.id, 'status', s.status,
                              'origin', s.origin_gln, 'destination', s.destination_gln)
                         FROM shipments s WHERE s.id = p_id));
END $$;

-- The provenance of a lot as the page and the API show it, as visible to the current user:
-- product, farm and certifications, harvest, its critical tracking events, and each leg
-- (shipment) that carried it with its figures, temperature chart, route, excursions and QA
-- decisions (by pseudonym). NULL when the lot is not there.
CREATE OR REPLACE FUNCTION ct_provenance_doc(p_gtin text, p_lot text) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    l lots;
BEGIN
    SELECT * INTO l FROM lots WHERE gtin = p_gtin AND lot = p_lot;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN json_build_object(
        'gtin', l.gtin, 'lot', l.lot,
        'product', (SELECT json_build_object('description', p.description,
                                             'commodity', p.commodity)
                      FROM products p WHERE p.gtin = l.gtin),
        'owner', (SELECT name FROM organisations WHERE id = l.owner_org_id),
        'country', l.country, 'quantity', l.quantity, 'uom', l.uom,
        'best_before', l.best_before, 'field', l.field,
        'harvest', json_build_object('start', ct_api_time(l.harvest_start),
                                     'end', ct_api_time(l.harvest_end)),
        'farm', (SELECT json_build_object('gln', s.gln, 'name', s.name, 'city', s.city,
                        'region', s.region, 'country', s.country, 'lat', s.lat, 'lon', s.lon,
                        'certifications', (SELECT coalesce(json_agg(json_build_object(
                                'scheme', c.scheme, 'number', c.number, 'issuer', c.issuer,
                                'valid_from', c.valid_from, 'valid_to', c.valid_to)
                                ORDER BY c.scheme, c.number), '[]')
                           FROM certifications c WHERE c.site_gln = s.gln))
                   FROM sites s WHERE s.gln = l.farm_gln),
        'events', (SELECT coalesce(json_agg(json_build_object(
                          'time', ct_api_time(e.event_time), 'type', e.type,
                          'biz_step', e.biz_step, 'disposition', e.disposition,
                          'site', e.site_gln, 'site_name', st.name, 'shipment', e.shipment_id)
                          ORDER BY e.event_time, e.id), '[]')
                     FROM trace_events e LEFT JOIN sites st ON st.gln = e.site_gln
                    WHERE e.id IN (SELECT ct_lot_event_ids(l.gtin, l.lot))),
        'legs', (SELECT coalesce(json_agg(leg.doc ORDER BY leg.dep NULLS LAST, leg.id), '[]')
                   FROM (SELECT s.id, coalesce(s.actual_departure, s.planned_departure) AS dep,
                                json_build_object(
                          'shipment', s.id, 'status', s.status,
                          'origin', json_build_object('gln', o.gln, 'name', o.name,
                                                      'lat', o.lat, 'lon', o.lon),
                          'destination', json_build_object('gln', d.gln, 'name', d.name,
                                                           'lat', d.lat, 'lon', d.lon),
                          'departure', ct_api_time(coalesce(s.actual_departure, s.planned_departure)),
                          'arrival', ct_api_time(coalesce(s.actual_arrival, s.planned_arrival)),
                          'figures', (SELECT json_build_object('min_c', f.min_c, 'max_c', f.max_c,
                                             'mean_c', f.mean_c, 'mkt_c', f.mkt_c,
                                             'time_above_s', f.time_above_s,
                                             'time_below_s', f.time_below_s,
                                             'coverage', f.coverage,
                                             'remaining_life_days', f.remaining_life_days)
                                        FROM shipment_figures f
                                       WHERE f.shipment_id = s.id
                                         AND f.lot_key IN ('', l.gtin || '/' || l.lot)
                                       ORDER BY f.lot_key DESC LIMIT 1),
                          'chart', (SELECT coalesce(json_agg(json_build_array(
                                                ct_api_time(b.t), b.c) ORDER BY b.t), '[]')
                                      FROM (SELECT min(r.measured_at) AS t,
                                                   round(avg(coalesce(r.t_product, r.t_return))::numeric, 2) AS c
                                              FROM readings r,
                                                   (SELECT min(measured_at) AS lo, max(measured_at) AS hi
                                                      FROM readings WHERE shipment_id = s.id) w
                                             WHERE r.shipment_id = s.id
                                               AND coalesce(r.t_product, r.t_return) IS NOT NULL
                                             GROUP BY width_bucket(extract(epoch FROM r.measured_at),
                                                                   extract(epoch FROM w.lo),
                                                                   extract(epoch FROM w.hi) + 0.001, 96)) b),
                          'route', ct_api_route_coords(s.id, 64),
                          'excursions', (SELECT coalesce(json_agg(json_build_object(
                                  'id', x.id, 'severity', x.severity, 'direction', x.direction,
                                  'state', x.state, 'started_at', ct_api_time(x.started_at),
                                  'ended_at', ct_api_time(x.ended_at), 'peak_c', x.peak_c,
                                  'threshold_c', x.threshold_c, 'duration_s', x.duration_s)
                                  ORDER BY x.started_at), '[]')
                                FROM excursions x WHERE x.shipment_id = s.id),
                          'decisions', (SELECT coalesce(json_agg(json_build_object(
                                  'target', a.target || CASE WHEN a.target = 'shipment' THEN ''
                                                             ELSE ':' || a.target_id END,
                                  'action', a.action, 'disposition', a.disposition,
                                  'reason', a.reason, 'by', ct_pseudonym('QA', a.actor),
                                  'at', ct_api_time(a.created_at)) ORDER BY a.id), '[]')
                                FROM qa_actions a
                               WHERE a.shipment_id = s.id
                                 AND a.action IN ('acknowledge', 'disposition')
                                 AND (a.target <> 'lot' OR a.target_id = l.gtin || '/' || l.lot))
                                ) AS doc
                           FROM shipments s
                           JOIN sites o ON o.gln = s.origin_gln
                           JOIN sites d ON d.gln = s.destination_gln
                          WHERE s.id IN (SELECT e.shipment_id FROM trace_events e
                                          WHERE e.id IN (SELECT ct_lot_event_ids(l.gtin, l.lot))
                                            AND e.shipment_id IS NOT NULL)) leg));
END $$;

-- GET /v1/lots/{gtin}/{lot}
CREATE OR REPLACE FUNCTION ct_api_lot(p_org bigint, p_role text, p_gtin text, p_lot text)
RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ct_api_context(p_org, p_role);
    RETURN ct_provenance_doc(p_gtin, p_lot);
END $$;

-- GET /01/{gtin}/10/{lot}: the public provenance of a lot its owner marked public, else NULL.
CREATE OR REPLACE FUNCTION ct_api_public_lot(p_gtin text, p_lot text) RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM lots WHERE gtin = p_gtin AND lot = p_lot AND public) THEN
        RETURN NULL;
    END IF;
    RETURN ct_provenance_doc(p_gtin, p_lot);
END $$;

-- GET /v1/lots/{gtin}/{lot}/trace: ct_trace (sql/trace.sql), backward and forward, as far as
-- the caller can see; NULL for a lot the caller cannot see.
CREATE OR REPLACE FUNCTION ct_api_lot_trace(p_org bigint, p_role text, p_gtin text, p_lot text)
RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ct_api_context(p_org, p_role);
    IF NOT EXISTS (SELECT 1 FROM lots WHERE gtin = p_gtin AND lot = p_lot) THEN
        RETURN NULL;
    END IF;
    RETURN ct_trace(p_gtin, p_lot)::json;
END $$;

-- GET /v1/lots/{gtin}/{lot}/recall[?from_sources=true]: ct_recall_lot, as far as the caller
-- can see.
CREATE OR REPLACE FUNCTION ct_api_lot_recall(p_org bigint, p_role text, p_gtin text, p_lot text,
                                             p_from_sources boolean) RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ct_api_context(p_org, p_role);
    IF NOT EXISTS (SELECT 1 FROM lots WHERE gtin = p_gtin AND lot = p_lot) THEN
        RETURN NULL;
    END IF;
    RETURN ct_recall_lot(p_gtin, p_lot, p_from_sources)::json;
END $$;

-- Ingest figures for /metrics (the API role reads them through this definer function).
CREATE OR REPLACE FUNCTION ct_api_ingest_figures() RETURNS TABLE (readings bigint,
    open_dead_letters bigint, last_commit_age_s double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
    SELECT (SELECT coalesce(sum(t.n_live_tup), 0)::bigint
              FROM pg_inherits i JOIN pg_stat_user_tables t ON t.relid = i.inhrelid
             WHERE i.inhparent = 'coldtrace.readings'::regclass),
           (SELECT count(*) FROM coldtrace.dead_letters WHERE resolved_at IS NULL),
           (SELECT extract(epoch FROM now() - max(updated_at)) FROM coldtrace.device_acks)
$$;

-- The body of POST /v1/shipments/{id}/actions, {"target", "action", "disposition",
-- "reason"}, as text fields; no row when the body is not one JSON object (no exception, so a
-- client's bad JSON is not logged as a database failure).
CREATE OR REPLACE FUNCTION ct_api_parse_action(p_body text)
RETURNS TABLE (target text, action text, disposition text, reason text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    b jsonb;
BEGIN
    BEGIN
        b := p_body::jsonb;
    EXCEPTION WHEN others THEN
        RETURN;
    END;
    IF jsonb_typeof(b) <> 'object' THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT b->>'target', b->>'action', b->>'disposition', b->>'reason';
END $$;

-- The public provenance of a lot flattened into rows for the page renderer (report code
-- reads rows, not JSON): (section, leg, f1 … f8), in page order. No rows: not public.
--   lot       f1 gtin, f2 lot, f3 product, f4 commodity, f5 owner, f6 country,
--             f7 best_before, f8 field
--   harvest   f1 start, f2 end, f3 quantity, f4 uom
--   farm      f1 gln, f2 name, f3 city, f4 region, f5 country
--   cert      f1 scheme, f2 number, f3 issuer, f4 valid_from, f5 valid_to
--   event     f1 time, f2 biz_step, f3 site name, f4 site GLN, f5 disposition, f6 type
--   leg       f1 shipment, f2 origin, f3 destination, f4 departure, f5 arrival, f6 min_c,
--             f7 max_c, f8 mkt_c
--   point     f1 time, f2 °C                           (the leg's chart)
--   route     f1 lon, f2 lat                            (the leg's track)
--   excursion f1 severity, f2 direction, f3 started_at, f4 ended_at, f5 peak_c,
--             f6 duration_s, f7 threshold_c, f8 state
--   decision  f1 target, f2 action, f3 disposition, f4 reason, f5 by, f6 at
CREATE OR REPLACE FUNCTION ct_api_public_page(p_gtin text, p_lot text)
RETURNS TABLE (section text, leg integer, f1 text, f2 text, f3 text, f4 text, f5 text,
               f6 text, f7 text, f8 text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d jsonb := ct_api_public_lot(p_gtin, p_lot)::jsonb;
    l jsonb;
    n integer := 0;
BEGIN
    IF d IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT 'lot', 0, d->>'gtin', d->>'lot', d->'product'->>'description',
        d->'product'->>'commodity', d->>'owner', d->>'country', d->>'best_before', d->>'field';
    RETURN QUERY SELECT 'harvest', 0, d->'harvest'->>'start', d->'harvest'->>'end',
        d->>'quantity', d->>'uom', NULL, NULL, NULL, NULL;
    IF jsonb_typeof(d->'farm') = 'object' THEN
        RETURN QUERY SELECT 'farm', 0, d->'farm'->>'gln', d->'farm'->>'name', d->'farm'->>'city',
            d->'farm'->>'region', d->'farm'->>'country', NULL, NULL, NULL;
        RETURN QUERY SELECT 'cert', 0, c->>'scheme', c->>'number', c->>'issuer',
            c->>'valid_from', c->>'valid_to', NULL, NULL, NULL
          FROM jsonb_array_elements(d->'farm'->'certifications') c;
    END IF;
    RETURN QUERY SELECT 'event', 0, e->>'time', e->>'biz_step', e->>'site_name', e->>'site',
        e->>'disposition', e->>'type', NULL, NULL
      FROM jsonb_array_elements(d->'events') e;
    FOR l IN SELECT * FROM jsonb_array_elements(d->'legs')
    LOOP
        n := n + 1;
        RETURN QUERY SELECT 'leg', n, l->>'shipment', l->'origin'->>'name',
            l->'destination'->>'name', l->>'departure', l->>'arrival',
            l->'figures'->>'min_c', l->'figures'->>'max_c', l->'figures'->>'mkt_c';
        RETURN QUERY SELECT 'point', n, p->>0, p->>1, NULL, NULL, NULL, NULL, NULL, NULL
          FROM jsonb_array_elements(l->'chart') p;
        RETURN QUERY SELECT 'route', n, p->>0, p->>1, NULL, NULL, NULL, NULL, NULL, NULL
          FROM jsonb_array_elements(l->'route') p;
        RETURN QUERY SELECT 'excursion', n, x->>'severity', x->>'direction', x->>'started_at',
            x->>'ended_at', x->>'peak_c', x->>'duration_s', x->>'threshold_c', x->>'state'
          FROM jsonb_array_elements(l->'excursions') x;
        RETURN QUERY SELECT 'decision', n, a->>'target', a->>'action', a->>'disposition',
            a->>'reason', a->>'by', a->>'at', NULL, NULL
          FROM jsonb_array_elements(l->'decisions') a;
    END LOOP;
END $$;

-- The organisation that owns a public lot, NULL when the lot is not there, not public or has
-- no owner. The API renders the public report downloads of the lot (and the digest the page
-- shows) with that organisation's view, the same bytes its own users download: SECURITY
-- DEFINER because the unauthenticated visitor has no view of lots at all.
CREATE OR REPLACE FUNCTION ct_api_public_lot_owner(p_gtin text, p_lot text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
    SELECT owner_org_id FROM coldtrace.lots WHERE gtin = p_gtin AND lot = p_lot AND public
$$;
