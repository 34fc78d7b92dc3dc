-- Trace walks, trace and recall documents, and the CLI's event recorders over the trace store
-- (sql/migrations/0004_trace.sql). Re-runnable. The building blocks:
--   ct_trace_lots(gtin, lot, direction)      lots linked to a lot through transformations
--   ct_trace_lot_set(gtins, lots, direction) the same from a set of lots at once
--   ct_lot_items(gtins, lots)                every (event, lot) occurrence, directly or on a
--                                            pallet, with the lot's quantity there
--   ct_lot_event_ids(gtin, lot)              the critical tracking events of one lot
--   ct_event_cte(…)                          an event's FSMA critical tracking event kind
-- The documents (jsonb, shape documented on each function; times are RFC 3339 UTC strings
-- "2024-05-01T06:30:00Z", quantities JSON numbers, absent values null):
--   ct_trace(gtin, lot)                      backward and forward trace of one lot
--   ct_recall_farm(farm, from, to)           recall of a farm's harvests in a date range
--   ct_recall_lot(gtin, lot, from_sources)   recall starting from one lot
-- The recorders the CLI (and later the HTTP API) use to create events with origin 'cli':
--   ct_record_harvest, ct_record_cooling, ct_record_transformation, ct_record_aggregation.
--   They return {"created": bool, "event_id", "event_key", …} or, for what the caller must
--   fix, {"error": "message", "code": "invalid" | "not_found" | "conflict"} (no exception,
--   so nothing is logged as a database failure).
SET search_path = coldtrace, public;

