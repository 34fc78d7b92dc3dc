-- Profiles (schema v2): the commodity reference data is loaded, every commodity has a default
-- profile with the derived limits, ct_profile_for picks the most specific profile, and the
-- constraints keep phases, probes and scopes well-formed. Rolled back at the end.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET search_path = coldtrace, public;
SELECT plan(29);

SELECT has_table('coldtrace', 'commodities', 'commodities table');
SELECT has_table('coldtrace', 'profiles', 'profiles table');
SELECT has_table('coldtrace', 'profile_limits', 'profile_limits table');

-- Reference data, as in shared/commodities.csv.
SELECT is((SELECT count(*)::int FROM commodities), 40, 'the 40 commodities are loaded');
SELECT results_eq(
    $$SELECT name_zh, temp_min_c, temp_max_c, temp_opt_c, storage_life_days, chilling_sensitive,
             lowest_safe_c, freezing_point_c
        FROM commodities WHERE code = 'CHOY_SUM'$$,
    $$VALUES ('菜心'::text, 0::numeric, 2::numeric, 0::numeric, 21, false, 0::numeric,
              NULL::numeric)$$,
    'choy sum is stored at 0-2 °C (opt 0), 21 d, not chilling-sensitive, no freezing point');
SELECT results_eq(
    $$SELECT name_zh, temp_min_c, lowest_safe_c, freezing_point_c, ethylene_sensitivity
        FROM commodities WHERE code = 'TOMATO_MG'$$,
    $$VALUES ('番茄(绿熟)'::text, 12.5::numeric, 12.5::numeric, -0.5::numeric, 'high'::text)$$,
    'decimals, negative values and non-ASCII names survive the load');
SELECT is((SELECT count(*)::int FROM commodities WHERE source = '' OR source IS NULL), 0,
          'every commodity keeps its source');

-- Default profiles and the derivation rule.
SELECT is((SELECT count(*)::int FROM commodities c
            WHERE (SELECT count(*) FROM profiles p
                    WHERE p.commodity = c.code AND p.gtin IS NULL AND p.org_id IS NULL) <> 1),
          0, 'every commodity has exactly one default profile');
SELECT is((SELECT count(*)::int FROM profiles p
            WHERE p.gtin IS NULL AND p.org_id IS NULL
              AND (SELECT count(*) FROM profile_limits l WHERE l.profile_id = p.id) < 3),
          0, 'every default profile has at least 3 limits');
SELECT results_eq(
    $$SELECT l.kind, l.severity, l.threshold_c, l.min_duration_s, l.cumulative_budget_s, l.phases
        FROM profile_limits l WHERE l.profile_id = ct_profile_for('CHOY_SUM', NULL, NULL)
       ORDER BY l.kind DESC, l.threshold_c$$,
    $$VALUES ('upper'::text, 'warning'::text, 4::numeric, 1800, NULL::int, '{transit}'::text[]),
             ('upper', 'major', 7, 1800, 3600, '{origin,transit,destination}'),
             ('upper', 'critical', 12, 900, NULL, '{origin,transit,destination}'),
             ('lower', 'critical', 0, 900, NULL, '{origin,transit,destination}')$$,
    'choy sum default: warm warning/major/critical at max+2/+5/+10, freezing guard at 0 °C');
SELECT results_eq(
    $$SELECT l.severity, l.threshold_c FROM profile_limits l
       WHERE l.profile_id = ct_profile_for('TOMATO_MG', NULL, NULL) AND l.kind = 'lower'
       ORDER BY l.threshold_c DESC$$,
    $$VALUES ('major'::text, 12.5::numeric), ('critical', 0.0)$$,
    'a chilling-sensitive crop gets a major limit at its lowest safe temperature');
SELECT is((SELECT l.threshold_c FROM profile_limits l
            WHERE l.profile_id = ct_profile_for('SPINACH', NULL, NULL)
              AND l.kind = 'lower' AND l.severity = 'critical'),
          0::numeric, 'the freezing guard (fp -0.3 + 0.5) is capped at temp_min');
SELECT is((SELECT l.threshold_c FROM profile_limits l
            WHERE l.profile_id = ct_profile_for('GRAPE', NULL, NULL)
              AND l.kind = 'lower' AND l.severity = 'critical'),
          -2.2::numeric, 'the freezing guard is the freezing point + 0.5 °C');
SELECT is((SELECT count(*)::int FROM profiles
            WHERE decision_probes <> '{product,return}' OR door_grace_s <> 900
               OR NOT suppress_defrost),
          0, 'defaults: product probe else return air, 15 min door grace, defrost suppressed');

-- A limit's phases are a subset of origin, transit, destination.
SELECT is((SELECT count(*)::int FROM profile_limits
            WHERE NOT (phases <@ '{origin,transit,destination}') OR cardinality(phases) = 0),
          0, 'every stored limit has phases within the three');
