-- Trace walks over the trace store (re-runnable). The two building blocks every trace,
-- recall, export and report uses:
--   ct_trace_lots(gtin, lot, direction)  lots linked to a lot through transformations
--   ct_lot_event_ids(gtin, lot)          the critical tracking events of one lot
SET search_path = coldtrace, public;

-- The events of one transformation: the event itself, and every event sharing its
-- transformationID (EPCIS links multi-step transformations that way).
CREATE OR REPLACE FUNCTION ct_transformation_events(ev bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    SELECT ev
    UNION
    SELECT e2.id
      FROM trace_events e
      JOIN trace_events e2 ON e2.transformation_id = e.transformation_id
     WHERE e.id = ev AND e.transformation_id IS NOT NULL
$$;

-- Lots reachable from (p_gtin, p_lot) through transformations: 'backward' walks from an
-- output to the inputs it was made from, 'forward' from an input to what was made of it.
-- The lot itself is returned at depth 0; each lot once, at its smallest depth, with the
-- transformation event that reached it. Depth is bounded (64) so a cycle in bad data ends.
CREATE OR REPLACE FUNCTION ct_trace_lots(p_gtin text, p_lot text, p_direction text)
RETURNS TABLE (gtin text, lot text, depth integer, via_event bigint)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE walk (gtin, lot, depth, via_event) AS (
        SELECT p_gtin, p_lot, 0, NULL::bigint
        UNION
        SELECT nxt.gtin, nxt.lot, w.depth + 1, here.event_id
          FROM walk w
          JOIN trace_items here
            ON here.gtin = w.gtin AND here.lot = w.lot
           AND here.role = CASE p_direction WHEN 'backward' THEN 'output' ELSE 'input' END
          CROSS JOIN LATERAL ct_transformation_events(here.event_id) AS grp(id)
          JOIN trace_items nxt
            ON nxt.event_id = grp.id AND nxt.gtin IS NOT NULL
           AND nxt.role = CASE p_direction WHEN 'backward' THEN 'input' ELSE 'output' END
         WHERE w.depth < 64 AND p_direction IN ('backward', 'forward')
    )
    SELECT DISTINCT ON (gtin, lot) gtin, lot, depth, via_event
      FROM walk
     ORDER BY gtin, lot, depth, via_event
$$;

-- The critical tracking events of one lot: every event that names it (in any role), and
-- every event about a pallet (SSCC) the lot was aggregated onto, from the first aggregation
-- on (GS1 forbids reusing an SSCC, so later events of the SSCC are the same pallet).
CREATE OR REPLACE FUNCTION ct_lot_event_ids(p_gtin text, p_lot text) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    WITH direct AS (
        SELECT DISTINCT event_id FROM trace_items WHERE gtin = p_gtin AND lot = p_lot
    ), pallets AS (
        SELECT e.parent_sscc AS sscc, min(e.event_time) AS since
          FROM direct d JOIN trace_events e ON e.id = d.event_id
         WHERE e.type = 'AggregationEvent' AND e.parent_sscc IS NOT NULL
           AND e.action IN ('ADD', 'OBSERVE')
         GROUP BY e.parent_sscc
        UNION
        -- A device load event that lists the lot and pallets puts the lot on those pallets.
        SELECT p.sscc, min(e.event_time)
          FROM direct d JOIN trace_events e ON e.id = d.event_id
          JOIN trace_items p ON p.event_id = e.id AND p.sscc IS NOT NULL
         WHERE e.origin = 'device'
         GROUP BY p.sscc
    )
    SELECT event_id FROM direct
    UNION
    SELECT i.event_id
      FROM pallets p JOIN trace_items i ON i.sscc = p.sscc
      JOIN trace_events e ON e.id = i.event_id AND e.event_time >= p.since
    UNION
    SELECT e.id
      FROM pallets p JOIN trace_events e ON e.parent_sscc = p.sscc AND e.event_time >= p.since
$$;