-- RFC 3339 UTC text of a time, the form every document here uses.
CREATE OR REPLACE FUNCTION ct_json_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN isfinite(t) THEN
        rtrim(rtrim(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'
    END
$$;

-- The events of one transformation: the event itself, and every event sharing its
-- transformationID (EPCIS links multi-step transformations that way).
CREATE OR REPLACE FUNCTION ct_transformation_events(ev bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE ROWS 2 AS $$
    SELECT ev
    UNION
    SELECT e2.id
      FROM trace_events e
      JOIN trace_events e2 ON e2.transformation_id = e.transformation_id
     WHERE e.id = ev AND e.transformation_id IS NOT NULL
$$;

-- Lots reachable from a set of lots through transformations: 'backward' walks from an
-- output to the inputs it was made from, 'forward' from an input to what was made of it.
-- The start lots are returned at depth 0 (whether or not the store knows them); every other
-- lot once, at its smallest depth, with the transformation event that first reached it (the
-- smallest event id among those at that depth). A breadth-first walk that never revisits a
-- lot: a cycle in bad data ends, and a lattice of splits and merges costs one visit per lot,
-- not one per path. Depth is bounded (64) all the same. Any other direction raises 22023.
CREATE OR REPLACE FUNCTION ct_trace_lot_set(p_gtins text[], p_lots text[], p_direction text)
RETURNS TABLE (gtin text, lot text, depth integer, via_event bigint)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
DECLARE
    r_from  text;
    r_to    text;
    seen_g  text[];
    seen_l  text[];
    fr_g    text[];
    fr_l    text[];
    nx_g    text[];
    nx_l    text[];
    nx_e    bigint[];
    d       integer := 0;
BEGIN
    IF p_direction = 'backward' THEN
        r_from := 'output'; r_to := 'input';
    ELSIF p_direction = 'forward' THEN
        r_from := 'input'; r_to := 'output';
    ELSE
        RAISE EXCEPTION 'ct_trace_lot_set: direction must be backward or forward, not %',
            p_direction USING ERRCODE = '22023';
    END IF;
    SELECT array_agg(s.g ORDER BY s.g, s.l), array_agg(s.l ORDER BY s.g, s.l)
      INTO seen_g, seen_l
      FROM (SELECT DISTINCT u.g, u.l FROM unnest(p_gtins, p_lots) AS u(g, l)
             WHERE u.g IS NOT NULL AND u.l IS NOT NULL) s;
    IF seen_g IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT u.g, u.l, 0, NULL::bigint FROM unnest(seen_g, seen_l) AS u(g, l);
    fr_g := seen_g;
    fr_l := seen_l;
    WHILE d < 64 LOOP
        d := d + 1;
        SELECT array_agg(n.g), array_agg(n.l), array_agg(n.ev)
          INTO nx_g, nx_l, nx_e
          FROM (SELECT DISTINCT ON (nxt.gtin, nxt.lot) nxt.gtin AS g, nxt.lot AS l,
                       here.event_id AS ev
                  FROM unnest(fr_g, fr_l) AS f(g, l)
                  JOIN trace_items here
                    ON here.gtin = f.g AND here.lot = f.l AND here.role = r_from
                 CROSS JOIN LATERAL ct_transformation_events(here.event_id) AS grp(id)
                  JOIN trace_items nxt
                    ON nxt.event_id = grp.id AND nxt.role = r_to AND nxt.gtin IS NOT NULL
                 WHERE NOT EXISTS (SELECT 1 FROM unnest(seen_g, seen_l) AS s(g, l)
                                    WHERE s.g = nxt.gtin AND s.l = nxt.lot)
                 ORDER BY nxt.gtin, nxt.lot, here.event_id) n;
        EXIT WHEN nx_g IS NULL;
        RETURN QUERY SELECT u.g, u.l, d, u.e FROM unnest(nx_g, nx_l, nx_e) AS u(g, l, e);
        seen_g := seen_g || nx_g;
        seen_l := seen_l || nx_l;
        fr_g := nx_g;
        fr_l := nx_l;
    END LOOP;
END $$;

-- ct_trace_lot_set for one lot.
CREATE OR REPLACE FUNCTION ct_trace_lots(p_gtin text, p_lot text, p_direction text)
RETURNS TABLE (gtin text, lot text, depth integer, via_event bigint)
LANGUAGE sql STABLE ROWS 10 AS $$
    SELECT * FROM ct_trace_lot_set(ARRAY[p_gtin], ARRAY[p_lot], p_direction)
$$;

-- Every event a lot of the set takes part in, one row per (event, lot):
--   directly: the event names the lot (any role); sscc NULL, quantity/uom of that item
--     (summed when the event names the lot more than once);
--   on a pallet: the event names (as an item or as parentID) an SSCC the lot was put on,
--     at or after the time it was put on it (GS1 forbids reusing an SSCC, so later events
--     of the SSCC are the same pallet); sscc is the (smallest) pallet, quantity what was put
--     on the pallets the event names.
-- A lot is on a pallet by an AggregationEvent ADD/OBSERVE naming it as a child (quantity:
-- the child quantity), or by a device load event listing both the lot and the pallet
-- (quantity: the lot's quantity in that load, which covers all its pallets). Where an event
-- names the lot both directly and through a pallet, the direct row wins.
CREATE OR REPLACE FUNCTION ct_lot_items(p_gtins text[], p_lots text[])
RETURNS TABLE (event_id bigint, gtin text, lot text, sscc text, quantity numeric, uom text)
LANGUAGE sql STABLE ROWS 30 AS $$
    WITH l AS (
        SELECT DISTINCT u.g, u.l FROM unnest(p_gtins, p_lots) AS u(g, l)
    ), direct AS (
        SELECT i.event_id, i.gtin, i.lot, i.role, i.quantity, i.uom
          FROM l JOIN trace_items i ON i.gtin = l.g AND i.lot = l.l
    ), on_pallet AS (
        SELECT d.gtin, d.lot, e.parent_sscc AS sscc, e.event_time AS since,
               CASE WHEN e.action = 'ADD' THEN d.quantity END AS agg_qty,
               NULL::numeric AS dev_qty, d.uom
          FROM direct d JOIN trace_events e ON e.id = d.event_id
         WHERE e.type = 'AggregationEvent' AND e.parent_sscc IS NOT NULL
           AND e.action IN ('ADD', 'OBSERVE') AND d.role = 'child'
        UNION ALL
        SELECT d.gtin, d.lot, p.sscc, e.event_time, NULL, d.quantity, d.uom
          FROM direct d JOIN trace_events e ON e.id = d.event_id
          JOIN trace_items p ON p.event_id = e.id AND p.sscc IS NOT NULL
         WHERE e.origin = 'device'
    ), pallets AS (
        SELECT gtin, lot, sscc, min(since) AS since, sum(agg_qty) AS agg_qty,
               max(dev_qty) AS dev_qty, max(uom) AS uom
          FROM on_pallet GROUP BY gtin, lot, sscc
    ), pallet_events AS (
        SELECT i.event_id, p.sscc, p.gtin, p.lot
          FROM pallets p JOIN trace_items i ON i.sscc = p.sscc
          JOIN trace_events e ON e.id = i.event_id
         WHERE e.event_time >= p.since
        UNION
        SELECT e.id, p.sscc, p.gtin, p.lot
          FROM pallets p JOIN trace_events e ON e.parent_sscc = p.sscc
         WHERE e.event_time >= p.since
    ), via AS (
        SELECT pe.event_id, pe.gtin, pe.lot, min(p.sscc) AS sscc,
               coalesce(sum(p.agg_qty), max(p.dev_qty)) AS quantity, max(p.uom) AS uom
          FROM pallet_events pe
          JOIN pallets p ON p.sscc = pe.sscc AND p.gtin = pe.gtin AND p.lot = pe.lot
         WHERE NOT EXISTS (SELECT 1 FROM direct d WHERE d.event_id = pe.event_id
                              AND d.gtin = pe.gtin AND d.lot = pe.lot)
         GROUP BY pe.event_id, pe.gtin, pe.lot
    )
    SELECT d.event_id, d.gtin, d.lot, NULL::text, sum(d.quantity), max(d.uom)
      FROM direct d GROUP BY d.event_id, d.gtin, d.lot
    UNION ALL
    SELECT v.event_id, v.gtin, v.lot, v.sscc, v.quantity, v.uom FROM via v
$$;

-- The critical tracking events of one lot (see ct_lot_items).
CREATE OR REPLACE FUNCTION ct_lot_event_ids(p_gtin text, p_lot text) RETURNS SETOF bigint
LANGUAGE sql STABLE ROWS 30 AS $$
    SELECT DISTINCT event_id FROM ct_lot_items(ARRAY[p_gtin], ARRAY[p_lot])
$$;

-- The FSMA critical tracking event an EPCIS event stands for (domain.md §1.5):
--   harvesting       ObjectEvent ADD commissioning at a farm, or with harvest ILMD
--   cooling          bizStep storing with a coolingMethod extension
--   initial_packing  TransformationEvent with bizStep commissioning
--   transformation   any other TransformationEvent (repack, split, merge)
--   shipping         bizStep shipping, departing, loading, staging_outbound
--   receiving        bizStep receiving, arriving, accepting, unloading
--   aggregation / disaggregation   AggregationEvent ADD|OBSERVE / DELETE
--   otherwise the bizStep (or the event type in lower case).
CREATE OR REPLACE FUNCTION ct_event_cte(p_type text, p_action text, p_biz_step text,
                                        p_extra_xml text, p_site_kind text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_type = 'TransformationEvent' AND p_biz_step = 'commissioning' THEN 'initial_packing'
        WHEN p_type = 'TransformationEvent' THEN 'transformation'
        WHEN p_type = 'ObjectEvent' AND p_action = 'ADD' AND p_biz_step = 'commissioning'
             AND (p_site_kind = 'farm' OR p_extra_xml LIKE '%harvestStartDate%'
                  OR p_extra_xml LIKE '%fieldName%') THEN 'harvesting'
        WHEN p_biz_step = 'storing' AND p_extra_xml LIKE '%coolingMethod%' THEN 'cooling'
        WHEN p_biz_step IN ('shipping', 'departing', 'loading', 'staging_outbound') THEN 'shipping'
        WHEN p_biz_step IN ('receiving', 'arriving', 'accepting', 'unloading') THEN 'receiving'
        WHEN p_type = 'AggregationEvent' AND p_action = 'DELETE' THEN 'disaggregation'
        WHEN p_type = 'AggregationEvent' THEN 'aggregation'
        ELSE coalesce(p_biz_step, lower(replace(p_type, 'Event', '')))
    END
$$;

-- A site as documents show it ({"gln", "name", "kind", "organisation", "organisation_kind",
-- "address", "city", "region", "country", "phone", "lat", "lon"}); NULL for an unknown GLN.
CREATE OR REPLACE FUNCTION ct_site_json(p_gln text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('gln', s.gln, 'name', s.name, 'kind', s.kind,
                              'organisation', o.name, 'organisation_kind', o.kind,
                              'address', s.address, 'city', s.city, 'region', s.region,
                              'country', s.country, 'phone', coalesce(s.phone, o.phone),
                              'lat', s.lat, 'lon', s.lon)
      FROM sites s LEFT JOIN organisations o ON o.id = s.org_id
     WHERE s.gln = p_gln
$$;

-- A farm (or any site) with its registrations and certifications:
-- ct_site_json + {"registrations": [{"scheme", "id"}], "certifications": [{"scheme",
-- "number", "issuer", "valid_from", "valid_to"}]}.
CREATE OR REPLACE FUNCTION ct_farm_json(p_gln text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT ct_site_json(p_gln)
           || jsonb_build_object(
               'registrations', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'scheme', r.scheme, 'id', r.ident) ORDER BY r.scheme)
                    FROM registrations r WHERE r.site_gln = p_gln), '[]'),
               'certifications', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'scheme', c.scheme, 'number', c.number, 'issuer', c.issuer,
                        'valid_from', c.valid_from, 'valid_to', c.valid_to)
                        ORDER BY c.scheme, c.number)
                    FROM certifications c WHERE c.site_gln = p_gln), '[]'))
     WHERE EXISTS (SELECT 1 FROM sites WHERE gln = p_gln)