SELECT throws_ok(
    $$INSERT INTO profile_limits (profile_id, kind, threshold_c, severity, phases)
      VALUES (ct_profile_for('CHOY_SUM', NULL, NULL), 'upper', 5, 'warning', '{transit,warehouse}')$$,
    '23514', NULL, 'an unknown phase is refused');
SELECT throws_ok(
    $$INSERT INTO profile_limits (profile_id, kind, threshold_c, severity, phases)
      VALUES (ct_profile_for('CHOY_SUM', NULL, NULL), 'upper', 5, 'warning', '{}')$$,
    '23514', NULL, 'a limit must apply somewhere');
SELECT throws_ok(
    $$INSERT INTO profile_limits (profile_id, kind, threshold_c, severity, phases)
      VALUES (ct_profile_for('CHOY_SUM', NULL, NULL), 'upper', 5, 'warning', ARRAY['transit', NULL])$$,
    '23514', NULL, 'a NULL phase is refused');
SELECT throws_ok(
    $$INSERT INTO profile_limits (profile_id, kind, threshold_c, severity)
      VALUES (ct_profile_for('CHOY_SUM', NULL, NULL), 'both', 5, 'warning')$$,
    '23514', NULL, 'a limit is upper or lower (a band is two rows)');

-- Scopes and ct_profile_for.
INSERT INTO organisations (name, kind) VALUES ('Test retailer A', 'retailer'),
                                              ('Test retailer B', 'retailer');
CREATE TEMP TABLE ids AS
SELECT (SELECT id FROM organisations WHERE name = 'Test retailer A') AS org_a,
       (SELECT id FROM organisations WHERE name = 'Test retailer B') AS org_b,
       ct_profile_for('CHOY_SUM', NULL, NULL) AS dflt;

INSERT INTO profiles (commodity, gtin, name)
VALUES ('CHOY_SUM', '19521234000010', 'choy sum 500 g bunch');
INSERT INTO profiles (commodity, org_id, name, door_grace_s)
SELECT 'CHOY_SUM', org_a, 'retailer A choy sum', 600 FROM ids;
INSERT INTO profiles (commodity, gtin, org_id, name, decision_probes)
SELECT 'CHOY_SUM', '19521234000010', org_a, 'retailer A choy sum 500 g', '{p1,product,return}'
  FROM ids;
CREATE TEMP TABLE pids AS
SELECT (SELECT id FROM profiles WHERE gtin = '19521234000010' AND org_id IS NULL) AS p_gtin,
       (SELECT id FROM profiles p, ids WHERE p.gtin IS NULL AND p.org_id = ids.org_a) AS p_org,
       (SELECT id FROM profiles p, ids WHERE p.gtin IS NOT NULL AND p.org_id = ids.org_a) AS p_both;

SELECT ok((SELECT dflt FROM ids) IS NOT NULL, 'the default profile is found without GTIN or customer');
SELECT is(ct_profile_for('CHOY_SUM', '19521234000010', NULL), (SELECT p_gtin FROM pids),
          'a GTIN-specific profile wins over the default');
SELECT is(ct_profile_for('CHOY_SUM', '19521234000010', (SELECT org_b FROM ids)),
          (SELECT p_gtin FROM pids), 'another customer of that GTIN gets the GTIN profile');
SELECT is(ct_profile_for('CHOY_SUM', '09521234000013', (SELECT org_a FROM ids)),
          (SELECT p_org FROM pids), 'a customer profile wins over the default');
SELECT is(ct_profile_for('CHOY_SUM', '19521234000010', (SELECT org_a FROM ids)),
          (SELECT p_both FROM pids), 'a customer+GTIN profile wins over both');
SELECT is(ct_profile_for('CHOY_SUM', '09521234000013', (SELECT org_b FROM ids)),
          (SELECT dflt FROM ids), 'an unknown GTIN of another customer falls back to the default');
SELECT is(ct_profile_for('GAI_LAN', '19521234000010', (SELECT org_a FROM ids)),
          ct_profile_for('GAI_LAN', NULL, NULL), 'profiles of one commodity never apply to another');
SELECT is(ct_profile_for('DURIAN', NULL, NULL), NULL, 'no profile for an unknown commodity');

SELECT throws_ok(
    $$INSERT INTO profiles (commodity, gtin, name) VALUES ('CHOY_SUM', '19521234000010', 'again')$$,
    '23505', NULL, 'one profile per (commodity, GTIN, customer)');
SELECT throws_ok(
    $$INSERT INTO profiles (commodity, name, decision_probes) VALUES ('GAI_LAN', 'x', '{pulp}')$$,
    '23514', NULL, 'decision probes come from the known probe names');

SELECT * FROM finish();
ROLLBACK;
