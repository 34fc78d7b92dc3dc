/*
 * qa: the QA workflow (see qa.h) — open excursions and gaps, a shipment's QA view, recording
 * actions, the audit log. Shared by `coldtrace qa` and, later, the HTTP service, so the rules
 * live here once: what a valid action is, which targets belong to a shipment, when a flag
 * may be set or lifted, when an item counts as handled.
 *
 * DESIGN. Documents are built by PostgreSQL (json_build_object/json_agg) and handed back as
 * text, so they are always valid and escaped. qa_act runs in one transaction that first
 * locks the shipment row (FOR NO KEY UPDATE: it serialises QA actions of one shipment but
 * not the foreign-key checks of other writers), then checks the target and the flag state,
 * then inserts; the audit row is written by the database's own trigger on qa_actions, in
 * the same transaction, so an action is never recorded without its audit entry. Nothing
 * here updates or deletes: qa_actions and audit_log only grow.
 */
#include "qa.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "gs1.h"

/* RFC 3339 UTC text of a timestamptz, NULL for NULL (the CLI's CLI_SQL_TIME format). */
#define QA_SQL_TIME(x)                                                                       \
	"(rtrim(rtrim(to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "  \
	"'0'), '.') || 'Z')"

/* Text form of a qa_actions row's target: "shipment", "excursion:12", "lot:GTIN/LOT". */
#define QA_SQL_TARGET(a)                                                                     \
	"(CASE " a ".target WHEN 'shipment' THEN 'shipment' ELSE " a ".target || ':' || " a    \
	".target_id END)"

#define QA_SQL_FINAL "('release', 'partial_release', 'reject')"

/* Excursions and attributed data gaps of every shipment, with their QA state: whether
 * acknowledged, the latest disposition of their own, and whether handled (not open, and
 * their own latest disposition — or, lacking one, their shipment's — is final). */
#define QA_SQL_ITEMS                                                                         \
	"(SELECT i.*, ack.n > 0 AS acknowledged, d.disposition,"                             \
	"        (i.state <> 'open' AND coalesce(coalesce(d.disposition, sd.disposition)"     \
	"             IN " QA_SQL_FINAL ", false)) AS handled"                                 \
	"   FROM (SELECT e.shipment_id, 'excursion' AS kind, e.id, e.state, e.severity,"       \
	"                e.direction || ' ' || e.threshold_c || 'C, probe ' || e.probe || ', '"  \
	"                  || e.phase || CASE WHEN e.budget_breach THEN ', budget breached'"  \
	"                                ELSE '' END AS detail,"                               \
	"                e.started_at, e.ended_at, e.duration_s, e.peak_c"                     \
	"           FROM coldtrace.excursions e"                                               \
	"         UNION ALL"                                                                   \
	"         SELECT g.shipment_id, 'gap', g.id,"                                          \
	"                CASE WHEN g.to_time IS NULL THEN 'open' ELSE 'closed' END, NULL,"     \
	"                g.kind || ' gap, device ' || g.device_id"                             \
	"                  || coalesce(', seq ' || g.from_seq || '-' || g.to_seq, ''),"        \
	"                g.from_time, g.to_time,"                                              \
	"                extract(epoch FROM g.to_time - g.from_time)::bigint, NULL::real"      \
	"           FROM coldtrace.data_gaps g WHERE g.shipment_id IS NOT NULL) i"             \
	"   CROSS JOIN LATERAL (SELECT count(*) AS n FROM coldtrace.qa_actions a"              \
	"        WHERE a.shipment_id = i.shipment_id AND a.target = i.kind"                    \
	"          AND a.target_id = i.id::text AND a.action = 'acknowledge') ack"             \
	"   LEFT JOIN LATERAL (SELECT a.disposition FROM coldtrace.qa_actions a"               \
	"        WHERE a.shipment_id = i.shipment_id AND a.target = i.kind"                    \
	"          AND a.target_id = i.id::text AND a.action = 'disposition'"                  \
	"        ORDER BY a.id DESC LIMIT 1) d ON true"                                        \
	"   LEFT JOIN LATERAL (SELECT a.disposition FROM coldtrace.qa_actions a"               \
	"        WHERE a.shipment_id = i.shipment_id AND a.target = 'shipment'"                \
	"          AND a.action = 'disposition' ORDER BY a.id DESC LIMIT 1) sd ON true)"