$$;

-- A lot as documents show it: {"gtin", "lot", "product", "commodity", "farm_gln", "field",
-- "harvest_start", "harvest_end", "best_before", "country", "quantity", "uom", "public"}.
-- A lot the trace store names but the lots table lacks (an imported event's input) comes
-- with nulls; a lot nobody knows gives NULL.
CREATE OR REPLACE FUNCTION ct_lot_json(p_gtin text, p_lot text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('gtin', p_gtin, 'lot', p_lot, 'product', p.description,
                              'commodity', p.commodity, 'farm_gln', l.farm_gln,
                              'field', l.field, 'harvest_start', ct_json_time(l.harvest_start),
                              'harvest_end', ct_json_time(l.harvest_end),
                              'best_before', l.best_before, 'country', l.country,
                              'quantity', l.quantity, 'uom', l.uom,
                              'public', coalesce(l.public, false))
      FROM (SELECT 1) one
      LEFT JOIN lots l ON l.gtin = p_gtin AND l.lot = p_lot
      LEFT JOIN products p ON p.gtin = p_gtin
     WHERE l.gtin IS NOT NULL
        OR EXISTS (SELECT 1 FROM trace_items i WHERE i.gtin = p_gtin AND i.lot = p_lot)
$$;

-- An event as documents show it: {"id", "key", "origin", "cte" (ct_event_cte), "type",
-- "action", "biz_step", "disposition", "time", "tz_offset", "site_gln", "site_name",
-- "src_gln", "dest_gln", "parent_sscc", "shipment_id", "items": [{"role", "gtin", "lot",
-- "sscc", "epc", "quantity", "uom"}]}.
CREATE OR REPLACE FUNCTION ct_event_json(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'id', e.id, 'key', e.event_key, 'origin', e.origin,
               'cte', ct_event_cte(e.type, e.action, e.biz_step, e.extra_xml, s.kind),
               'type', e.type, 'action', e.action, 'biz_step', e.biz_step,
               'disposition', e.disposition, 'time', ct_json_time(e.event_time),
               'tz_offset', e.tz_offset, 'site_gln', e.site_gln, 'site_name', s.name,
               'src_gln', e.src_gln, 'dest_gln', e.dest_gln, 'parent_sscc', e.parent_sscc,
               'shipment_id', e.shipment_id,
               'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'role', i.role, 'gtin', i.gtin, 'lot', i.lot, 'sscc', i.sscc,
                        'epc', i.epc, 'quantity', i.quantity, 'uom', i.uom) ORDER BY i.ord)
                    FROM trace_items i WHERE i.event_id = e.id), '[]'))
      FROM trace_events e LEFT JOIN sites s ON s.gln = e.site_gln
     WHERE e.id = p_id
$$;

-- Shipping and receiving of a set of lots, one row per (event, lot), with the lot's
-- quantity (ct_lot_items) and where the goods went: for shipping from the source (src_gln,
-- else site_gln) to the destination (dest_gln); for receiving from src_gln to the site that
-- received (site_gln, else dest_gln). shipment_key groups the rows of one shipment: its
-- shipment_id, else 'event:<id>'.
CREATE OR REPLACE FUNCTION ct_lot_movements(p_gtins text[], p_lots text[])
RETURNS TABLE (event_id bigint, cte text, event_time timestamptz, shipment_key text,
               shipment_id text, device_id text, from_gln text, to_gln text, gtin text,
               lot text, sscc text, quantity numeric, uom text)
LANGUAGE sql STABLE ROWS 5 AS $$
    SELECT x.event_id, c.cte, e.event_time, coalesce(e.shipment_id, 'event:' || e.id),
           e.shipment_id, e.device_id,
           CASE c.cte WHEN 'shipping' THEN coalesce(e.src_gln, e.site_gln) ELSE e.src_gln END,
           CASE c.cte WHEN 'shipping' THEN e.dest_gln ELSE coalesce(e.site_gln, e.dest_gln) END,
           x.gtin, x.lot, x.sscc, x.quantity, x.uom
      FROM ct_lot_items(p_gtins, p_lots) x
      JOIN trace_events e ON e.id = x.event_id
      LEFT JOIN sites s ON s.gln = e.site_gln
     CROSS JOIN LATERAL (SELECT ct_event_cte(e.type, e.action, e.biz_step, e.extra_xml, s.kind)
                            AS cte) c
     WHERE c.cte IN ('shipping', 'receiving')
$$;

