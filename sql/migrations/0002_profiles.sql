-- Schema v2: temperature profiles for produce — the reference data behind excursion
-- detection and QA (issue 4).
--
-- commodities    storage conditions per commodity, derived by the project from
--                shared/commodities.csv (domain.md §4); the rows below were generated from
--                that file (sha256 92d4bd9b7cce0881b0abf22eb6bf6aeae6b6d07f6d422f3949b38d8acc56db37)
--                and are the project's own copy: a change to the CSV lands as a new migration.
-- profiles       which limits apply to a commodity, optionally narrowed to one product (GTIN)
--                and/or one customer (organisation); ct_profile_for() picks the most specific.
-- profile_limits the limits of a profile.
--
-- Distribution rule (see 0001): these three tables are small, read-mostly master data and
-- would become Citus reference tables, so their keys need no device_id or shipment_id.
--
-- Temperatures are numeric(5,2): reference values are exact decimals (12.5, -0.5) and derived
-- thresholds (freezing point + 0.5) must not pick up binary-float noise.

SET search_path = coldtrace, public;

CREATE TABLE commodities (
    code                 text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{0,63}$'),
    name_en              text NOT NULL CHECK (name_en <> ''),
    name_zh              text NOT NULL CHECK (name_zh <> ''),
    -- Recommended storage and transit range, and the set-point to aim for.
    temp_min_c           numeric(5,2) NOT NULL,
    temp_max_c           numeric(5,2) NOT NULL,
    temp_opt_c           numeric(5,2) NOT NULL,
    rh_min_pct           numeric(5,2) NOT NULL CHECK (rh_min_pct BETWEEN 0 AND 100),
    rh_max_pct           numeric(5,2) NOT NULL CHECK (rh_max_pct BETWEEN 0 AND 100),
    -- Lower end of the published range at temp_opt_c: the conservative figure.
    storage_life_days    integer NOT NULL CHECK (storage_life_days > 0),
    chilling_sensitive   boolean NOT NULL,
    -- Below it chilling injury is expected; equals temp_min_c for crops that are not
    -- chilling-sensitive.
    lowest_safe_c        numeric(5,2) NOT NULL,
    -- Highest freezing point of the tissue; NULL = no published value (not "cannot freeze").
    freezing_point_c     numeric(5,2),
    ethylene_sensitivity text NOT NULL CHECK (ethylene_sensitivity IN ('high', 'medium', 'low')),
    -- Where the numbers come from, kept with them so a QA decision can be traced to a table.
    source               text NOT NULL CHECK (source <> ''),
    CHECK (temp_min_c <= temp_opt_c AND temp_opt_c <= temp_max_c),
    CHECK (rh_min_pct <= rh_max_pct),
    CHECK (lowest_safe_c <= temp_min_c),
    CHECK (freezing_point_c IS NULL OR freezing_point_c < lowest_safe_c)
);

INSERT INTO commodities (code, name_en, name_zh, temp_min_c, temp_max_c, temp_opt_c,
                         rh_min_pct, rh_max_pct, storage_life_days, chilling_sensitive,
                         lowest_safe_c, freezing_point_c, ethylene_sensitivity, source)