#define QA_SQL_ITEMS_AGG                                                                     \
	"coalesce(json_agg(json_build_object("                                               \
	"    'target', i.kind || ':' || i.id,"                                                 \
	"    'shipment', i.shipment_id,"                                                       \
	"    'state', i.state,"                                                                \
	"    'severity', i.severity,"                                                          \
	"    'detail', i.detail,"                                                              \
	"    'started_at', " QA_SQL_TIME("i.started_at") ","                                  \
	"    'ended_at', " QA_SQL_TIME("i.ended_at") ","                                       \
	"    'duration_s', i.duration_s,"                                                      \
	"    'peak_c', i.peak_c,"                                                              \
	"    'acknowledged', i.acknowledged,"                                                  \
	"    'disposition', i.disposition,"                                                    \
	"    'handled', i.handled)"                                                            \
	"  ORDER BY i.started_at DESC NULLS LAST, i.kind, i.id DESC), '[]')"

static const char *const sql_shipment_exists = "SELECT 1 FROM coldtrace.shipments WHERE id = $1";
static const char *const sql_shipment_lock =
	"SELECT 1 FROM coldtrace.shipments WHERE id = $1 FOR NO KEY UPDATE";

static const char *const sql_excursion_of =
	"SELECT 1 FROM coldtrace.excursions WHERE shipment_id = $1 AND id = $2::bigint";
static const char *const sql_excursion_elsewhere =
	"SELECT shipment_id FROM coldtrace.excursions WHERE id = $1::bigint"
	" ORDER BY shipment_id COLLATE \"C\" LIMIT 1";
static const char *const sql_gap_of =
	"SELECT 1 FROM coldtrace.data_gaps WHERE shipment_id = $1 AND id = $2::bigint";
static const char *const sql_gap_elsewhere =
	"SELECT coalesce(shipment_id, ''), device_id FROM coldtrace.data_gaps WHERE id = $1::bigint"
	" ORDER BY shipment_id COLLATE \"C\" NULLS FIRST LIMIT 1";
static const char *const sql_lot_on_shipment =
	"SELECT 1 FROM coldtrace.events e"
	" CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(e.lots) = 'array'"
	"                                         THEN e.lots ELSE '[]'::jsonb END) AS l(v)"
	" WHERE e.shipment_id = $1 AND e.type IN ('load', 'unload')"
	"   AND l.v->>'gtin' = $2 AND l.v->>'lot' = $3"
	" LIMIT 1";
static const char *const sql_flag_state =
	"SELECT a.action, a.actor, " QA_SQL_TIME("a.created_at") " FROM coldtrace.qa_actions a"
	" WHERE a.shipment_id = $1 AND a.target = $2 AND a.target_id = $3"
	"   AND a.action IN ('flag', 'unflag')"
	" ORDER BY a.id DESC LIMIT 1";
static const char *const sql_insert =
	"INSERT INTO coldtrace.qa_actions (shipment_id, target, target_id, action, disposition,"
	"                                  reason, actor)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
/* The audit row is the newest one of this action: a short backward scan of audit_log. */
static const char *const sql_action_json =
	"SELECT json_build_object("
	"    'id', a.id,"
	"    'shipment', a.shipment_id,"
	"    'target', " QA_SQL_TARGET("a") ","
	"    'action', a.action,"
	"    'disposition', a.disposition,"
	"    'reason', a.reason,"
	"    'actor', a.actor,"
	"    'at', " QA_SQL_TIME("a.created_at") ","
	"    'audit_id', (SELECT l.id FROM coldtrace.audit_log l"
	"                  WHERE l.action = 'qa.' || a.action"
	"                    AND l.after->>'shipment_id' = a.shipment_id"
	"                    AND l.after->>'id' = a.id::text"
	"                  ORDER BY l.id DESC LIMIT 1))"
	"  FROM coldtrace.qa_actions a WHERE a.shipment_id = $1 AND a.id = $2::bigint";