-- Where a set of lots went: the "forward" part of ct_trace and the body of a recall.
--   {"lots": [lot + {"depth", "via_event"}],   the set (depth 0) and everything made of it,
--                                              by depth then GTIN and lot
--    "shipments": [{"shipment_id", "from_gln", "to_gln", "shipped_at", "received_at",
--                   "lots": [{"gtin", "lot", "quantity", "uom"}]}],   by shipped/received time
--    "sites": [site + {"first_at", "last_at", "events", "lots": ["GTIN/LOT", …]}],
--                                              every site where one of the lots was, by first_at
--    "receivers": [site + {"lots": [{"gtin", "lot", "quantity", "uom", "received_at",
--                                    "shipment_id", "status"}]}]}   by GLN
-- A shipment is a shipment_id (device load/unload events) or one shipping or receiving
-- event without one (an imported EPCIS event; shipment_id null). A lot's quantity in a
-- shipment comes from its shipping events, else its receiving ones; events of one device
-- are summed (loads at two docks), devices are not (two loggers in one truck report the same
-- load): the largest device total counts.
-- Receivers: every site that received one of the lots (status "received", received_at the
-- first reception there) and every destination a lot was shipped to and not (yet) received
-- at (status "shipped", received_at null): a recall notice goes to both.
CREATE OR REPLACE FUNCTION ct_forward_json(p_gtins text[], p_lots text[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH fw AS (
        SELECT * FROM ct_trace_lot_set(p_gtins, p_lots, 'forward')
    ), arr AS (
        SELECT array_agg(gtin) AS g, array_agg(lot) AS l FROM fw
    ), mv AS (
        SELECT m.* FROM arr CROSS JOIN LATERAL ct_lot_movements(arr.g, arr.l) m
    ), per_device AS (
        SELECT shipment_key, gtin, lot, cte, coalesce(device_id, '') AS dev,
               sum(quantity) AS quantity, max(uom) AS uom
          FROM mv GROUP BY shipment_key, gtin, lot, cte, coalesce(device_id, '')
    ), ship_lots AS (
        SELECT k.shipment_key, k.gtin, k.lot,
               coalesce(max(k.quantity) FILTER (WHERE k.cte = 'shipping'),
                        max(k.quantity) FILTER (WHERE k.cte = 'receiving')) AS quantity,
               coalesce(max(k.uom) FILTER (WHERE k.cte = 'shipping'), max(k.uom)) AS uom,
               max(k.quantity) FILTER (WHERE k.cte = 'receiving') AS received_qty
          FROM per_device k GROUP BY k.shipment_key, k.gtin, k.lot
    ), ships AS (
        SELECT m.shipment_key, max(m.shipment_id) AS shipment_id,
               coalesce((array_agg(m.from_gln ORDER BY m.event_time)
                            FILTER (WHERE m.cte = 'shipping' AND m.from_gln IS NOT NULL))[1],
                        max(sh.origin_gln),
                        (array_agg(m.from_gln ORDER BY m.event_time)
                            FILTER (WHERE m.from_gln IS NOT NULL))[1]) AS from_gln,
               coalesce((array_agg(m.to_gln ORDER BY m.event_time DESC)
                            FILTER (WHERE m.cte = 'receiving' AND m.to_gln IS NOT NULL))[1],
                        (array_agg(m.to_gln ORDER BY m.event_time)
                            FILTER (WHERE m.to_gln IS NOT NULL))[1],
                        max(sh.destination_gln)) AS to_gln,
               min(m.event_time) FILTER (WHERE m.cte = 'shipping') AS shipped_at,
               min(m.event_time) FILTER (WHERE m.cte = 'receiving') AS received_at
          FROM mv m LEFT JOIN shipments sh ON sh.id = m.shipment_id
         GROUP BY m.shipment_key
    ), recv AS (
        -- Receptions: one row per (receiving site, lot, shipment).
        SELECT m.to_gln AS gln, m.gtin, m.lot, max(m.shipment_id) AS shipment_id,
               min(m.event_time) AS received_at, 'received'::text AS status
          FROM mv m WHERE m.cte = 'receiving' AND m.to_gln IS NOT NULL
         GROUP BY m.to_gln, m.gtin, m.lot, m.shipment_key
    ), recv_rows AS (
        SELECT r.gln, r.gtin, r.lot,
               coalesce(sl.received_qty, sl.quantity) AS quantity, sl.uom,
               r.received_at, r.shipment_id, r.status
          FROM recv r
          JOIN ship_lots sl ON sl.shipment_key = coalesce(r.shipment_id, sl.shipment_key)
           AND sl.gtin = r.gtin AND sl.lot = r.lot
         WHERE r.shipment_id IS NOT NULL
        UNION ALL
        -- A reception without a shipment_id is its own shipment: its own quantity.
        SELECT m.to_gln, m.gtin, m.lot, sum(m.quantity), max(m.uom), min(m.event_time),
               NULL, 'received'
          FROM mv m WHERE m.cte = 'receiving' AND m.to_gln IS NOT NULL AND m.shipment_id IS NULL
         GROUP BY m.to_gln, m.gtin, m.lot
        UNION ALL
        -- Shipped there, never received there.
        SELECT s.to_gln, sl.gtin, sl.lot, sl.quantity, sl.uom, NULL::timestamptz, s.shipment_id,
               'shipped'
          FROM ships s JOIN ship_lots sl ON sl.shipment_key = s.shipment_key
         WHERE s.to_gln IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM mv m WHERE m.cte = 'receiving' AND m.to_gln = s.to_gln
                              AND m.gtin = sl.gtin AND m.lot = sl.lot)
    ), site_rows AS (
        SELECT x.gln, min(x.t) AS first_at, max(x.t) AS last_at,
               count(DISTINCT x.event_id) AS events,
               array_agg(DISTINCT x.gtin || '/' || x.lot) AS lots
          FROM (SELECT e.site_gln AS gln, e.event_time AS t, e.id AS event_id, i.gtin, i.lot
                  FROM arr CROSS JOIN LATERAL ct_lot_items(arr.g, arr.l) i
                  JOIN trace_events e ON e.id = i.event_id
                 WHERE e.site_gln IS NOT NULL
                UNION ALL
                SELECT m.to_gln, m.event_time, m.event_id, m.gtin, m.lot
                  FROM mv m WHERE m.cte = 'receiving' AND m.to_gln IS NOT NULL) x
         GROUP BY x.gln
    )
    SELECT jsonb_build_object(
        'lots', coalesce((SELECT jsonb_agg(ct_lot_json(fw.gtin, fw.lot)
                                 || jsonb_build_object('gtin', fw.gtin, 'lot', fw.lot,
                                                       'depth', fw.depth, 'via_event', fw.via_event)
                                 ORDER BY fw.depth, fw.gtin, fw.lot) FROM fw), '[]'),
        'shipments', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'shipment_id', s.shipment_id, 'from_gln', s.from_gln, 'to_gln', s.to_gln,
                'shipped_at', ct_json_time(s.shipped_at),
                'received_at', ct_json_time(s.received_at),
                'lots', (SELECT jsonb_agg(jsonb_build_object('gtin', sl.gtin, 'lot', sl.lot,
                                   'quantity', sl.quantity, 'uom', sl.uom)
                                   ORDER BY sl.gtin, sl.lot)
                           FROM ship_lots sl WHERE sl.shipment_key = s.shipment_key))
                ORDER BY coalesce(s.shipped_at, s.received_at), s.shipment_key)
              FROM ships s), '[]'),
        'sites', coalesce((SELECT jsonb_agg(coalesce(ct_site_json(r.gln),
                                                    jsonb_build_object('gln', r.gln))
                || jsonb_build_object('first_at', ct_json_time(r.first_at),
                                      'last_at', ct_json_time(r.last_at),
                                      'events', r.events,
                                      'lots', to_jsonb(r.lots))
                ORDER BY r.first_at, r.gln) FROM site_rows r), '[]'),
        'receivers', coalesce((SELECT jsonb_agg(coalesce(ct_site_json(g.gln),
                                                        jsonb_build_object('gln', g.gln))
                || jsonb_build_object('lots', g.lots) ORDER BY g.gln)
              FROM (SELECT rr.gln, jsonb_agg(jsonb_build_object(
                               'gtin', rr.gtin, 'lot', rr.lot, 'quantity', rr.quantity,
                               'uom', rr.uom, 'received_at', ct_json_time(rr.received_at),
                               'shipment_id', rr.shipment_id, 'status', rr.status)
                               ORDER BY rr.gtin, rr.lot, rr.received_at, rr.shipment_id) AS lots
                      FROM recv_rows rr GROUP BY rr.gln) g), '[]'))