VALUES
    ('CHOY_SUM', 'Choy sum (flowering Chinese cabbage)', '菜心', 0, 2, 0, 95, 100, 21, false, 0, NULL, 'high', 'Zong et al. Acta Hort. (UC Davis): best at 0 C >21 d; 5 C 7-14 d; 10 C 3-4 d; 1 ppm C2H4 -30% life'),
    ('GAI_LAN', 'Chinese kale (gai lan)', '芥蓝', 0, 2, 0, 95, 100, 21, false, 0, NULL, 'high', 'Zong et al. Acta Hort. (UC Davis): best at 0 C >21 d; 5 C 7-14 d; 10 C 3-4 d'),
    ('PAK_CHOI', 'Pak choi (bok choy)', '小白菜/青菜', 0, 2, 0, 95, 100, 21, false, 0, NULL, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('NAPA_CABBAGE', 'Chinese cabbage (napa)', '大白菜', 0, 2, 0, 90, 95, 28, false, 0, -0.9, 'high', 'DPIRD Western Australia (0-2 C 90-95% 4-6 wk); freezing point HB66'),
    ('PEA_SHOOTS', 'Pea shoots / pea tips', '豌豆尖', 0, 1, 0, 95, 100, 5, false, 0, NULL, 'medium', 'analog (no commodity table found): edible-pod peas UC Davis Produce Facts 0 C 95-98% <=14 d + leafy greens; conservative'),
    ('SPINACH', 'Spinach', '菠菜', 0, 2, 0, 95, 100, 10, false, 0, -0.3, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('LETTUCE', 'Lettuce (crisphead)', '生菜', 0, 2, 0, 98, 100, 14, false, 0, -0.2, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('CILANTRO', 'Cilantro (coriander leaves)', '香菜', 0, 1, 0, 95, 100, 14, false, 0, NULL, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('AMARANTH', 'Amaranth (Chinese spinach)', '苋菜', 0, 2, 1, 95, 100, 10, false, 0, NULL, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('GREEN_ONION', 'Green onion', '葱', 0, 1, 0, 95, 100, 21, false, 0, -0.9, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('BROCCOLI', 'Broccoli', '西兰花', 0, 1, 0, 95, 100, 10, false, 0, -0.6, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('CABBAGE', 'Cabbage (head)', '结球甘蓝/莲花白', 0, 1, 0, 98, 100, 90, false, 0, -0.9, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('CAULIFLOWER', 'Cauliflower', '花椰菜', 0, 1, 0, 95, 98, 21, false, 0, -0.8, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('CELERY', 'Celery', '芹菜', 0, 1, 0, 95, 100, 35, false, 0, -0.5, 'medium', 'USDA HB66 2016 (0 C 95% 5-7 wk); Cantwell 2001'),
    ('CARROT', 'Carrot (topped)', '胡萝卜', 0, 1, 0, 98, 100, 90, false, 0, -1.4, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('SNOW_PEA', 'Snow pea / edible-pod pea', '荷兰豆', 0, 1, 0, 95, 98, 7, false, 0, -0.6, 'medium', 'UC Davis Produce Facts (edible-pod peas); freezing point HB66'),
    ('SNAP_BEAN', 'Snap bean', '四季豆', 5, 7.5, 6, 95, 100, 8, true, 5, -0.7, 'medium', 'USDA HB66 2016 (5-7.5 C 95-100% 8-12 d); HB66 1986 lists 7 C as chilling limit for long holds'),
    ('SWEET_CORN', 'Sweet corn', '甜玉米', 0, 1.5, 0, 95, 98, 5, false, 0, -0.6, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('MUSHROOM', 'Mushrooms (Agaricus and others)', '蘑菇/食用菌', 0, 1, 0, 90, 95, 7, false, 0, -0.9, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('TOMATO_MG', 'Tomato (mature-green)', '番茄(绿熟)', 12.5, 15, 13, 90, 95, 14, true, 12.5, -0.5, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('TOMATO_RIPE', 'Tomato (firm-ripe)', '番茄(成熟)', 10, 12.5, 10, 90, 95, 7, true, 7, -0.5, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('CUCUMBER', 'Cucumber', '黄瓜', 10, 12.5, 10, 90, 95, 10, true, 7, -0.5, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('EGGPLANT', 'Eggplant', '茄子', 10, 12, 10, 90, 95, 7, true, 7, -0.8, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('BELL_PEPPER', 'Bell pepper', '甜椒', 7, 10, 7.5, 95, 98, 14, true, 7, -0.7, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('CHILI_PEPPER', 'Chilli pepper (fresh)', '鲜辣椒', 5, 10, 7, 85, 95, 14, true, 5, -0.7, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('BITTER_MELON', 'Bitter melon', '苦瓜', 12, 13, 12.5, 85, 90, 14, true, 10, NULL, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('GINGER', 'Ginger rhizome', '生姜', 12, 14, 13, 65, 75, 180, true, 12, NULL, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('KIWIFRUIT', 'Kiwifruit', '猕猴桃', 0, 1, 0, 90, 95, 90, false, 0, -0.9, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('ORANGE', 'Orange (CA/AZ type)', '橙', 3, 8, 5, 85, 90, 21, true, 3, -0.8, 'medium', 'USDA HB66 (CA/AZ 3-8 C; FL/TX 0-2 C); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('MANDARIN', 'Mandarin / tangerine', '柑橘/砂糖橘', 4, 7, 5, 90, 95, 14, true, 4, -1.1, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('LEMON', 'Lemon', '柠檬', 10, 13, 12, 85, 90, 30, true, 7, -1.4, 'medium', 'Cantwell 2001 UC Davis storage table (10-13 C); USDA HB66 2016 stores lemons at 7-12 C'),
    ('GRAPEFRUIT', 'Grapefruit / pomelo type', '葡萄柚', 10, 15, 12, 85, 90, 42, true, 10, -1.1, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('MANGO', 'Mango (mature-green)', '芒果', 10, 13, 13, 85, 90, 14, true, 10, -1.4, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('BANANA', 'Banana (green)', '香蕉', 13, 15, 13.5, 90, 95, 7, true, 11.5, -0.8, 'high', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('PAPAYA', 'Papaya', '木瓜', 7, 13, 10, 85, 90, 7, true, 7, -0.9, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('PINEAPPLE', 'Pineapple', '菠萝', 7, 13, 10, 85, 90, 14, true, 7, -1.1, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66); chilling limit: USDA HB66 1986 chilling-injury table'),
    ('LYCHEE', 'Lychee', '荔枝', 1, 2, 1.5, 90, 95, 21, false, 1, NULL, 'medium', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('STRAWBERRY', 'Strawberry', '草莓', 0, 1, 0, 90, 95, 7, false, 0, -0.8, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('BLUEBERRY', 'Blueberry', '蓝莓', -0.5, 0, 0, 90, 95, 14, false, -0.5, -1.3, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66)'),
    ('GRAPE', 'Grape (vinifera)', '葡萄', -1, 0, -0.5, 90, 95, 14, false, -1, -2.7, 'low', 'Cantwell 2001 UC Davis storage table (from USDA HB66)');

-- A profile: the limits for one commodity, as the default (gtin and org_id NULL), for one
-- product (gtin), for one customer (org_id) or for one customer's product (both).
CREATE TABLE profiles (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    commodity         text NOT NULL REFERENCES commodities (code),
    -- GTIN-14 form (shorter GTINs left-padded with zeros), as in GS1 element strings.
    gtin              text CHECK (gtin ~ '^[0-9]{14}$'),
    org_id            bigint REFERENCES organisations (id),
    name              text NOT NULL CHECK (name <> ''),
    -- Probes in order of preference: the first one with a valid reading decides. The product
    -- (pulp) probe is the product's truth; return air approximates the warmest zone of the
    -- load (domain.md §6.1). Names map to readings.t_product, t_return, t_supply, t_ambient
    -- and t_probes[1..16].
    decision_probes   text[] NOT NULL DEFAULT '{product,return}'
                      CHECK (cardinality(decision_probes) >= 1
                             AND array_ndims(decision_probes) = 1
                             AND array_position(decision_probes, NULL) IS NULL
                             AND decision_probes <@ ARRAY['product', 'return', 'supply', 'ambient',
                                 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9', 'p10',
                                 'p11', 'p12', 'p13', 'p14', 'p15', 'p16']),
    -- Readings within this many seconds of a door-open event (either side of the opening)
    -- are not judged: loading and unloading spikes are not product excursions. Raw time
    -- out of range is still computed and kept (domain.md §5.2).
    door_grace_s      integer NOT NULL DEFAULT 900 CHECK (door_grace_s BETWEEN 0 AND 86400),
    -- Readings during a defrost cycle reported by the reefer are not judged: defrost gives
    -- short return-air spikes that the product does not see.
    suppress_defrost  boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- One profile per scope. org_id 0 and gtin '' never occur (identity starts at 1, gtin is 14
-- digits), so they stand for "any" without colliding with a real value.
CREATE UNIQUE INDEX profiles_scope ON profiles (commodity, coalesce(gtin, ''), coalesce(org_id, 0));
CREATE INDEX profiles_org ON profiles (org_id) WHERE org_id IS NOT NULL;

-- One limit: the decision probe beyond threshold_c (kind upper: strictly above; lower:
-- strictly below) for at least min_duration_s without interruption raises it, and so does
-- the total time beyond threshold_c over the trip exceeding cumulative_budget_s (when set),
-- even if no single run lasted min_duration_s. A band (upper and lower) is two rows.
-- phases: where the limit is judged — at the origin site (pre-trip, loading), in transit,
-- at the destination site (waiting, unloading).
CREATE TABLE profile_limits (
    profile_id          bigint NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id                  bigint GENERATED ALWAYS AS IDENTITY,
    kind                text NOT NULL CHECK (kind IN ('upper', 'lower')),
    threshold_c         numeric(5,2) NOT NULL,
    min_duration_s      integer NOT NULL DEFAULT 0 CHECK (min_duration_s >= 0),
    cumulative_budget_s integer CHECK (cumulative_budget_s > 0),
    severity            text NOT NULL CHECK (severity IN ('warning', 'major', 'critical')),
    phases              text[] NOT NULL DEFAULT '{origin,transit,destination}'
                        CHECK (cardinality(phases) >= 1
                               AND array_ndims(phases) = 1
                               AND array_position(phases, NULL) IS NULL
                               AND phases <@ ARRAY['origin', 'transit', 'destination']),
    PRIMARY KEY (profile_id, id)
);

-- Default profiles: one per commodity, derived from its row by this rule (temperatures in
-- °C, durations in minutes; "all" = origin, transit and destination):
--
--   kind   severity  threshold                                      min dur  budget  phases
--   upper  warning   temp_max + 2                                   30       –       transit
--   upper  major     temp_max + 5                                   30       60      all
--   upper  critical  temp_max + 10                                  15       –       all
--   lower  major     lowest_safe (chilling-sensitive crops only)    30       60      all
--   lower  critical  least(coalesce(freezing_point, -0.5) + 0.5,    15       –       all
--                          temp_min)
--
-- Why: warm exposure costs shelf life gradually (Q10 ≈ 2–4 per 10 °C, domain.md §5.4), so
-- warm limits are graded and the middle one has a budget for short repeated spikes; the
-- warning is judged in transit only because the dock (origin, destination) is where the
-- door-open grace already applies and a 2 °C rise there is routine. Chilling injury
-- (sensitive crops below lowest_safe) and freezing are damage, not faster ageing: chilling
-- is major, freezing critical. The freezing guard is domain.md §4's "freezing point + 0.5 °C"
-- with −0.5 °C assumed when no freezing point is published; it is capped at temp_min because
-- for spinach (−0.3) and lettuce (−0.2) the guard would lie above the recommended range and
-- fire at the recommended set-point of 0 °C. Not derived: a lower "below range" warning for
-- crops that are not chilling-sensitive (being under temp_min is harmless until freezing).
INSERT INTO profiles (commodity, name)
SELECT code, 'default: ' || name_en FROM commodities;

INSERT INTO profile_limits (profile_id, kind, threshold_c, min_duration_s, cumulative_budget_s,
                            severity, phases)
SELECT p.id, l.kind, l.threshold_c, l.min_duration_s, l.cumulative_budget_s, l.severity, l.phases
  FROM profiles p
  JOIN commodities c ON c.code = p.commodity
 CROSS JOIN LATERAL (VALUES
    ('upper', c.temp_max_c + 2,  1800, NULL::integer, 'warning',  '{transit}'::text[], true),
    ('upper', c.temp_max_c + 5,  1800, 3600,          'major',    '{origin,transit,destination}', true),
    ('upper', c.temp_max_c + 10, 900,  NULL,          'critical', '{origin,transit,destination}', true),
    ('lower', c.lowest_safe_c,   1800, 3600,          'major',    '{origin,transit,destination}',
     c.chilling_sensitive),
    ('lower', least(coalesce(c.freezing_point_c, -0.5) + 0.5, c.temp_min_c), 900, NULL, 'critical',
     '{origin,transit,destination}', true)
 ) AS l (kind, threshold_c, min_duration_s, cumulative_budget_s, severity, phases, applies)
 WHERE p.gtin IS NULL AND p.org_id IS NULL AND l.applies
 ORDER BY p.id, l.kind DESC, l.threshold_c DESC;

-- The profile that governs a commodity for one product and one customer: customer+GTIN >
-- GTIN > customer > commodity default. gtin and org may be NULL (unknown); NULL when the
-- commodity has no profile at all. Names are schema-qualified because the function may be
-- called under any search_path.
CREATE FUNCTION ct_profile_for(commodity text, gtin text, org bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.id
      FROM coldtrace.profiles p
     WHERE p.commodity = ct_profile_for.commodity
       AND (p.gtin IS NULL OR p.gtin = ct_profile_for.gtin)
       AND (p.org_id IS NULL OR p.org_id = ct_profile_for.org)
     ORDER BY p.gtin IS NOT NULL DESC, p.org_id IS NOT NULL DESC
     LIMIT 1
$$;