static const char *const sql_open_items =
	"SELECT " QA_SQL_ITEMS_AGG
	"  FROM " QA_SQL_ITEMS " i"
	" WHERE ($1::text IS NULL OR i.shipment_id = $1)"
	"   AND ($2::boolean OR NOT i.handled)";

static const char *const sql_shipment_view =
	"WITH acts AS (SELECT a.* FROM coldtrace.qa_actions a WHERE a.shipment_id = $1),"
	" disp AS (SELECT DISTINCT ON (a.target, a.target_id) a.target, a.target_id,"
	"                 a.disposition, a.reason, a.actor, a.created_at"
	"            FROM acts a WHERE a.action = 'disposition'"
	"           ORDER BY a.target, a.target_id, a.id DESC),"
	" flags AS (SELECT DISTINCT ON (a.target, a.target_id) a.target, a.target_id, a.action,"
	"                  a.reason, a.actor, a.created_at, a.id"
	"             FROM acts a WHERE a.action IN ('flag', 'unflag')"
	"            ORDER BY a.target, a.target_id, a.id DESC),"
	" lots AS (SELECT DISTINCT k.key FROM ("
	"            SELECT (l.v->>'gtin') || '/' || (l.v->>'lot') AS key"
	"              FROM coldtrace.events e"
	"             CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(e.lots) ="
	"                        'array' THEN e.lots ELSE '[]'::jsonb END) AS l(v)"
	"             WHERE e.shipment_id = $1 AND e.type IN ('load', 'unload')"
	"            UNION SELECT f.lot_key FROM coldtrace.shipment_figures f"
	"             WHERE f.shipment_id = $1 AND f.lot_key <> ''"
	"            UNION SELECT a.target_id FROM acts a WHERE a.target = 'lot') k"
	"           WHERE k.key IS NOT NULL)"
	"SELECT json_build_object("
	"    'shipment', s.id,"
	"    'commodity', s.commodity,"
	"    'origin', s.origin_gln,"
	"    'destination', s.destination_gln,"
	"    'status', s.status,"
	"    'disposition', sd.disposition,"
	"    'disposition_reason', sd.reason,"
	"    'disposition_by', sd.actor,"
	"    'disposition_at', " QA_SQL_TIME("sd.created_at") ","
	"    'flagged', coalesce(sf.action = 'flag', false),"
	"    'figures', (SELECT coalesce(json_agg(json_build_object("
	"            'scope', CASE WHEN f.lot_key = '' THEN 'shipment'"
	"                          ELSE 'lot:' || f.lot_key END,"
	"            'from', " QA_SQL_TIME("f.from_time") ","
	"            'to', " QA_SQL_TIME("f.to_time") ","
	"            'probe', f.probe,"
	"            'samples', f.samples,"
	"            'min_c', f.min_c,"
	"            'max_c', f.max_c,"
	"            'mean_c', f.mean_c,"
	"            'mkt_c', f.mkt_c,"
	"            'time_above_s', f.time_above_s,"
	"            'time_below_s', f.time_below_s,"
	"            'degree_minutes', f.degree_minutes,"
	"            'coverage', f.coverage,"
	"            'remaining_life_days', f.remaining_life_days,"
	"            'computed_at', " QA_SQL_TIME("f.computed_at") ")"
	"          ORDER BY f.lot_key <> '', f.lot_key COLLATE \"C\"), '[]')"
	"        FROM coldtrace.shipment_figures f WHERE f.shipment_id = s.id),"
	"    'lots', (SELECT coalesce(json_agg(json_build_object("
	"            'target', 'lot:' || l.key,"
	"            'disposition', d.disposition,"
	"            'flagged', coalesce(fl.action = 'flag', false))"
	"          ORDER BY l.key COLLATE \"C\"), '[]')"
	"        FROM lots l"
	"        LEFT JOIN disp d ON d.target = 'lot' AND d.target_id = l.key"
	"        LEFT JOIN flags fl ON fl.target = 'lot' AND fl.target_id = l.key),"
	"    'items', (SELECT " QA_SQL_ITEMS_AGG " FROM " QA_SQL_ITEMS " i"
	"        WHERE i.shipment_id = s.id),"
	"    'flags', (SELECT coalesce(json_agg(json_build_object("
	"            'target', " QA_SQL_TARGET("f") ","
	"            'reason', f.reason,"
	"            'by', f.actor,"
	"            'since', " QA_SQL_TIME("f.created_at") ")"
	"          ORDER BY f.id), '[]')"
	"        FROM flags f WHERE f.action = 'flag'),"
	"    'actions', (SELECT coalesce(json_agg(json_build_object("
	"            'id', a.id,"
	"            'target', " QA_SQL_TARGET("a") ","
	"            'action', a.action,"
	"            'disposition', a.disposition,"
	"            'reason', a.reason,"
	"            'actor', a.actor,"
	"            'at', " QA_SQL_TIME("a.created_at") ")"
	"          ORDER BY a.id), '[]')"
	"        FROM acts a))"
	"  FROM coldtrace.shipments s"
	"  LEFT JOIN disp sd ON sd.target = 'shipment'"
	"  LEFT JOIN flags sf ON sf.target = 'shipment'"
	" WHERE s.id = $1";