$$;

-- The trace of one lot; NULL when neither the lots table nor any event knows it.
--   {"lot": lot (ct_lot_json),
--    "backward": {"lots": [lot + {"depth", "via_event", "events": [event…]}],
--                    the lot (depth 0) and every lot it was made from, each with its
--                    critical tracking events (ct_event_json, by time): harvest, cooling,
--                    packing, transformations, shipping and receiving of that lot
--                 "farms": [farm (ct_farm_json)]   the farms of those lots, with
--                    registrations and certifications},
--    "forward": ct_forward_json of the lot}
CREATE OR REPLACE FUNCTION ct_trace(p_gtin text, p_lot text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH bw AS (
        SELECT * FROM ct_trace_lots(p_gtin, p_lot, 'backward')
    ), farms AS (
        SELECT DISTINCT l.farm_gln AS gln FROM bw JOIN lots l ON l.gtin = bw.gtin AND l.lot = bw.lot
         WHERE l.farm_gln IS NOT NULL
        UNION
        SELECT DISTINCT e.site_gln
          FROM bw JOIN trace_items i ON i.gtin = bw.gtin AND i.lot = bw.lot
          JOIN trace_events e ON e.id = i.event_id
          JOIN sites s ON s.gln = e.site_gln
         WHERE ct_event_cte(e.type, e.action, e.biz_step, e.extra_xml, s.kind) = 'harvesting'
    )
    SELECT jsonb_build_object(
        'lot', lj,
        'backward', jsonb_build_object(
            'lots', (SELECT jsonb_agg(coalesce(ct_lot_json(bw.gtin, bw.lot),
                                               jsonb_build_object('gtin', bw.gtin, 'lot', bw.lot))
                            || jsonb_build_object(
                                'depth', bw.depth, 'via_event', bw.via_event,
                                'events', coalesce((SELECT jsonb_agg(ct_event_json(x.id)
                                                           ORDER BY e.event_time, x.id)
                                                      FROM ct_lot_event_ids(bw.gtin, bw.lot) x(id)
                                                      JOIN trace_events e ON e.id = x.id), '[]'))
                            ORDER BY bw.depth, bw.gtin, bw.lot) FROM bw),
            'farms', coalesce((SELECT jsonb_agg(ct_farm_json(f.gln) ORDER BY f.gln)
                                 FROM farms f WHERE ct_farm_json(f.gln) IS NOT NULL), '[]')),
        'forward', ct_forward_json(ARRAY[p_gtin], ARRAY[p_lot]))
      FROM ct_lot_json(p_gtin, p_lot) lj
     WHERE lj IS NOT NULL
$$;

-- The lots a farm harvested on the days from p_from to p_to (inclusive): lots whose master
-- data names the farm, and lots of harvesting events at the farm. A day is the farm's local
-- day, taken from the harvest event's time-zone offset (a 06:30+08:00 harvest is on its
-- Chinese date), UTC when the lot has no harvest event.
CREATE OR REPLACE FUNCTION ct_farm_lots(p_farm text, p_from date, p_to date)
RETURNS TABLE (gtin text, lot text)
LANGUAGE sql STABLE ROWS 10 AS $$
    WITH cand AS (
        SELECT l.gtin, l.lot, l.harvest_start AS t,
               (SELECT e.tz_offset FROM trace_items i JOIN trace_events e ON e.id = i.event_id
                 WHERE i.gtin = l.gtin AND i.lot = l.lot AND e.type = 'ObjectEvent'
                   AND e.action = 'ADD' AND e.biz_step = 'commissioning'
                 ORDER BY e.event_time LIMIT 1) AS tz
          FROM lots l
         WHERE l.farm_gln = p_farm
           AND l.harvest_start >= p_from - 1 AND l.harvest_start < p_to + 2
        UNION ALL
        SELECT i.gtin, i.lot, e.event_time, e.tz_offset
          FROM trace_events e JOIN trace_items i ON i.event_id = e.id AND i.gtin IS NOT NULL
          LEFT JOIN sites s ON s.gln = e.site_gln
         WHERE e.site_gln = p_farm
           AND e.event_time >= p_from - 1 AND e.event_time < p_to + 2
           AND ct_event_cte(e.type, e.action, e.biz_step, e.extra_xml, s.kind) = 'harvesting'
    )
    SELECT DISTINCT c.gtin, c.lot FROM cand c
     WHERE ((c.t AT TIME ZONE 'UTC') + coalesce(c.tz, '+00:00')::interval)::date
           BETWEEN p_from AND p_to
$$;

-- A recall document from a set of implicated lots (p_scope says how they were chosen):
--   {"scope": p_scope, "implicated": [lot…], then ct_forward_json of the implicated lots
--    ("lots", "shipments", "sites", "receivers"), and
--    "summary": {"implicated", "lots", "shipments", "receivers", "quantity_by_uom": {uom: n}}}
-- where quantity_by_uom sums what the receivers got or were sent.
CREATE OR REPLACE FUNCTION ct_recall_json(p_gtins text[], p_lots text[], p_scope jsonb)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH f AS (SELECT ct_forward_json(p_gtins, p_lots) AS j),
    imp AS (SELECT DISTINCT u.g, u.l FROM unnest(p_gtins, p_lots) AS u(g, l))
    SELECT jsonb_build_object(
        'scope', p_scope,
        'implicated', coalesce((SELECT jsonb_agg(coalesce(ct_lot_json(g, l),
                                   jsonb_build_object('gtin', g, 'lot', l)) ORDER BY g, l)
                                  FROM imp), '[]'))
        || f.j
        || jsonb_build_object('summary', jsonb_build_object(
            'implicated', (SELECT count(*) FROM imp),
            'lots', jsonb_array_length(f.j->'lots'),
            'shipments', jsonb_array_length(f.j->'shipments'),
            'receivers', jsonb_array_length(f.j->'receivers'),
            'quantity_by_uom', coalesce((SELECT jsonb_object_agg(u, q) FROM (
                    SELECT coalesce(x->>'uom', '') AS u, sum((x->>'quantity')::numeric) AS q
                      FROM jsonb_array_elements(f.j->'receivers') r,
                           jsonb_array_elements(r->'lots') x
                     GROUP BY 1) s), '{}')))
      FROM f
