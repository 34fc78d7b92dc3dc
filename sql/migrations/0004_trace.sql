-- Schema v4: traceability. Master data buyers and regulators ask for (registration ids,
-- certifications, products), lots identified by GTIN + lot code (the FSMA 204 traceability lot
-- code), and one store of critical tracking events in the EPCIS 2.0 model, whether they came
-- from an imported EPCIS document, from a device's load/unload event or from the CLI.
--
-- Identifiers are stored in one canonical form: GLNs, GTINs and SSCCs as their GS1 digit
-- strings, other EPCs as EPC URNs; conversion to Digital Link URIs happens at the edges.
-- Lots are keyed (gtin, lot); in a Citus deployment they and the trace tables are
-- reference-sized next to readings and stay on the coordinator.

SET search_path = coldtrace, public;

ALTER TABLE organisations
    ADD COLUMN pgln  text UNIQUE CHECK (pgln ~ '^[0-9]{13}$'),
    ADD COLUMN phone text;
ALTER TABLE organisations DROP CONSTRAINT organisations_kind_check;
ALTER TABLE organisations ADD CONSTRAINT organisations_kind_check
    CHECK (kind IN ('grower', 'packer', 'shipper', 'carrier', 'retailer', 'buyer', 'other'));

-- The FSMA "location description": business name (the organisation), phone, address or
-- coordinates, city, region, country.
ALTER TABLE sites
    ADD COLUMN address text,
    ADD COLUMN city    text,
    ADD COLUMN region  text,
    ADD COLUMN country text CHECK (country ~ '^[A-Z]{2}$'),
    ADD COLUMN phone   text;
ALTER TABLE sites DROP CONSTRAINT sites_kind_check;
ALTER TABLE sites ADD CONSTRAINT sites_kind_check
    CHECK (kind IN ('farm', 'packhouse', 'dc', 'store', 'other'));

-- Official registrations of a site, e.g. scheme 'gba_supply_base' (粤港澳大湾区"菜篮子"
-- production base id), 'ffrn' (FDA food facility registration number).
CREATE TABLE registrations (
    site_gln    text NOT NULL REFERENCES sites (gln) ON DELETE CASCADE,
    scheme      text NOT NULL CHECK (scheme ~ '^[a-z0-9_]{1,32}$'),
    ident       text NOT NULL CHECK (length(ident) BETWEEN 1 AND 64),
    PRIMARY KEY (site_gln, scheme)
);

-- Certifications held by a site, e.g. 圳品 (Shenzhen Standard), GLOBALG.A.P., 绿色食品.
CREATE TABLE certifications (
    site_gln    text NOT NULL REFERENCES sites (gln) ON DELETE CASCADE,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    scheme      text NOT NULL CHECK (length(scheme) BETWEEN 1 AND 64),
    number      text NOT NULL CHECK (length(number) BETWEEN 1 AND 64),
    issuer      text,
    valid_from  date,
    valid_to    date,
    PRIMARY KEY (site_gln, id),
    UNIQUE (site_gln, scheme, number),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to)
);