/* Every audited QA row carries its shipment_id; other audit rows (none yet) show in full. */
static const char *const sql_audit =
	"SELECT coalesce(json_agg(json_build_object("
	"    'id', l.id,"
	"    'at', " QA_SQL_TIME("l.at") ","
	"    'actor', l.actor,"
	"    'action', l.action,"
	"    'object', l.object,"
	"    'before', l.before,"
	"    'after', l.after)"
	"  ORDER BY l.id), '[]')"
	"  FROM coldtrace.audit_log l"
	" WHERE $1::text IS NULL OR coalesce(l.after, l.before)->>'shipment_id' = $1";

/* ---- errors ------------------------------------------------------------------------- */

static int fail(struct qa_err *err, enum qa_err_kind kind, const char *field, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

static int fail(struct qa_err *err, enum qa_err_kind kind, const char *field, const char *fmt,
		...)
{
	va_list ap;

	if (!err)
		return -1;
	err->kind = kind;
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_db(struct qa_err *err, struct db *db, const char *what)
{
	const char *state = db_sqlstate(db);

	return fail(err, QA_ERR_DB, "", "database error while %s%s%s%s", what,
		    *state ? " (SQLSTATE " : "", state, *state ? ")" : "");
}

static void err_clear(struct qa_err *err)
{
	if (err) {
		err->kind = QA_ERR_NONE;
		err->field[0] = '\0';
		err->message[0] = '\0';
	}
}

/* ---- checks without the database ---------------------------------------------------- */

/* 1 when s[0..n) is well-formed UTF-8 (what PostgreSQL accepts: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned int cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return 0;
		i += len;
	}
	return 1;
}

enum text_rule { TEXT_LINE, TEXT_LINES };

/* Checks a text field: present, not blank, at most max bytes, UTF-8, and no control
 * character (TEXT_LINES allows newline and tab: a reason may be a paragraph). */
static int check_text(struct qa_err *err, const char *field, const char *what, const char *s,
		      size_t max, enum text_rule rule)
{
	size_t n, blank = 0;

	if (!s || !*s)
		return fail(err, QA_ERR_INVALID, field, "%s is required", what);
	n = strlen(s);
	if (n > max)
		return fail(err, QA_ERR_INVALID, field, "%s is longer than %zu bytes", what, max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			blank++;
		if ((c < ' ' || c == 0x7f) &&
		    !(rule == TEXT_LINES && (c == '\n' || c == '\t' || c == '\r')))
			return fail(err, QA_ERR_INVALID, field,
				    "%s contains a control character", what);
	}
	if (blank == n)
		return fail(err, QA_ERR_INVALID, field, "%s is blank", what);
	if (!utf8_ok((const unsigned char *)s, n))
		return fail(err, QA_ERR_INVALID, field, "%s is not valid UTF-8", what);
	return 0;
}

static int one_of(const char *s, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(s, *values) == 0)
			return 1;
	return 0;
}

/* Canonical decimal text of a positive bigint id ("007" → "7") into buf. 0 or -1. */
static int id_canonical(const char *s, char *buf, size_t cap)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return -1;
	snprintf(buf, cap, "%lld", v);
	return 0;
}