$$;

-- Recall of what a farm harvested from p_from to p_to (ct_farm_lots), forward through every
-- transformation. scope: {"kind": "farm", "farm": site, "from", "to"}.
CREATE OR REPLACE FUNCTION ct_recall_farm(p_farm text, p_from date, p_to date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT ct_recall_json(coalesce(array_agg(f.gtin), '{}'), coalesce(array_agg(f.lot), '{}'),
                          jsonb_build_object('kind', 'farm',
                                             'farm', coalesce(ct_site_json(p_farm),
                                                              jsonb_build_object('gln', p_farm)),
                                             'from', p_from, 'to', p_to))
      FROM ct_farm_lots(p_farm, p_from, p_to) f
$$;

-- Recall starting from one lot. Without p_from_sources the lot is the implicated one: it
-- and everything made of it. With p_from_sources the problem may lie in what it was made
-- of: the implicated lots are its source lots (the lots at the end of the backward walk,
-- those made of nothing recorded), and the recall reaches every sibling made of them too.
-- scope: {"kind": "lot", "gtin", "lot", "from_sources"}. NULL for a lot nobody knows.
CREATE OR REPLACE FUNCTION ct_recall_lot(p_gtin text, p_lot text, p_from_sources boolean)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH src AS (
        SELECT b.gtin, b.lot FROM ct_trace_lots(p_gtin, p_lot, 'backward') b
         WHERE p_from_sources
           AND NOT EXISTS (SELECT 1 FROM trace_items o
                            JOIN trace_items i ON i.event_id = o.event_id AND i.role = 'input'
                           WHERE o.gtin = b.gtin AND o.lot = b.lot AND o.role = 'output')
        UNION
        SELECT p_gtin, p_lot WHERE NOT p_from_sources
    )
    SELECT ct_recall_json(array_agg(src.gtin), array_agg(src.lot),
                          jsonb_build_object('kind', 'lot', 'gtin', p_gtin, 'lot', p_lot,
                                             'from_sources', p_from_sources))
      FROM src
    HAVING ct_lot_json(p_gtin, p_lot) IS NOT NULL
$$;

-- ---- Recorders: critical tracking events entered through the CLI (origin 'cli') --------
-- The event key is 'urn:coldtrace:cli:<sha256 hex of the canonical arguments>' (a jsonb
-- text: keys sorted, quantities without trailing zeros, times in UTC), so running the same
-- command twice records one event: the second run answers {"created": false} with the first
-- event's id. Extensions the CBV has no term for (field name, cooling method) are kept in
-- extra_xml, in the namespace urn:coldtrace:epcis (prefix ct), built with xmlelement so
-- every value is escaped.

CREATE OR REPLACE FUNCTION ct_cli_key(p_args jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT 'urn:coldtrace:cli:' || encode(sha256(convert_to(p_args::text, 'UTF8')), 'hex')
$$;

-- [{"gtin", "lot", "quantity", "uom"}…] in one canonical form: sorted, quantities trimmed.
CREATE OR REPLACE FUNCTION ct_cli_lots(p jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'gtin', x->>'gtin', 'lot', x->>'lot',
               'quantity', trim_scale((x->>'quantity')::numeric), 'uom', x->>'uom')
               ORDER BY x->>'gtin', x->>'lot', x->>'quantity', x->>'uom'), '[]')
      FROM jsonb_array_elements(coalesce(p, '[]')) x
$$;

