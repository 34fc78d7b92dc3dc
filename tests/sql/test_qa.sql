-- QA actions and the audit log (schema v3): every qa_actions insert writes exactly one audit
-- row with its before and after; audit_log refuses UPDATE, DELETE and TRUNCATE whoever asks
-- (the superuser who owns it here, and an owner that is no superuser); qa_actions refuses
-- UPDATE and DELETE; a disposition needs its decision and a reason. Rolled back at the end.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET search_path = coldtrace, public;
SELECT plan(31);

SELECT has_table('coldtrace', 'qa_actions', 'qa_actions table');
SELECT has_table('coldtrace', 'audit_log', 'audit_log table');

INSERT INTO sites (gln, name, kind) VALUES ('6970000000017', 'Guiyang PH', 'packhouse'),
                                         ('6970000000024', 'GZ DC', 'dc')
    ON CONFLICT (gln) DO NOTHING;
INSERT INTO shipments (id, origin_gln, destination_gln, commodity)
     VALUES ('SHP-QA', '6970000000017', '6970000000024', 'CHOY_SUM');
INSERT INTO excursions (shipment_id, direction, severity, state, started_at, ended_at,
                        threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('SHP-QA', 'above', 'major', 'closed', '2026-11-22T03:00:00Z',
             '2026-11-22T03:40:00Z', 2, 7.5, 2400, 110, 'product', 'transit');
CREATE TEMP TABLE exc AS SELECT id::text AS id FROM excursions WHERE shipment_id = 'SHP-QA';
CREATE TEMP TABLE mark AS SELECT coalesce(max(id), 0) AS last FROM audit_log;

-- One insert, one audit row: who, what, and the row itself as "after"; nothing before it.
INSERT INTO qa_actions (shipment_id, target, target_id, action, actor)
SELECT 'SHP-QA', 'excursion', id, 'acknowledge', 'alice' FROM exc;
SELECT is((SELECT count(*)::int FROM audit_log WHERE id > (SELECT last FROM mark)), 1,
          'a qa_actions insert writes exactly one audit row');
SELECT results_eq(
    $$SELECT actor, action, object FROM audit_log WHERE id > (SELECT last FROM mark)$$,
    $$SELECT 'alice'::text, 'qa.acknowledge'::text, 'excursion:SHP-QA:' || id FROM exc$$,
    'the audit row names the actor, the action and the object');
SELECT ok((SELECT before IS NULL FROM audit_log WHERE id > (SELECT last FROM mark)),
          'the first action on a target has no before');
SELECT is((SELECT after FROM audit_log WHERE id > (SELECT last FROM mark)),
          (SELECT to_jsonb(a) FROM qa_actions a WHERE a.shipment_id = 'SHP-QA'
              AND a.action = 'acknowledge'),
          'after is the recorded qa_actions row');
SELECT ok((SELECT at IS NOT NULL AND at <= clock_timestamp() FROM audit_log
            WHERE id > (SELECT last FROM mark)), 'the audit row has its time');

-- A second disposition of the same target: before is the first, after the second.
INSERT INTO qa_actions (shipment_id, target, target_id, action, disposition, reason, actor)
SELECT 'SHP-QA', 'excursion', id, 'disposition', 'hold', 'waiting for the pulp readings', 'bob'
  FROM exc;
INSERT INTO qa_actions (shipment_id, target, target_id, action, disposition, reason, actor)
SELECT 'SHP-QA', 'excursion', id, 'disposition', 'release', 'pulp 1.8 C at arrival', 'carol'
  FROM exc;
SELECT is((SELECT count(*)::int FROM audit_log WHERE id > (SELECT last FROM mark)), 3,
          'three inserts, three audit rows');
SELECT results_eq(
    $$SELECT before->>'disposition', before->>'actor', after->>'disposition', after->>'actor'
        FROM audit_log WHERE id > (SELECT last FROM mark) ORDER BY id DESC LIMIT 1$$,
    $$VALUES ('hold'::text, 'bob'::text, 'release'::text, 'carol'::text)$$,
    'a later disposition records the earlier one as before and itself as after');
SELECT ok((SELECT before IS NULL FROM audit_log WHERE id > (SELECT last FROM mark)
            AND after->>'actor' = 'bob'),
          'the first disposition has no before (the acknowledgement is another kind)');

-- The audit log is append-only, for the superuser that owns it (this session)…
SELECT ok((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
          AND (SELECT pg_get_userbyid(relowner) FROM pg_class
                WHERE oid = 'coldtrace.audit_log'::regclass) = current_user,
          'this session is a superuser and owns audit_log');
SELECT throws_ok($$UPDATE audit_log SET actor = 'mallory'$$, '42501',
                 'audit_log is append-only: UPDATE refused', 'UPDATE on audit_log is refused');
SELECT throws_ok($$UPDATE audit_log SET after = NULL WHERE id = (SELECT max(id) FROM audit_log)$$,
                 '42501', 'audit_log is append-only: UPDATE refused',
                 'UPDATE of one audit row is refused');
SELECT throws_ok($$DELETE FROM audit_log$$, '42501', 'audit_log is append-only: DELETE refused',
                 'DELETE on audit_log is refused');
SELECT throws_ok($$DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)$$, '42501',
                 'audit_log is append-only: DELETE refused', 'DELETE of one audit row is refused');
SELECT throws_ok($$TRUNCATE audit_log$$, '42501', 'audit_log is append-only: TRUNCATE refused',
                 'TRUNCATE on audit_log is refused');
SELECT is((SELECT count(*)::int FROM audit_log WHERE id > (SELECT last FROM mark)), 3,
          'the audit rows are all still there');

-- …and for an owner that is no superuser (the usual application role). The statements run
-- in a SECURITY DEFINER function owned by that role; the messages tell the trigger's refusal
-- from a missing privilege, which has the same SQLSTATE.
CREATE ROLE coldtrace_test_qa_owner NOLOGIN NOSUPERUSER;
GRANT USAGE ON SCHEMA coldtrace TO coldtrace_test_qa_owner;
ALTER TABLE audit_log OWNER TO coldtrace_test_qa_owner;
ALTER TABLE qa_actions OWNER TO coldtrace_test_qa_owner;
CREATE FUNCTION pg_temp.as_owner(stmt text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN EXECUTE stmt; END $$;
ALTER FUNCTION pg_temp.as_owner(text) OWNER TO coldtrace_test_qa_owner;
SELECT lives_ok($$SELECT pg_temp.as_owner('SELECT count(*) FROM coldtrace.audit_log')$$,
                'the owner reads audit_log');
SELECT throws_ok($$SELECT pg_temp.as_owner('UPDATE coldtrace.audit_log SET actor = ''x''')$$,
                 '42501', 'audit_log is append-only: UPDATE refused',
                 'UPDATE on audit_log is refused to its owner');
SELECT throws_ok($$SELECT pg_temp.as_owner('DELETE FROM coldtrace.audit_log')$$,
                 '42501', 'audit_log is append-only: DELETE refused',
                 'DELETE on audit_log is refused to its owner');
SELECT throws_ok($$SELECT pg_temp.as_owner('TRUNCATE coldtrace.audit_log')$$,
                 '42501', 'audit_log is append-only: TRUNCATE refused',
                 'TRUNCATE on audit_log is refused to its owner');
SELECT throws_ok($$SELECT pg_temp.as_owner('DELETE FROM coldtrace.qa_actions')$$,
                 '42501', 'qa_actions are append-only: DELETE refused',
                 'DELETE on qa_actions is refused to its owner');

-- QA actions themselves are never changed or removed.
SELECT throws_ok($$UPDATE qa_actions SET disposition = 'release' WHERE disposition = 'hold'$$,
                 '42501', 'qa_actions are append-only: UPDATE refused',
                 'UPDATE on qa_actions is refused');
SELECT throws_ok($$UPDATE qa_actions SET actor = 'mallory'$$, '42501',
                 'qa_actions are append-only: UPDATE refused',
                 'rewriting the actor of qa_actions is refused');
SELECT throws_ok($$DELETE FROM qa_actions$$, '42501', 'qa_actions are append-only: DELETE refused',
                 'DELETE on qa_actions is refused');
SELECT is((SELECT count(*)::int FROM qa_actions WHERE shipment_id = 'SHP-QA'), 3,
          'the QA actions are all still there');

-- A disposition needs a decision and a reason; the CHECKs refuse it before any audit row.
SELECT throws_ok($$INSERT INTO qa_actions (shipment_id, target, target_id, action, disposition,
                                           actor)
                   VALUES ('SHP-QA', 'shipment', 'SHP-QA', 'disposition', 'reject', 'dave')$$,
                 '23514', NULL, 'a disposition without a reason is refused');
SELECT throws_ok($$INSERT INTO qa_actions (shipment_id, target, target_id, action, disposition,
                                           reason, actor)
                   VALUES ('SHP-QA', 'shipment', 'SHP-QA', 'disposition', 'reject', '', 'dave')$$,
                 '23514', NULL, 'a disposition with an empty reason is refused');
SELECT throws_ok($$INSERT INTO qa_actions (shipment_id, target, target_id, action, reason, actor)
                   VALUES ('SHP-QA', 'shipment', 'SHP-QA', 'disposition', 'why', 'dave')$$,
                 '23514', NULL, 'a disposition without a decision is refused');
SELECT throws_ok($$INSERT INTO qa_actions (shipment_id, target, target_id, action, actor)
                   VALUES ('SHP-QA', 'lot', '16912345678909/L1', 'flag', 'dave')$$,
                 '23514', NULL, 'a flag without a reason is refused');
SELECT is((SELECT count(*)::int FROM audit_log WHERE id > (SELECT last FROM mark)), 3,
          'refused inserts leave no audit row');

SELECT * FROM finish();
ROLLBACK;