/* Splits "GTIN/LOT" at its first '/': the GTIN is digits only, the lot may hold a '/'. */
static int lot_split(const char *key, size_t *gtin_len)
{
	const char *slash = key ? strchr(key, '/') : NULL;

	if (!slash)
		return -1;
	*gtin_len = (size_t)(slash - key);
	return 0;
}

static int check_lot(const char *key, struct qa_err *err)
{
	size_t glen, llen;

	if (!key || lot_split(key, &glen) < 0)
		return fail(err, QA_ERR_INVALID, "target_id",
			    "a lot is named GTIN/LOT (lot:16912345678909/L2611)");
	llen = strlen(key + glen + 1);
	if ((glen != 8 && glen != 12 && glen != 13 && glen != 14) ||
	    !gs1_check_digit_ok(key, glen))
		return fail(err, QA_ERR_INVALID, "target_id",
			    "lot:%s: '%.*s' is not a GTIN (8, 12, 13 or 14 digits, valid check "
			    "digit)",
			    key, (int)(glen > 20 ? 20 : glen), key);
	if (llen == 0 || llen > 20)
		return fail(err, QA_ERR_INVALID, "target_id",
			    "lot:%s: the lot code must be 1-20 characters", key);
	return check_text(err, "target_id", "the lot code", key + glen + 1, 20, TEXT_LINE);
}

int qa_target_parse(const char *spec, const char **target, const char **target_id)
{
	static const char *const kinds[] = {"excursion", "gap", "lot", "shipment"};
	const char *colon;
	size_t n;

	*target = NULL;
	*target_id = NULL;
	if (!spec)
		return -1;
	if (strcmp(spec, "shipment") == 0) {
		*target = kinds[3];
		return 0;
	}
	colon = strchr(spec, ':');
	if (!colon || colon[1] == '\0')
		return -1;
	n = (size_t)(colon - spec);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i]) == n && strncmp(spec, kinds[i], n) == 0) {
			*target = kinds[i];
			*target_id = colon + 1;
			return 0;
		}
	}
	return -1;
}