CREATE OR REPLACE FUNCTION ct_cli_error(p_code text, p_message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('error', p_message, 'code', p_code)
$$;

-- The answer for an event key already recorded, NULL when it is new.
CREATE OR REPLACE FUNCTION ct_cli_existing(p_key text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('created', false, 'event_id', id, 'event_key', event_key)
      FROM trace_events WHERE event_key = p_key
$$;

-- Harvest (FSMA harvesting): creates the lot with its master data (farm, field, harvest
-- time, quantity) and an ObjectEvent ADD commissioning at the farm with the lot's ILMD. The
-- product (GTIN) and the farm (a site of kind farm) must exist; the lot must not.
CREATE OR REPLACE FUNCTION ct_record_harvest(p_gtin text, p_lot text, p_farm text,
                                             p_field text, p_at timestamptz, p_tz text,
                                             p_qty numeric, p_uom text,
                                             p_end timestamptz DEFAULT NULL,
                                             p_country text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    k     text := ct_cli_key(jsonb_build_object(
                 'cmd', 'harvest', 'gtin', p_gtin, 'lot', p_lot, 'farm', p_farm,
                 'field', p_field, 'at', ct_json_time(p_at), 'end', ct_json_time(p_end),
                 'qty', trim_scale(p_qty), 'uom', p_uom, 'country', p_country));
    prev  jsonb := ct_cli_existing(k);
    site  sites%ROWTYPE;
    ev    bigint;
BEGIN
    IF prev IS NOT NULL THEN
        RETURN prev;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM products WHERE gtin = p_gtin) THEN
        RETURN ct_cli_error('not_found', format('product %s not found (add it with coldtrace product add)', p_gtin));
    END IF;
    SELECT * INTO site FROM sites WHERE gln = p_farm;
    IF NOT FOUND THEN
        RETURN ct_cli_error('not_found', format('farm %s not found (add it with coldtrace site add --kind farm)', p_farm));
    END IF;
    IF site.kind <> 'farm' THEN
        RETURN ct_cli_error('invalid', format('site %s is a %s, not a farm', p_farm, site.kind));
    END IF;
    IF p_end IS NOT NULL AND p_end < p_at THEN
        RETURN ct_cli_error('invalid', 'the harvest ends before it starts');
    END IF;
    INSERT INTO lots (gtin, lot, owner_org_id, farm_gln, field, harvest_start, harvest_end,
                      country, quantity, uom)
    VALUES (p_gtin, p_lot, site.org_id, p_farm, p_field, p_at, p_end,
            coalesce(p_country, site.country), p_qty, p_uom)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN ct_cli_error('conflict', format('lot %s/%s already exists', p_gtin, p_lot));
    END IF;
    INSERT INTO trace_events (event_key, origin, type, action, biz_step, disposition,
                              event_time, tz_offset, site_gln, extra_xml, document)
    VALUES (k, 'cli', 'ObjectEvent', 'ADD', 'commissioning', 'active', coalesce(p_end, p_at),
            p_tz, p_farm,
            xmlelement(name ilmd,
                xmlelement(name "cbvmda:lotNumber",
                           xmlattributes('urn:epcglobal:cbv:mda' AS "xmlns:cbvmda"), p_lot),
                xmlelement(name "cbvmda:harvestStartDate",
                           xmlattributes('urn:epcglobal:cbv:mda' AS "xmlns:cbvmda"),
                           ct_json_time(p_at)),
                CASE WHEN p_end IS NOT NULL THEN
                    xmlelement(name "cbvmda:harvestEndDate",
                               xmlattributes('urn:epcglobal:cbv:mda' AS "xmlns:cbvmda"),
                               ct_json_time(p_end)) END,
                CASE WHEN coalesce(p_country, site.country) IS NOT NULL THEN
                    xmlelement(name "cbvmda:countryOfOrigin",
                               xmlattributes('urn:epcglobal:cbv:mda' AS "xmlns:cbvmda"),
                               coalesce(p_country, site.country)) END,
                CASE WHEN p_field IS NOT NULL THEN
                    xmlelement(name "ct:fieldName",
                               xmlattributes('urn:coldtrace:epcis' AS "xmlns:ct"), p_field) END
            )::text, 'cli')
    RETURNING id INTO ev;
    INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom)
    VALUES (ev, 1, 'what', p_gtin, p_lot, p_qty, p_uom);
    RETURN jsonb_build_object('created', true, 'event_id', ev, 'event_key', k);
END $$;

-- Cooling (FSMA cooling before initial packing): an ObjectEvent OBSERVE storing
-- in_progress at the cooling site, with the lot's quantity and the cooling method
-- (<ct:coolingMethod>). The lot and the site must exist.
CREATE OR REPLACE FUNCTION ct_record_cooling(p_gtin text, p_lot text, p_site text,
                                             p_start timestamptz, p_tz text, p_method text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    k     text := ct_cli_key(jsonb_build_object(
                 'cmd', 'cool', 'gtin', p_gtin, 'lot', p_lot, 'site', p_site,
                 'start', ct_json_time(p_start), 'method', p_method));
    prev  jsonb := ct_cli_existing(k);
    l     lots%ROWTYPE;
    ev    bigint;
BEGIN
    IF prev IS NOT NULL THEN
        RETURN prev;
    END IF;
    IF p_method IS NOT NULL AND p_method NOT IN ('forced_air', 'hydro', 'vacuum', 'ice', 'room') THEN
        RETURN ct_cli_error('invalid', format('cooling method %s is not one of forced_air, hydro, vacuum, ice, room', p_method));
    END IF;
    SELECT * INTO l FROM lots WHERE gtin = p_gtin AND lot = p_lot;
    IF NOT FOUND THEN
        RETURN ct_cli_error('not_found', format('lot %s/%s not found', p_gtin, p_lot));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM sites WHERE gln = p_site) THEN
        RETURN ct_cli_error('not_found', format('site %s not found', p_site));
    END IF;
    INSERT INTO trace_events (event_key, origin, type, action, biz_step, disposition,
                              event_time, tz_offset, site_gln, extra_xml, document)
    VALUES (k, 'cli', 'ObjectEvent', 'OBSERVE', 'storing', 'in_progress', p_start, p_tz,
            p_site,
            xmlelement(name "ct:coolingMethod",
                       xmlattributes('urn:coldtrace:epcis' AS "xmlns:ct"),
                       coalesce(p_method, 'unspecified'))::text, 'cli')
    RETURNING id INTO ev;
    INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom)
    VALUES (ev, 1, 'what', p_gtin, p_lot, l.quantity, l.uom);
    RETURN jsonb_build_object('created', true, 'event_id', ev, 'event_key', k);
END $$;