CREATE TABLE products (
    gtin         text PRIMARY KEY CHECK (gtin ~ '^[0-9]{14}$'),
    description  text NOT NULL CHECK (description <> ''),
    commodity    text REFERENCES commodities (code),
    owner_org_id bigint REFERENCES organisations (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A traceability lot: GTIN (AI 01) + lot (AI 10, 1-20 characters of GS1's CSET 82).
-- Master data set by the event that created the lot (harvest commissioning, packing
-- transformation) or by the CLI. `public` is the owner's choice of what a scanned QR code shows.
CREATE TABLE lots (
    gtin          text NOT NULL CHECK (gtin ~ '^[0-9]{14}$'),
    lot           text NOT NULL CHECK (lot ~ '^[!"%-?A-Z_a-z]{1,20}$'),
    owner_org_id  bigint REFERENCES organisations (id),
    farm_gln      text,
    field         text,
    harvest_start timestamptz,
    harvest_end   timestamptz,
    best_before   date,
    country       text CHECK (country ~ '^[A-Z]{2}$'),
    quantity      numeric CHECK (quantity >= 0),
    uom           text,
    public        boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gtin, lot)
);
CREATE INDEX lots_farm_harvest ON lots (farm_gln, harvest_start);

-- One critical tracking event in the EPCIS 2.0 model.
--   event_key: the identity that makes capture idempotent: the document's eventID when it
--     has one, otherwise a digest of the event's canonical XML ('ni:///sha-256;…'); device
--     events are 'urn:coldtrace:device:<device>:<seq>'.
--   biz_step, disposition: the CBV term alone ('shipping', 'in_transit'); a non-CBV URI is
--     kept whole.
--   site_gln: bizLocation as a GLN (NULL in transit); read_point: readPoint id as given.
--   src_gln / dest_gln: the 'location' source and destination, as GLNs.
--   parent_epc: parentID of aggregation/association events (parent_sscc: its 18 digits when
--     it is an SSCC, so pallets join without parsing URNs).
--   transformation_id: links the steps of one transformation (EPCIS transformationID).
--   extra_xml: what the relational columns do not model (sensorElementList, ilmd,
--     certificationInfo, errorDeclaration, persistentDisposition, user extensions), as the
--     serialised XML elements in document order, so export reproduces them.
CREATE TABLE trace_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key        text NOT NULL UNIQUE,
    origin           text NOT NULL CHECK (origin IN ('epcis', 'device', 'cli')),
    type             text NOT NULL CHECK (type IN ('ObjectEvent', 'AggregationEvent',
                     'TransformationEvent', 'TransactionEvent', 'AssociationEvent')),
    action           text CHECK (action IN ('ADD', 'OBSERVE', 'DELETE')),
    biz_step         text,
    disposition      text,
    event_time       timestamptz NOT NULL,
    tz_offset        text NOT NULL CHECK (tz_offset ~ '^[+-][0-9]{2}:[0-9]{2}$'),
    read_point       text,
    site_gln         text,
    src_gln          text,
    dest_gln         text,
    parent_epc       text,
    parent_sscc      text CHECK (parent_sscc ~ '^[0-9]{18}$'),  -- parent_epc when an SSCC
    transformation_id text,
    shipment_id      text REFERENCES shipments (id),
    device_id        text,
    device_seq       bigint,
    biz_transactions jsonb NOT NULL DEFAULT '[]',  -- [{"type": "po", "id": "…"}]
    sources          jsonb NOT NULL DEFAULT '[]',  -- [{"type": "location", "id": "…"}]
    destinations     jsonb NOT NULL DEFAULT '[]',
    extra_xml        text,
    document         text,                          -- file name or 'device', for the audit trail
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trace_events_shipment ON trace_events (shipment_id) WHERE shipment_id IS NOT NULL;
CREATE INDEX trace_events_site_time ON trace_events (site_gln, event_time);
CREATE INDEX trace_events_dest ON trace_events (dest_gln) WHERE dest_gln IS NOT NULL;
CREATE INDEX trace_events_parent ON trace_events (parent_epc) WHERE parent_epc IS NOT NULL;
CREATE INDEX trace_events_parent_sscc ON trace_events (parent_sscc) WHERE parent_sscc IS NOT NULL;
CREATE INDEX trace_events_transformation ON trace_events (transformation_id)
    WHERE transformation_id IS NOT NULL;

-- What an event is about, one row per EPC or quantity element:
--   role 'what' (epcList / quantityList), 'child' (childEPCs / childQuantityList),
--   'input' / 'output' (transformations).
--   A lot class (LGTIN) fills gtin + lot; an instance (SSCC, SGTIN, GIAI) fills epc, and for
--   an SSCC also sscc (18 digits) so pallets join without parsing URNs.
CREATE TABLE trace_items (
    event_id  bigint NOT NULL REFERENCES trace_events (id) ON DELETE CASCADE,
    ord       integer NOT NULL,
    role      text NOT NULL CHECK (role IN ('what', 'child', 'input', 'output')),
    epc       text,
    sscc      text CHECK (sscc ~ '^[0-9]{18}$'),
    gtin      text CHECK (gtin ~ '^[0-9]{14}$'),
    lot       text,
    quantity  numeric,
    uom       text,
    PRIMARY KEY (event_id, ord),
    CHECK ((gtin IS NULL) = (lot IS NULL)),
    CHECK (epc IS NOT NULL OR sscc IS NOT NULL OR gtin IS NOT NULL)
);
CREATE INDEX trace_items_lot ON trace_items (gtin, lot) WHERE gtin IS NOT NULL;
CREATE INDEX trace_items_sscc ON trace_items (sscc) WHERE sscc IS NOT NULL;

-- Device load/unload events become critical tracking events: a load is the FSMA shipping
-- event of its site (bizStep shipping, in_transit, to the shipment's destination), an unload
-- the receiving event (bizStep receiving, in_progress). Done in the database so that the
-- ingest's batch transaction records both or neither.
CREATE FUNCTION ct_trace_device_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ev_id   bigint;
    dest    text;
    orig    text;
    n       integer := 0;
    lot_el  jsonb;
    pallet  text;
BEGIN
    IF NEW.type NOT IN ('load', 'unload') THEN
        RETURN NULL;
    END IF;
    SELECT origin_gln, destination_gln INTO orig, dest
      FROM shipments WHERE id = NEW.shipment_id;
    INSERT INTO trace_events (event_key, origin, type, action, biz_step, disposition,
                              event_time, tz_offset, read_point, site_gln, src_gln, dest_gln,
                              shipment_id, device_id, device_seq, document)
    VALUES ('urn:coldtrace:device:' || NEW.device_id || ':' || NEW.seq, 'device',
            'ObjectEvent', 'OBSERVE',
            CASE NEW.type WHEN 'load' THEN 'shipping' ELSE 'receiving' END,
            CASE NEW.type WHEN 'load' THEN 'in_transit' ELSE 'in_progress' END,
            NEW.measured_at, '+00:00', NEW.site_gln,
            CASE NEW.type WHEN 'load' THEN NULL ELSE NEW.site_gln END,
            CASE NEW.type WHEN 'load' THEN coalesce(NEW.site_gln, orig) ELSE orig END,
            CASE NEW.type WHEN 'load' THEN dest ELSE coalesce(NEW.site_gln, dest) END,
            NEW.shipment_id, NEW.device_id, NEW.seq, 'device')
    ON CONFLICT (event_key) DO NOTHING
    RETURNING id INTO ev_id;
    IF ev_id IS NULL THEN
        RETURN NULL;
    END IF;
    FOR lot_el IN SELECT * FROM jsonb_array_elements(coalesce(NEW.lots, '[]'))
    LOOP
        n := n + 1;
        INSERT INTO trace_items (event_id, ord, role, gtin, lot, quantity, uom)
        VALUES (ev_id, n, 'what', lpad(lot_el->>'gtin', 14, '0'), lot_el->>'lot',
                (lot_el->>'qty')::numeric, lot_el->>'uom');
    END LOOP;
    FOREACH pallet IN ARRAY coalesce(NEW.sscc, '{}')
    LOOP
        n := n + 1;
        INSERT INTO trace_items (event_id, ord, role, epc, sscc)
        VALUES (ev_id, n, 'what', NULL, pallet);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER events_trace AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.type IN ('load', 'unload'))
    EXECUTE FUNCTION ct_trace_device_event();

-- Buyer-facing output names people and vehicles by pseudonyms: a keyed SHA-256 of the name,
-- with a key made once per database, so a pseudonym is stable across reports and cannot be
-- reversed by hashing a list of names.
CREATE TABLE pseudonym_key (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    key  text NOT NULL
);
INSERT INTO pseudonym_key (key)
VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- ct_pseudonym('QA', 'Li Wei') → 'QA-3f2a91c0'.
CREATE FUNCTION ct_pseudonym(kind text, name text) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
    SELECT kind || '-' || left(encode(sha256(convert_to(k.key || ':' || kind || ':' || name,
                                                        'UTF8')), 'hex'), 8)
      FROM pseudonym_key k
$$;
