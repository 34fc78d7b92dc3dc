-- Excursions, per-shipment cold-chain figures, alerts and the QA workflow with its audit log.
--
-- The monitor (coldtrace-monitor) recomputes a shipment's excursions and figures from its
-- readings and events whenever new data for it is committed (eval_queue, filled by the
-- ingest's apply function), so the result depends only on what was measured, never on the
-- order in which it arrived. QA actions never change the computed rows; they are rows of
-- their own and every one of them lands in the append-only audit_log.

SET search_path = coldtrace, public;

-- Shipments with data committed since their last evaluation.
CREATE TABLE eval_queue (
    shipment_id text PRIMARY KEY,
    queued_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per excursion episode: a period where the decision probe broke a limit of the
-- shipment's profile long enough to qualify, in one direction.
CREATE TABLE excursions (
    shipment_id     text NOT NULL REFERENCES shipments (id),
    id              bigint GENERATED ALWAYS AS IDENTITY,
    direction       text NOT NULL CHECK (direction IN ('above', 'below')),
    severity        text NOT NULL CHECK (severity IN ('warning', 'major', 'critical')),
    state           text NOT NULL CHECK (state IN ('open', 'closed')),
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    threshold_c     real NOT NULL,
    peak_c          real NOT NULL,
    duration_s      bigint NOT NULL,
    degree_minutes  double precision NOT NULL,
    probe           text NOT NULL,
    phase           text NOT NULL CHECK (phase IN ('origin', 'transit', 'destination')),
    budget_breach   boolean NOT NULL DEFAULT false,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shipment_id, id)
);

-- Figures of a shipment (lot_key '') and of each lot on it (lot_key = gtin || '/' || lot).
CREATE TABLE shipment_figures (
    shipment_id         text NOT NULL REFERENCES shipments (id),
    lot_key             text NOT NULL DEFAULT '',
    from_time           timestamptz,
    to_time             timestamptz,
    probe               text,
    samples             integer NOT NULL,
    min_c               real,
    max_c               real,
    mean_c              real,
    mkt_c               real,
    time_above_s        bigint NOT NULL DEFAULT 0,
    time_below_s        bigint NOT NULL DEFAULT 0,
    degree_minutes      double precision NOT NULL DEFAULT 0,
    coverage            real NOT NULL,
    gaps                jsonb NOT NULL DEFAULT '[]',
    remaining_life_days real,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shipment_id, lot_key)
);

-- Every state change of an excursion, as published on {prefix}/alerts/{shipment}.
CREATE TABLE alerts (
    shipment_id     text NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    excursion_id    bigint NOT NULL,
    change          text NOT NULL CHECK (change IN ('opened', 'escalated', 'closed')),
    severity        text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    webhook_at      timestamptz,
    PRIMARY KEY (shipment_id, id)
);
CREATE INDEX alerts_unpublished ON alerts (created_at) WHERE published_at IS NULL;

-- QA: acknowledgements, comments, dispositions and flags, on an excursion, a data gap, a
-- shipment or a lot. Rows are only ever added.
CREATE TABLE qa_actions (
    shipment_id     text NOT NULL REFERENCES shipments (id),
    id              bigint GENERATED ALWAYS AS IDENTITY,
    target          text NOT NULL CHECK (target IN ('excursion', 'gap', 'shipment', 'lot')),
    target_id       text NOT NULL,
    action          text NOT NULL CHECK (action IN ('acknowledge', 'comment', 'disposition', 'flag', 'unflag')),
    disposition     text CHECK (disposition IN ('release', 'partial_release', 'hold', 'reject')),
    reason          text,
    actor           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shipment_id, id),
    CHECK ((action = 'disposition') = (disposition IS NOT NULL)),
    CHECK (action NOT IN ('disposition', 'flag', 'comment') OR length(coalesce(reason, '')) > 0)
);

-- The audit log: who, when, what, before and after. The database refuses to change or
-- delete a row of it, whoever asks (the trigger also stops table owners; TRUNCATE too).
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL,
    action      text NOT NULL,
    object      text NOT NULL,
    before      jsonb,
    after       jsonb
);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- Every QA action is audited in the same transaction that records it.
CREATE FUNCTION qa_action_audited() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO coldtrace.audit_log (actor, action, object, before, after)
    VALUES (NEW.actor, 'qa.' || NEW.action,
            NEW.target || ':' || NEW.shipment_id || ':' || NEW.target_id,
            (SELECT to_jsonb(a) FROM coldtrace.qa_actions a
              WHERE a.shipment_id = NEW.shipment_id AND a.target = NEW.target
                AND a.target_id = NEW.target_id
                AND (a.action = NEW.action
                     OR (a.action IN ('flag', 'unflag') AND NEW.action IN ('flag', 'unflag')))
                AND a.id < NEW.id
              ORDER BY a.id DESC LIMIT 1),
            to_jsonb(NEW));
    RETURN NEW;
END;
$$;

CREATE TRIGGER qa_actions_audit AFTER INSERT ON qa_actions
    FOR EACH ROW EXECUTE FUNCTION qa_action_audited();

CREATE FUNCTION qa_actions_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'qa_actions are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER qa_actions_no_update BEFORE UPDATE OR DELETE ON qa_actions
    FOR EACH ROW EXECUTE FUNCTION qa_actions_are_append_only();
CREATE TRIGGER qa_actions_no_truncate BEFORE TRUNCATE ON qa_actions
    FOR EACH STATEMENT EXECUTE FUNCTION qa_actions_are_append_only();

-- Replication mode (session_replication_role = replica) silences ordinary triggers; these
-- guards and the audit must fire always. Only a table owner can still disable them, which
-- is why the services connect as a role that owns nothing.
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_update;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
ALTER TABLE qa_actions ENABLE ALWAYS TRIGGER qa_actions_audit;
ALTER TABLE qa_actions ENABLE ALWAYS TRIGGER qa_actions_no_update;
ALTER TABLE qa_actions ENABLE ALWAYS TRIGGER qa_actions_no_truncate;