-- Packing and transformations (FSMA initial packing, transformation): one
-- TransformationEvent from p_inputs to p_outputs ([{"gtin", "lot", "quantity", "uom"}]) at
-- p_site. p_kind 'pack' is initial packing (bizStep commissioning); 'repack', 'split',
-- 'merge' and 'transform' are bizStep repackaging. Every input lot must be known (lots
-- table or an event), every output lot new, of a known product, and not an input. Output
-- lots get their master data: best-before, quantity, owner (the site's organisation), and
-- farm, field, harvest times and country when every input lot agrees on them.
CREATE OR REPLACE FUNCTION ct_record_transformation(p_kind text, p_inputs jsonb,
                                                    p_outputs jsonb, p_site text,
                                                    p_at timestamptz, p_tz text,
                                                    p_best_before date DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    ins   jsonb := ct_cli_lots(p_inputs);
    outs  jsonb := ct_cli_lots(p_outputs);
    k     text;
    prev  jsonb;
    site  sites%ROWTYPE;
    x     jsonb;
    ev    bigint;
    n     integer := 0;
    src   record;
BEGIN
    k := ct_cli_key(jsonb_build_object('cmd', p_kind, 'in', ins, 'out', outs, 'site', p_site,
                                       'at', ct_json_time(p_at), 'best_before', p_best_before));
    prev := ct_cli_existing(k);
    IF prev IS NOT NULL THEN
        RETURN prev;
    END IF;
    IF p_kind NOT IN ('pack', 'repack', 'split', 'merge', 'transform') THEN
        RETURN ct_cli_error('invalid', format('unknown transformation kind %s', p_kind));
    END IF;
    IF jsonb_array_length(ins) = 0 OR jsonb_array_length(outs) = 0 THEN
        RETURN ct_cli_error('invalid', 'a transformation needs at least one input and one output lot');
    END IF;
    SELECT * INTO site FROM sites WHERE gln = p_site;
    IF NOT FOUND THEN
        RETURN ct_cli_error('not_found', format('site %s not found', p_site));
    END IF;
    FOR x IN SELECT * FROM jsonb_array_elements(ins) LOOP
        IF NOT EXISTS (SELECT 1 FROM lots WHERE gtin = x->>'gtin' AND lot = x->>'lot')
           AND NOT EXISTS (SELECT 1 FROM trace_items WHERE gtin = x->>'gtin' AND lot = x->>'lot') THEN
            RETURN ct_cli_error('not_found', format('input lot %s/%s not found', x->>'gtin', x->>'lot'));
        END IF;
    END LOOP;
    FOR x IN SELECT * FROM jsonb_array_elements(outs) LOOP
        IF NOT EXISTS (SELECT 1 FROM products WHERE gtin = x->>'gtin') THEN
            RETURN ct_cli_error('not_found', format('product %s not found (add it with coldtrace product add)', x->>'gtin'));
        END IF;
        IF ins @> jsonb_build_array(jsonb_build_object('gtin', x->>'gtin', 'lot', x->>'lot')) THEN
            RETURN ct_cli_error('invalid', format('lot %s/%s is both an input and an output', x->>'gtin', x->>'lot'));
        END IF;
        IF EXISTS (SELECT 1 FROM lots WHERE gtin = x->>'gtin' AND lot = x->>'lot') THEN
            RETURN ct_cli_error('conflict', format('output lot %s/%s already exists', x->>'gtin', x->>'lot'));
        END IF;
    END LOOP;
    -- What the inputs agree on passes to the outputs (FSMA: the packer keeps the harvest KDEs).
    SELECT CASE WHEN count(DISTINCT l.farm_gln) = 1 AND count(*) = count(l.farm_gln)
                     AND count(*) = jsonb_array_length(ins) THEN min(l.farm_gln) END AS farm,
           CASE WHEN count(DISTINCT l.field) = 1 AND count(*) = count(l.field)
                     AND count(DISTINCT l.farm_gln) = 1 THEN min(l.field) END AS field,
           min(l.harvest_start) AS hs, max(coalesce(l.harvest_end, l.harvest_start)) AS he,
           CASE WHEN count(DISTINCT l.country) = 1 AND count(*) = count(l.country)
                THEN min(l.country) END AS country
      INTO src
      FROM jsonb_array_elements(ins) xi JOIN lots l ON l.gtin = xi->>'gtin' AND l.lot = xi->>'lot';
    FOR x IN SELECT * FROM jsonb_array_elements(outs) LOOP
        INSERT INTO lots (gtin, lot, owner_org_id, farm_gln, field, harvest_start, harvest_end,
                          best_before, country, quantity, uom)
        VALUES (x->>'gtin', x->>'lot', site.org_id, src.farm, src.field, src.hs,
                CASE WHEN src.he IS DISTINCT FROM src.hs THEN src.he END,
                p_best_before, coalesce(src.country, site.country),
                (x->>'quantity')::numeric, x->>'uom');
    END LOOP;
    INSERT INTO trace_events (event_key, origin, type, action, biz_step, disposition,
                              event_time, tz_offset, site_gln, extra_xml, document)
    VALUES (k, 'cli', 'TransformationEvent', NULL,
            CASE p_kind WHEN 'pack' THEN 'commissioning' ELSE 'repackaging' END, 'active',
            p_at, p_tz, p_site,
            CASE WHEN p_best_before IS NOT NULL OR jsonb_array_length(outs) = 1 THEN
                xmlelement(name ilmd,
                    CASE WHEN jsonb_array_length(outs) = 1 THEN
                        xmlelement(name "cbvmda:lotNumber",
                                   xmlattributes('urn:epcglobal:cbv:mda' AS "xmlns:cbvmda"),
                                   outs->0->>'lot') END,
                    CASE WHEN p_best_before IS NOT NULL THEN
                        xmlelement(name "cbvmda:bestBeforeDate",
                                   xmlattributes('urn:epcglobal:cbv:mda' AS "xmlns:cbvmda"),
                                   p_best_before::text) END)::text END,
            'cli')
    RETURNING id INTO ev;
    FOR x IN SELECT * FROM jsonb_array_elements(ins) LOOP
        n := n + 1;
        INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom)
        VALUES (ev, n, 'input', x->>'gtin', x->>'lot', (x->>'quantity')::numeric, x->>'uom');
    END LOOP;
    FOR x IN SELECT * FROM jsonb_array_elements(outs) LOOP
        n := n + 1;
        INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom)
        VALUES (ev, n, 'output', x->>'gtin', x->>'lot', (x->>'quantity')::numeric, x->>'uom');
    END LOOP;
    RETURN jsonb_build_object('created', true, 'event_id', ev, 'event_key', k);
END $$;

-- Palletising: an AggregationEvent ADD packing in_progress, parent the SSCC (18 digits,
-- as parent_epc and parent_sscc), children the lots with their quantities, at p_site.
CREATE OR REPLACE FUNCTION ct_record_aggregation(p_sscc text, p_children jsonb, p_site text,
                                                 p_at timestamptz, p_tz text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    kids  jsonb := ct_cli_lots(p_children);
    k     text := ct_cli_key(jsonb_build_object('cmd', 'pallet', 'sscc', p_sscc,
                                                'children', kids, 'site', p_site,
                                                'at', ct_json_time(p_at)));
    prev  jsonb := ct_cli_existing(k);
    x     jsonb;
    ev    bigint;
    n     integer := 0;
BEGIN
    IF prev IS NOT NULL THEN
        RETURN prev;
    END IF;
    IF p_sscc IS NULL OR p_sscc !~ '^[0-9]{18}$' THEN
        RETURN ct_cli_error('invalid', format('SSCC %s is not 18 digits', p_sscc));
    END IF;
    IF jsonb_array_length(kids) = 0 THEN
        RETURN ct_cli_error('invalid', 'a pallet needs at least one lot');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM sites WHERE gln = p_site) THEN
        RETURN ct_cli_error('not_found', format('site %s not found', p_site));
    END IF;
    FOR x IN SELECT * FROM jsonb_array_elements(kids) LOOP
        IF NOT EXISTS (SELECT 1 FROM lots WHERE gtin = x->>'gtin' AND lot = x->>'lot')
           AND NOT EXISTS (SELECT 1 FROM trace_items WHERE gtin = x->>'gtin' AND lot = x->>'lot') THEN
            RETURN ct_cli_error('not_found', format('lot %s/%s not found', x->>'gtin', x->>'lot'));
        END IF;
    END LOOP;
    INSERT INTO trace_events (event_key, origin, type, action, biz_step, disposition,
                              event_time, tz_offset, site_gln, parent_epc, parent_sscc,
                              document)
    VALUES (k, 'cli', 'AggregationEvent', 'ADD', 'packing', 'in_progress', p_at, p_tz, p_site,
            p_sscc, p_sscc, 'cli')
    RETURNING id INTO ev;
    FOR x IN SELECT * FROM jsonb_array_elements(kids) LOOP
        n := n + 1;
        INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom)
        VALUES (ev, n, 'child', x->>'gtin', x->>'lot', (x->>'quantity')::numeric, x->>'uom');
    END LOOP;
    RETURN jsonb_build_object('created', true, 'event_id', ev, 'event_key', k);
END $$;
