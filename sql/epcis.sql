-- EPCIS capture helpers (re-runnable). The importer passes lists as one text parameter each,
-- records separated by U+001E and fields by U+001F: XML 1.0 cannot carry either character
-- (the importer refuses values that contain them), so no escaping is needed and one event is
-- one round trip.
SET search_path = coldtrace, public;

-- 'type<US>id<RS>type<US>id' → [{"type": …, "id": …}, …] in order; an empty type is left out.
CREATE OR REPLACE FUNCTION ct_epcis_pairs(p text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(CASE WHEN f[1] = '' THEN jsonb_build_object('id', f[2])
                                   ELSE jsonb_build_object('type', f[1], 'id', f[2]) END
                              ORDER BY o), '[]'::jsonb)
      FROM unnest(string_to_array(nullif(p, ''), E'\x1e')) WITH ORDINALITY AS r(rec, o),
           LATERAL string_to_array(r.rec, E'\x1f') AS f
$$;

-- Items of one event: records role<US>epc<US>sscc<US>gtin<US>lot<US>quantity<US>uom, empty
-- fields NULL, ord = position. Returns the number of rows stored.
CREATE OR REPLACE FUNCTION ct_epcis_put_items(p_event bigint, p text) RETURNS integer
LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO trace_items (event_id, ord, role, epc, sscc, gtin, lot, quantity, uom)
        SELECT p_event, o, f[1], nullif(f[2], ''), nullif(f[3], ''), nullif(f[4], ''),
               nullif(f[5], ''), nullif(f[6], '')::numeric, nullif(f[7], '')
          FROM unnest(string_to_array(nullif(p, ''), E'\x1e')) WITH ORDINALITY AS r(rec, o),
               LATERAL string_to_array(r.rec, E'\x1f') AS f
        RETURNING 1
    )
    SELECT count(*)::integer FROM ins
$$;

-- Items of one event for export, in order, in the same record format.
CREATE OR REPLACE FUNCTION ct_epcis_items_text(p_event bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(concat_ws(E'\x1f', role, coalesce(epc, ''), coalesce(sscc, ''),
                                coalesce(gtin, ''), coalesce(lot, ''),
                                coalesce(quantity::text, ''), coalesce(uom, '')),
                      E'\x1e' ORDER BY ord)
      FROM trace_items WHERE event_id = p_event
$$;

-- The inverse of ct_epcis_pairs, for export.
CREATE OR REPLACE FUNCTION ct_epcis_pairs_text(p jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(coalesce(x->>'type', '') || E'\x1f' || coalesce(x->>'id', ''), E'\x1e'
                      ORDER BY o)
      FROM jsonb_array_elements(coalesce(p, '[]'::jsonb)) WITH ORDINALITY AS t(x, o)
$$;

-- A time as EPCIS writes it, at the event's own offset: 2024-05-01T06:30:00.000+08:00.
CREATE OR REPLACE FUNCTION ct_epcis_time(t timestamptz, tz text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char((t AT TIME ZONE 'UTC') + tz::interval, 'YYYY-MM-DD"T"HH24:MI:SS.MS') || tz
$$;

-- The trace events of an export scope, ids only: a lot (its events and those of every lot it
-- was made from, so harvest, cooling and packing are in) or a shipment (its events and those
-- of the lots it carried).
-- (plpgsql: its body is checked when called, since sql/trace.sql, which defines the walks,
-- is applied after this file.)
CREATE OR REPLACE FUNCTION ct_epcis_scope_events(p_gtin text, p_lot text, p_shipment text)
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT DISTINCT x.id FROM (
        SELECT ct_lot_event_ids(b.gtin, b.lot) AS id
          FROM ct_trace_lots(p_gtin, p_lot, 'backward') b
         WHERE p_shipment IS NULL AND p_gtin IS NOT NULL
        UNION
        SELECT e.id FROM trace_events e WHERE e.shipment_id = p_shipment
        UNION
        SELECT ct_lot_event_ids(l.gtin, l.lot)
          FROM (SELECT DISTINCT i.gtin, i.lot
                  FROM trace_events e JOIN trace_items i ON i.event_id = e.id
                 WHERE e.shipment_id = p_shipment AND i.gtin IS NOT NULL) l
    ) x;
END $$;