int qa_action_check(const struct qa_action *a, struct qa_err *err)
{
	static const char *const targets[] = {"excursion", "gap", "shipment", "lot", NULL};
	static const char *const actions[] = {"acknowledge", "comment", "disposition",
					      "flag",	     "unflag",	NULL};
	static const char *const decisions[] = {"release", "partial_release", "hold", "reject",
						NULL};
	char id[24];
	int is_item, needs_reason;

	err_clear(err);
	if (check_text(err, "shipment", "the shipment", a->shipment, 64, TEXT_LINE) < 0)
		return -1;
	if (!a->action || !one_of(a->action, actions))
		return fail(err, QA_ERR_INVALID, "action",
			    "action '%s' is not one of acknowledge, comment, disposition, flag, "
			    "unflag",
			    a->action ? a->action : "");
	if (!a->target || !one_of(a->target, targets))
		return fail(err, QA_ERR_INVALID, "target",
			    "target '%s' is not one of excursion, gap, shipment, lot",
			    a->target ? a->target : "");
	is_item = strcmp(a->target, "excursion") == 0 || strcmp(a->target, "gap") == 0;
	if (is_item && id_canonical(a->target_id, id, sizeof(id)) < 0)
		return fail(err, QA_ERR_INVALID, "target_id",
			    "%s:%s: the id is not a positive integer", a->target,
			    a->target_id ? a->target_id : "");
	if (strcmp(a->target, "lot") == 0 && check_lot(a->target_id, err) < 0)
		return -1;
	if (strcmp(a->target, "shipment") == 0 && a->target_id &&
	    strcmp(a->target_id, a->shipment) != 0)
		return fail(err, QA_ERR_INVALID, "target_id",
			    "shipment:%s is not the shipment acted on (%s)", a->target_id,
			    a->shipment);
	if (strcmp(a->action, "acknowledge") == 0 && !is_item)
		return fail(err, QA_ERR_INVALID, "target",
			    "only an excursion or a gap is acknowledged, not a %s", a->target);
	if ((strcmp(a->action, "flag") == 0 || strcmp(a->action, "unflag") == 0) && is_item)
		return fail(err, QA_ERR_INVALID, "target",
			    "only a shipment or a lot is flagged, not %s",
			    strcmp(a->target, "gap") == 0 ? "a data gap" : "an excursion");
	if (strcmp(a->action, "disposition") == 0) {
		if (!a->disposition || !*a->disposition)
			return fail(err, QA_ERR_INVALID, "disposition",
				    "a disposition needs a decision: release, partial_release, "
				    "hold or reject");
		if (!one_of(a->disposition, decisions))
			return fail(err, QA_ERR_INVALID, "disposition",
				    "decision '%s' is not one of release, partial_release, hold, "
				    "reject",
				    a->disposition);
	} else if (a->disposition) {
		return fail(err, QA_ERR_INVALID, "disposition",
			    "a decision belongs to a disposition only, not to %s", a->action);
	}
	needs_reason = strcmp(a->action, "acknowledge") != 0;
	if (a->reason || needs_reason) {
		if (!a->reason || !*a->reason)
			return fail(err, QA_ERR_INVALID, "reason", "%s needs a reason",
				    strcmp(a->action, "comment") == 0       ? "a comment"
				    : strcmp(a->action, "disposition") == 0 ? "a disposition"
				    : strcmp(a->action, "flag") == 0        ? "a flag"
									    : "lifting a flag");
		if (check_text(err, "reason", "the reason", a->reason, QA_REASON_MAX, TEXT_LINES) <
		    0)
			return -1;
	}
	return check_text(err, "actor", "the actor", a->actor, QA_ACTOR_MAX, TEXT_LINE);
}

/* ---- with the database -------------------------------------------------------------- */

/* Takes the one json cell of r into *json_out (a copy the caller frees). */
static int take_json(struct db_res *r, char **json_out, struct qa_err *err)
{
	const char *v = db_res_rows(r) > 0 ? db_res_get(r, 0, 0) : NULL;

	if (!v)
		return fail(err, QA_ERR_DB, "", "the database returned no document");
	*json_out = strdup(v);
	if (!*json_out)
		return fail(err, QA_ERR_DB, "", "out of memory");
	return 0;
}

static int shipment_known(struct db *db, const char *shipment, struct qa_err *err)
{
	struct db_res *r = NULL;
	int rows;

	if (db_exec(db, sql_shipment_exists, 1, &shipment, &r) < 0)
		return fail_db(err, db, "looking up the shipment");
	rows = db_res_rows(r);
	db_res_free(r);
	if (rows == 0)
		return fail(err, QA_ERR_NOT_FOUND, "shipment", "shipment %s not found", shipment);
	return 0;
}

/* The target is the shipment's: an excursion or attributed gap of it, or a lot it carried.
 * When not, says where the excursion or gap belongs instead. */
static int check_target(struct db *db, const struct qa_action *a, const char *id,
			struct qa_err *err)
{
	struct db_res *r = NULL;
	int rc = -1;

