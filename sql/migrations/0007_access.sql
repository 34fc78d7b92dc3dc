-- Schema v7: access control for the HTTP API. Users of organisations with roles, API tokens
-- (argon2id hashes, libsodium's crypto_pwhash_str format), the organisations a shipment
-- belongs to, and row-level security keyed on the per-request settings the API sets:
--
--   coldtrace.org_id  the caller's organisation (organisations.id)
--   coldtrace.role    retailer | qa | carrier | admin
--
-- Who sees which shipment (ct_acl_shipment_ids):
--   qa        shipments its organisation owns (owner_org_id)
--   retailer  shipments delivered to its organisation (receiver_org_id)
--   carrier   shipments it carries (carrier_org_id, or a device of one of its vehicles
--             assigned to the shipment)
--   admin     every shipment its organisation owns, receives or carries
-- Everything per shipment (readings, events, excursions, gaps, figures, QA actions, alerts,
-- trace events) follows its shipment; a lot is visible to its owner and to whoever sees a
-- shipment that carried it. Without the settings nothing is visible.
--
-- The API runs as coldtrace_api (NOLOGIN, NOBYPASSRLS, owns nothing; the API's login role is
-- granted it and the API does SET ROLE at connect). The ingest, the monitor and the CLI run
-- as the table owner, which RLS does not restrict (not FORCEd), so they are unaffected.

SET search_path = coldtrace, public;

ALTER TABLE shipments
    ADD COLUMN owner_org_id    bigint REFERENCES organisations (id),
    ADD COLUMN receiver_org_id bigint REFERENCES organisations (id),
    ADD COLUMN carrier_org_id  bigint REFERENCES organisations (id);

-- By default a shipment belongs to the organisation of its origin site and is delivered to
-- the organisation of its destination site.
CREATE FUNCTION ct_shipment_default_orgs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.owner_org_id IS NULL THEN
        SELECT org_id INTO NEW.owner_org_id FROM coldtrace.sites WHERE gln = NEW.origin_gln;
    END IF;
    IF NEW.receiver_org_id IS NULL THEN
        SELECT org_id INTO NEW.receiver_org_id FROM coldtrace.sites WHERE gln = NEW.destination_gln;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER shipments_default_orgs BEFORE INSERT ON shipments
    FOR EACH ROW EXECUTE FUNCTION ct_shipment_default_orgs();

UPDATE shipments s SET owner_org_id = o.org_id FROM sites o
 WHERE o.gln = s.origin_gln AND s.owner_org_id IS NULL;
UPDATE shipments s SET receiver_org_id = d.org_id FROM sites d
 WHERE d.gln = s.destination_gln AND s.receiver_org_id IS NULL;

CREATE INDEX shipments_owner ON shipments (owner_org_id);
CREATE INDEX shipments_receiver ON shipments (receiver_org_id);
CREATE INDEX shipments_carrier ON shipments (carrier_org_id);

CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    org_id      bigint NOT NULL REFERENCES organisations (id),
    role        text NOT NULL CHECK (role IN ('retailer', 'qa', 'carrier', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

-- A token is shown once as "<id>.<secret>"; only the argon2id hash of the secret is kept, so
-- a request costs one lookup by id and one hash verification (then a short in-memory cache).
CREATE TABLE api_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash text NOT NULL CHECK (secret_hash LIKE '$argon2id$%'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coldtrace_api') THEN
        CREATE ROLE coldtrace_api NOLOGIN NOBYPASSRLS NOSUPERUSER NOINHERIT;
    END IF;
END $$;

-- The caller of the current request, from the settings; NULL/'' when not set.
CREATE FUNCTION ct_acl_org() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN current_setting('coldtrace.org_id', true) ~ '^[0-9]{1,18}$'
                THEN current_setting('coldtrace.org_id', true)::bigint END
$$;

CREATE FUNCTION ct_acl_role() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('coldtrace.role', true), '')
$$;

-- The shipments the caller may see. SECURITY DEFINER: it reads shipments, device
-- assignments and vehicles whatever their own policies, so policies never recurse.
CREATE FUNCTION ct_acl_shipment_ids() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
    SELECT s.id
      FROM coldtrace.shipments s, (SELECT coldtrace.ct_acl_org() AS org,
                                          coldtrace.ct_acl_role() AS role) c
     WHERE c.org IS NOT NULL AND (
           (c.role IN ('qa', 'admin') AND s.owner_org_id = c.org)
        OR (c.role IN ('retailer', 'admin') AND s.receiver_org_id = c.org)
        OR (c.role IN ('carrier', 'admin') AND (s.carrier_org_id = c.org OR EXISTS (
                SELECT 1 FROM coldtrace.device_assignments da
                  JOIN coldtrace.devices d ON d.id = da.device_id
                  JOIN coldtrace.vehicles v ON v.id = d.vehicle_id
                 WHERE da.shipment_id = s.id AND v.org_id = c.org))))
$$;

-- The lots the caller may see: its organisation's own, and those on a visible shipment.
CREATE FUNCTION ct_acl_lot_keys() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
    SELECT l.gtin || '/' || l.lot FROM coldtrace.lots l
     WHERE coldtrace.ct_acl_org() IS NOT NULL
       AND coldtrace.ct_acl_role() IN ('qa', 'admin', 'retailer', 'carrier')
       AND l.owner_org_id = coldtrace.ct_acl_org()
    UNION
    SELECT i.gtin || '/' || i.lot
      FROM coldtrace.trace_events e JOIN coldtrace.trace_items i ON i.event_id = e.id
     WHERE i.gtin IS NOT NULL
       AND e.shipment_id IN (SELECT coldtrace.ct_acl_shipment_ids())
$$;

-- Trace events the caller may see: those of a visible shipment or naming a visible lot.
CREATE FUNCTION ct_acl_trace_event_ids() RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
    SELECT e.id FROM coldtrace.trace_events e
     WHERE e.shipment_id IN (SELECT coldtrace.ct_acl_shipment_ids())
    UNION
    SELECT i.event_id FROM coldtrace.trace_items i
     WHERE i.gtin IS NOT NULL
       AND i.gtin || '/' || i.lot IN (SELECT coldtrace.ct_acl_lot_keys())
$$;

-- The token of an id, with its user, when usable (not revoked or expired, user enabled). The
-- API role may call this and nothing else about users and tokens.
CREATE FUNCTION ct_api_token(p_id bigint)
RETURNS TABLE (secret_hash text, user_id bigint, user_name text, org_id bigint, role text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
    SELECT t.secret_hash, u.id, u.name, u.org_id, u.role
      FROM coldtrace.api_tokens t JOIN coldtrace.users u ON u.id = t.user_id
     WHERE t.id = p_id AND t.revoked_at IS NULL AND u.disabled_at IS NULL
       AND (t.expires_at IS NULL OR t.expires_at > now())
$$;
REVOKE ALL ON FUNCTION ct_api_token(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ct_api_token(bigint) TO coldtrace_api;

-- Privileges: read the schema (RLS narrows it below), write QA actions and their audit rows.
-- Secrets and internals (device and broker passwords, tokens, users, the pseudonym key, raw
-- dead letters and the ingest's ledger) are not readable at all.
GRANT USAGE ON SCHEMA coldtrace TO coldtrace_api;
GRANT SELECT ON ALL TABLES IN SCHEMA coldtrace TO coldtrace_api;
REVOKE ALL ON devices, broker_accounts, users, api_tokens, pseudonym_key, record_keys,
              device_acks, eval_queue FROM coldtrace_api;
GRANT INSERT ON qa_actions, audit_log TO coldtrace_api;
-- Reports name a shipment's vehicles through its devices: ids only, never the password hashes.
GRANT SELECT (id, vehicle_id, created_at) ON devices TO coldtrace_api;
-- qa_act locks the shipment row (SELECT … FOR NO KEY UPDATE), which needs UPDATE on one
-- column; the UPDATE policy below refuses any actual update.
GRANT UPDATE (status) ON shipments TO coldtrace_api;

ALTER TABLE shipments ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON shipments FOR SELECT TO coldtrace_api
    USING (id IN (SELECT ct_acl_shipment_ids()));
CREATE POLICY api_lock ON shipments FOR UPDATE TO coldtrace_api
    USING (ct_acl_role() IN ('qa', 'admin') AND id IN (SELECT ct_acl_shipment_ids()))
    WITH CHECK (false);

ALTER TABLE readings ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON readings FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON events FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
ALTER TABLE excursions ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON excursions FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
ALTER TABLE data_gaps ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON data_gaps FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
ALTER TABLE shipment_figures ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON shipment_figures FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON alerts FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
ALTER TABLE device_assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON device_assignments FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;  -- no policy: nothing for the API

ALTER TABLE qa_actions ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON qa_actions FOR SELECT TO coldtrace_api
    USING (shipment_id IN (SELECT ct_acl_shipment_ids()));
CREATE POLICY api_act ON qa_actions FOR INSERT TO coldtrace_api
    WITH CHECK (ct_acl_role() IN ('qa', 'admin')
                AND shipment_id IN (SELECT ct_acl_shipment_ids()));

-- audit_log.object is "target:shipment:target_id" for QA actions.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON audit_log FOR SELECT TO coldtrace_api
    USING (action LIKE 'qa.%' AND split_part(object, ':', 2) IN (SELECT ct_acl_shipment_ids()));
CREATE POLICY api_act ON audit_log FOR INSERT TO coldtrace_api
    WITH CHECK (ct_acl_role() IN ('qa', 'admin') AND action LIKE 'qa.%'
                AND split_part(object, ':', 2) IN (SELECT ct_acl_shipment_ids()));

ALTER TABLE vehicles ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON vehicles FOR SELECT TO coldtrace_api
    USING (org_id = ct_acl_org());

ALTER TABLE lots ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON lots FOR SELECT TO coldtrace_api
    USING (gtin || '/' || lot IN (SELECT ct_acl_lot_keys()));
ALTER TABLE trace_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON trace_events FOR SELECT TO coldtrace_api
    USING (id IN (SELECT ct_acl_trace_event_ids()));
ALTER TABLE trace_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON trace_items FOR SELECT TO coldtrace_api
    USING (event_id IN (SELECT ct_acl_trace_event_ids()));

-- EPCIS capture through the API (admin users only): the importer inserts trace events and
-- their items and upserts lots, sites and products. What an organisation's admin creates
-- belongs to that organisation; what belongs to another organisation cannot be updated, so
-- a document touching it is refused whole (the import is one transaction).
CREATE FUNCTION ct_acl_claim() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coldtrace.ct_acl_role() = 'admin' AND coldtrace.ct_acl_org() IS NOT NULL THEN
        IF TG_TABLE_NAME = 'sites' THEN
            NEW.org_id := coalesce(NEW.org_id, coldtrace.ct_acl_org());
        ELSE
            NEW.owner_org_id := coalesce(NEW.owner_org_id, coldtrace.ct_acl_org());
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER lots_claim BEFORE INSERT ON lots FOR EACH ROW EXECUTE FUNCTION ct_acl_claim();
CREATE TRIGGER sites_claim BEFORE INSERT ON sites FOR EACH ROW EXECUTE FUNCTION ct_acl_claim();
CREATE TRIGGER products_claim BEFORE INSERT ON products FOR EACH ROW
    EXECUTE FUNCTION ct_acl_claim();

-- An EPCIS event recorded by the current transaction.
CREATE FUNCTION ct_acl_event_new(p_id bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = coldtrace, public AS $$
    SELECT EXISTS (SELECT 1 FROM coldtrace.trace_events
                    WHERE id = p_id AND origin = 'epcis' AND recorded_at = now())
$$;

GRANT INSERT ON trace_events, trace_items TO coldtrace_api;
GRANT INSERT, UPDATE ON lots, sites, products TO coldtrace_api;

CREATE POLICY api_capture ON trace_events FOR INSERT TO coldtrace_api
    WITH CHECK (ct_acl_role() = 'admin' AND origin = 'epcis'
                AND (shipment_id IS NULL OR shipment_id IN (SELECT ct_acl_shipment_ids())));
CREATE POLICY api_capture_read ON trace_events FOR SELECT TO coldtrace_api
    USING (ct_acl_role() = 'admin' AND ct_acl_event_new(id));
CREATE POLICY api_capture ON trace_items FOR INSERT TO coldtrace_api
    WITH CHECK (ct_acl_role() = 'admin' AND ct_acl_event_new(event_id));
CREATE POLICY api_capture_read ON trace_items FOR SELECT TO coldtrace_api
    USING (ct_acl_role() = 'admin' AND ct_acl_event_new(event_id));

CREATE POLICY api_capture ON lots FOR INSERT TO coldtrace_api
    WITH CHECK (ct_acl_role() = 'admin' AND owner_org_id = ct_acl_org());
CREATE POLICY api_capture_update ON lots FOR UPDATE TO coldtrace_api
    USING (ct_acl_role() = 'admin' AND owner_org_id = ct_acl_org())
    WITH CHECK (owner_org_id = ct_acl_org());

ALTER TABLE sites ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON sites FOR SELECT TO coldtrace_api USING (true);
CREATE POLICY api_capture ON sites FOR INSERT TO coldtrace_api
    WITH CHECK (ct_acl_role() = 'admin' AND org_id = ct_acl_org());
CREATE POLICY api_capture_update ON sites FOR UPDATE TO coldtrace_api
    USING (ct_acl_role() = 'admin' AND org_id = ct_acl_org())
    WITH CHECK (org_id = ct_acl_org());

ALTER TABLE products ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_read ON products FOR SELECT TO coldtrace_api USING (true);
CREATE POLICY api_capture ON products FOR INSERT TO coldtrace_api
    WITH CHECK (ct_acl_role() = 'admin' AND owner_org_id = ct_acl_org());
CREATE POLICY api_capture_update ON products FOR UPDATE TO coldtrace_api
    USING (ct_acl_role() = 'admin' AND owner_org_id = ct_acl_org())
    WITH CHECK (owner_org_id = ct_acl_org());

-- Buyer-facing documents name QA staff by ct_pseudonym(); the API role may compute a
-- pseudonym but never read the key behind it.
ALTER FUNCTION ct_pseudonym(text, text) SECURITY DEFINER SET search_path = coldtrace, pg_temp;
REVOKE ALL ON pseudonym_key FROM PUBLIC;