	if (strcmp(a->target, "excursion") == 0 || strcmp(a->target, "gap") == 0) {
		int gap = a->target[0] == 'g';
		const char *p[2] = {a->shipment, id};

		if (db_exec(db, gap ? sql_gap_of : sql_excursion_of, 2, p, &r) < 0) {
			fail_db(err, db, "looking up the target");
			goto out;
		}
		if (db_res_rows(r) > 0) {
			rc = 0;
			goto out;
		}
		db_res_free(r);
		r = NULL;
		if (db_exec(db, gap ? sql_gap_elsewhere : sql_excursion_elsewhere, 1, &id, &r) <
		    0) {
			fail_db(err, db, "looking up the target");
			goto out;
		}
		if (db_res_rows(r) == 0)
			fail(err, QA_ERR_NOT_FOUND, "target_id", "%s:%s not found", a->target, id);
		else if (gap && !*db_res_get(r, 0, 0))
			fail(err, QA_ERR_NOT_FOUND, "target_id",
			     "gap:%s (device %s) is not attributed to any shipment, not to %s", id,
			     db_res_get(r, 0, 1), a->shipment);
		else
			fail(err, QA_ERR_NOT_FOUND, "target_id",
			     "%s:%s belongs to shipment %s, not to %s", a->target, id,
			     db_res_get(r, 0, 0), a->shipment);
		goto out;
	}
	if (strcmp(a->target, "lot") == 0) {
		size_t glen = 0;
		char gtin[16];

		if (lot_split(a->target_id, &glen) < 0) { /* not after qa_action_check */
			fail(err, QA_ERR_INVALID, "target_id", "a lot is named GTIN/LOT");
			goto out;
		}
		snprintf(gtin, sizeof(gtin), "%.*s", (int)glen, a->target_id);
		const char *p[3] = {a->shipment, gtin, a->target_id + glen + 1};

		if (db_exec(db, sql_lot_on_shipment, 3, p, &r) < 0) {
			fail_db(err, db, "looking up the lot");
			goto out;
		}
		if (db_res_rows(r) == 0) {
			fail(err, QA_ERR_NOT_FOUND, "target_id",
			     "lot:%s is in no load or unload event of shipment %s", a->target_id,
			     a->shipment);
			goto out;
		}
	}
	rc = 0;
out:
	db_res_free(r);
	return rc;
}

/* A flag only on a target not flagged, an unflag only on one that is. */
static int check_flag_state(struct db *db, const struct qa_action *a, const char *id,
			    struct qa_err *err)
{
	const char *p[3] = {a->shipment, a->target, id};
	struct db_res *r = NULL;
	int flagged, rc = -1;
	char what[128];

	if (db_exec(db, sql_flag_state, 3, p, &r) < 0) {
		fail_db(err, db, "reading the flag");
		goto out;
	}
	flagged = db_res_rows(r) > 0 && strcmp(db_res_get(r, 0, 0), "flag") == 0;
	if (strcmp(a->target, "shipment") == 0)
		snprintf(what, sizeof(what), "shipment %s", a->shipment);
	else
		snprintf(what, sizeof(what), "lot:%s of shipment %s", id, a->shipment);
	if (strcmp(a->action, "flag") == 0 && flagged)
		fail(err, QA_ERR_CONFLICT, "target", "%s is already flagged (by %s at %s)", what,
		     db_res_get(r, 0, 1), db_res_get(r, 0, 2));
	else if (strcmp(a->action, "unflag") == 0 && !flagged)
		fail(err, QA_ERR_CONFLICT, "target", "%s is not flagged", what);
	else
		rc = 0;
out:
	db_res_free(r);
	return rc;
}

int qa_act(struct db *db, const struct qa_action *a, char **json_out, struct qa_err *err)
{
	struct db_res *r = NULL;
	char id_buf[24], new_id[24];
	const char *id;
	int in_tx = 0, rc = -1;

	*json_out = NULL;
	if (qa_action_check(a, err) < 0)
		return -1;
	if (strcmp(a->target, "excursion") == 0 || strcmp(a->target, "gap") == 0) {
		id_canonical(a->target_id, id_buf, sizeof(id_buf));
		id = id_buf;
	} else if (strcmp(a->target, "shipment") == 0) {
		id = a->shipment;
	} else {
		id = a->target_id;
	}
	if (db_begin(db) < 0) {
		fail_db(err, db, "starting a transaction");
		goto out;
	}
	in_tx = 1;
	if (db_exec(db, sql_shipment_lock, 1, &a->shipment, &r) < 0) {
		fail_db(err, db, "locking the shipment");
		goto out;
	}
	if (db_res_rows(r) == 0) {
		fail(err, QA_ERR_NOT_FOUND, "shipment", "shipment %s not found", a->shipment);
		goto out;
	}
	db_res_free(r);
	r = NULL;
	if (check_target(db, a, id, err) < 0)
		goto out;
	if ((strcmp(a->action, "flag") == 0 || strcmp(a->action, "unflag") == 0) &&
	    check_flag_state(db, a, id, err) < 0)
		goto out;
	const char *p[7] = {a->shipment, a->target, id, a->action, a->disposition, a->reason,
			    a->actor};

	if (db_exec(db, sql_insert, 7, p, &r) < 0) {
		fail_db(err, db, "recording the action");
		goto out;
	}
	snprintf(new_id, sizeof(new_id), "%s", db_res_get(r, 0, 0));
	db_res_free(r);
	r = NULL;
	const char *pj[2] = {a->shipment, new_id};

	if (db_exec(db, sql_action_json, 2, pj, &r) < 0) {
		fail_db(err, db, "reading the action back");
		goto out;
	}
	if (take_json(r, json_out, err) < 0)
		goto out;
	in_tx = 0;
	if (db_commit(db) < 0) {
		fail_db(err, db, "committing the action");
		goto out;
	}
	rc = 0;
out:
	if (in_tx)
		db_rollback(db);
	if (rc < 0) {
		free(*json_out);
		*json_out = NULL;
	}
	db_res_free(r);
	return rc;
}

int qa_open_items_json(struct db *db, const char *shipment, int include_handled, char **json_out,
		       struct qa_err *err)
{
	const char *p[2] = {shipment, include_handled ? "true" : "false"};
	struct db_res *r = NULL;
	int rc = -1;

	*json_out = NULL;
	err_clear(err);
	if (shipment && shipment_known(db, shipment, err) < 0)
		return -1;
	if (db_exec(db, sql_open_items, 2, p, &r) < 0)
		fail_db(err, db, "listing excursions and gaps");
	else
		rc = take_json(r, json_out, err);
	db_res_free(r);
	return rc;
}

int qa_shipment_json(struct db *db, const char *shipment, char **json_out, struct qa_err *err)
{
	struct db_res *r = NULL;
	int rc = -1;

	*json_out = NULL;
	err_clear(err);
	if (!shipment || !*shipment)
		return fail(err, QA_ERR_INVALID, "shipment", "the shipment is required");
	if (db_exec(db, sql_shipment_view, 1, &shipment, &r) < 0)
		fail_db(err, db, "reading the shipment");
	else if (db_res_rows(r) == 0)
		fail(err, QA_ERR_NOT_FOUND, "shipment", "shipment %s not found", shipment);
	else
		rc = take_json(r, json_out, err);
	db_res_free(r);
	return rc;
}

int qa_audit_json(struct db *db, const char *shipment, char **json_out, struct qa_err *err)
{
	struct db_res *r = NULL;
	int rc = -1;

	*json_out = NULL;
	err_clear(err);
	if (shipment && shipment_known(db, shipment, err) < 0)
		return -1;
	if (db_exec(db, sql_audit, 1, &shipment, &r) < 0)
		fail_db(err, db, "reading the audit log");
	else
		rc = take_json(r, json_out, err);
	db_res_free(r);
	return rc;
}
