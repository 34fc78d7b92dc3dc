/*
 * cmd_shipment: shipments and which devices report for them: `coldtrace shipment add`,
 * `assign`, `unassign`, `list` and `show`.
 *
 * An assignment is the period [from, to) during which a device's records belong to a
 * shipment (records naming no shipment are attributed through it). --from defaults to the
 * shipment's planned departure, or now when it has none; --to defaults to open-ended. A
 * device serves one shipment at a time: overlapping periods are refused, naming the one in
 * the way; `unassign` ends an open period so the device can be reused.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"

static const char *const sql_site_exists = "SELECT 1 FROM coldtrace.sites WHERE gln = $1";
static const char *const sql_device_exists = "SELECT 1 FROM coldtrace.devices WHERE id = $1";
static const char *const sql_shipment_add =
	"INSERT INTO coldtrace.shipments (id, origin_gln, destination_gln, commodity,"
	"                                 planned_departure, planned_arrival)"
	" VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)"
	" ON CONFLICT (id) DO NOTHING RETURNING id";
/* The start of a new assignment, as text the server reads back exactly. */
static const char *const sql_assign_from =
	"SELECT coalesce($2::timestamptz, s.planned_departure, now())::text,"
	"       " CLI_SQL_TIME("coalesce($2::timestamptz, s.planned_departure, now())")
	"  FROM coldtrace.shipments s WHERE s.id = $1";
static const char *const sql_before = "SELECT $1::timestamptz < $2::timestamptz";
static const char *const sql_assign_conflict =
	"SELECT a.shipment_id, coalesce(" CLI_SQL_TIME("lower(a.during)") ", '-infinity'),"
	"       coalesce(' to ' || " CLI_SQL_TIME("upper(a.during)") ", ', open-ended')"
	"  FROM coldtrace.device_assignments a"
	" WHERE a.device_id = $1 AND a.during && tstzrange($2::timestamptz, $3::timestamptz, '[)')"
	" ORDER BY lower(a.during) LIMIT 1";
static const char *const sql_assign =
	"INSERT INTO coldtrace.device_assignments (device_id, shipment_id, during)"
	" VALUES ($1, $2, tstzrange($3::timestamptz, $4::timestamptz, '[)'))";
static const char *const sql_unassign =
	"UPDATE coldtrace.device_assignments a"
	"   SET during = tstzrange(lower(a.during), coalesce($3::timestamptz, now()), '[)')"
	" WHERE a.shipment_id = $1 AND a.device_id = $2"
	"   AND a.during @> coalesce($3::timestamptz, now())"
	"   AND lower(a.during) < coalesce($3::timestamptz, now())"
	" RETURNING " CLI_SQL_TIME("upper(a.during)");

static const char *const sql_shipment_list =
	"SELECT coalesce(json_agg(json_build_object("
	"    'id', s.id,"
	"    'origin', s.origin_gln,"
	"    'destination', s.destination_gln,"
	"    'commodity', s.commodity,"
	"    'status', s.status,"
	"    'planned_departure', " CLI_SQL_TIME("s.planned_departure") ","
	"    'planned_arrival', " CLI_SQL_TIME("s.planned_arrival") ","
	"    'devices', (SELECT coalesce(json_agg(DISTINCT a.device_id), '[]')"
	"                  FROM coldtrace.device_assignments a WHERE a.shipment_id = s.id))"
	"  ORDER BY s.id COLLATE \"C\"), '[]')"
	"  FROM coldtrace.shipments s";

/* Dead letters and gaps have no shipment of their own where the record was unreadable:
 * those of an assigned device count from the start of its assignment on (records arrive
 * late, after a dead zone); gaps count when attributed to the shipment or, unattributed,
 * when they overlap an assignment. */
static const char *const sql_shipment_show =
	"SELECT json_build_object("
	"    'id', s.id,"
	"    'origin', s.origin_gln,"
	"    'origin_name', o.name,"
	"    'destination', s.destination_gln,"
	"    'destination_name', t.name,"
	"    'commodity', s.commodity,"
	"    'status', s.status,"
	"    'planned_departure', " CLI_SQL_TIME("s.planned_departure") ","
	"    'planned_arrival', " CLI_SQL_TIME("s.planned_arrival") ","
	"    'actual_departure', " CLI_SQL_TIME("s.actual_departure") ","
	"    'actual_arrival', " CLI_SQL_TIME("s.actual_arrival") ","
	"    'readings', r.n,"
	"    'first_reading', " CLI_SQL_TIME("r.first") ","
	"    'last_reading', " CLI_SQL_TIME("r.last") ","
	"    't_product_min', r.tmin,"
	"    't_product_max', r.tmax,"
	"    'events', (SELECT count(*) FROM coldtrace.events e WHERE e.shipment_id = s.id),"
	"    'dead_letters', (SELECT count(*) FROM coldtrace.dead_letters l"
	"        WHERE l.resolved_at IS NULL AND EXISTS (SELECT 1 FROM coldtrace.device_assignments a"
	"            WHERE a.shipment_id = s.id AND a.device_id = l.device_id"
	"              AND l.received_at >= lower(a.during))),"
	"    'gaps', (SELECT count(*) FROM coldtrace.data_gaps g"
	"        WHERE g.shipment_id = s.id"
	"           OR (g.shipment_id IS NULL AND EXISTS (SELECT 1 FROM coldtrace.device_assignments a"
	"                WHERE a.shipment_id = s.id AND a.device_id = g.device_id"
	"                  AND a.during && tstzrange(least(g.from_time, g.to_time),"
	"                                            greatest(g.from_time, g.to_time), '[]')))),"
	"    'devices', (SELECT coalesce(json_agg(json_build_object("
	"            'device', a.device_id,"
	"            'from', " CLI_SQL_TIME("lower(a.during)") ","
	"            'to', " CLI_SQL_TIME("upper(a.during)") ")"
	"          ORDER BY lower(a.during), a.device_id), '[]')"
	"        FROM coldtrace.device_assignments a WHERE a.shipment_id = s.id))"
	"  FROM coldtrace.shipments s"
	"  JOIN coldtrace.sites o ON o.gln = s.origin_gln"
	"  JOIN coldtrace.sites t ON t.gln = s.destination_gln"
	"  CROSS JOIN LATERAL (SELECT count(*) AS n, min(x.measured_at) AS first,"
	"                             max(x.measured_at) AS last, min(x.t_product) AS tmin,"
	"                             max(x.t_product) AS tmax"
	"                        FROM coldtrace.readings x WHERE x.shipment_id = s.id) r"
	" WHERE s.id = $1";

static int shipment_id_ok(const char *s)
{
	return cli_text_ok(s, 64);
}

static int check_site(const struct cli_cmd *cmd, struct db *db, const char *opt,
		      const char *gln)
{
	int found;

	if (cli_exists(db, sql_site_exists, gln, &found) < 0)
		return -1;
	if (!found) {
		cli_fail(cmd, "%s: site %s not found (add it with coldtrace site add)", opt, gln);
		return -1;
	}
	return 0;
}

int cmd_shipment_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"origin", required_argument, NULL, 'o'},
		{"destination", required_argument, NULL, 'd'},
		{"commodity", required_argument, NULL, 'c'},
		{"planned-departure", required_argument, NULL, 'D'},
		{"planned-arrival", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	const char *origin = NULL, *dest = NULL, *commodity = NULL, *dep = NULL, *arr = NULL;
	const char *id;
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			origin = optarg;
			break;
		case 'd':
			dest = optarg;
			break;
		case 'c':
			commodity = optarg;
			break;
		case 'D':
			dep = optarg;
			break;
		case 'A':
			arr = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one shipment id");
	id = argv[optind];
	if (!shipment_id_ok(id))
		return cli_usage(cmd, "shipment id '%s' must be 1-64 characters", id);
	if (!origin || !cli_gln_ok(origin))
		return cli_usage(cmd, "--origin '%s' is not a GLN (13 digits, valid check digit)",
				 origin ? origin : "");
	if (!dest || !cli_gln_ok(dest))
		return cli_usage(cmd,
				 "--destination '%s' is not a GLN (13 digits, valid check digit)",
				 dest ? dest : "");
	if (!commodity || !cli_text_ok(commodity, 64))
		return cli_usage(cmd, "--commodity is required: a code of 1-64 characters");
	if (dep && !cli_time_ok(dep))
		return cli_usage(cmd, "--planned-departure '%s' is not an RFC 3339 time "
				      "(2026-11-22T03:00:00Z)",
				 dep);
	if (arr && !cli_time_ok(arr))
		return cli_usage(cmd, "--planned-arrival '%s' is not an RFC 3339 time "
				      "(2026-11-22T03:00:00Z)",
				 arr);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (dep && arr) {
		const char *p[2] = {dep, arr};

		if (db_exec(db, sql_before, 2, p, &r) < 0)
			goto out;
		if (strcmp(db_res_get(r, 0, 0), "t") != 0) {
			rc = cli_usage(cmd, "--planned-arrival %s is not after --planned-departure %s",
				       arr, dep);
			goto out;
		}
		db_res_free(r);
		r = NULL;
	}
	if (check_site(cmd, db, "--origin", origin) < 0 ||
	    check_site(cmd, db, "--destination", dest) < 0)
		goto out;
	const char *params[6] = {id, origin, dest, commodity, dep, arr};

	if (db_exec(db, sql_shipment_add, 6, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "shipment %s already exists", id);
		goto out;
	}
	printf("shipment %s added\n", id);
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_shipment_assign(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	const char *device = NULL, *from = NULL, *to = NULL, *id;
	struct db *db = NULL;
	struct db_res *start = NULL, *r = NULL;
	int c, found, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one shipment id");
	id = argv[optind];
	if (!shipment_id_ok(id))
		return cli_usage(cmd, "shipment id '%s' must be 1-64 characters", id);
	if (!device || !cli_name_ok(device))
		return cli_usage(cmd, "--device is required: a device id");
	if (from && !cli_time_ok(from))
		return cli_usage(cmd, "--from '%s' is not an RFC 3339 time (2026-11-22T03:00:00Z)",
				 from);
	if (to && !cli_time_ok(to))
		return cli_usage(cmd, "--to '%s' is not an RFC 3339 time (2026-11-22T03:00:00Z)",
				 to);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	const char *p_from[2] = {id, from};

	if (db_exec(db, sql_assign_from, 2, p_from, &start) < 0)
		goto out;
	if (db_res_rows(start) == 0) {
		cli_fail(cmd, "shipment %s not found", id);
		goto out;
	}
	if (cli_exists(db, sql_device_exists, device, &found) < 0)
		goto out;
	if (!found) {
		cli_fail(cmd, "--device: device %s not found", device);
		goto out;
	}
	const char *lo = db_res_get(start, 0, 0), *lo_utc = db_res_get(start, 0, 1);

	if (to) {
		const char *p[2] = {lo, to};

		if (db_exec(db, sql_before, 2, p, &r) < 0)
			goto out;
		if (strcmp(db_res_get(r, 0, 0), "t") != 0) {
			rc = cli_usage(cmd, "--to %s is not after the start %s%s", to, lo_utc,
				       from ? "" : " (the planned departure, or now)");
			goto out;
		}
		db_res_free(r);
		r = NULL;
	}
	const char *p_range[3] = {device, lo, to};

	if (db_exec(db, sql_assign_conflict, 3, p_range, &r) < 0)
		goto out;
	if (db_res_rows(r) > 0) {
		cli_fail(cmd, "device %s is already assigned to shipment %s from %s%s, which "
			      "overlaps; end it with coldtrace shipment unassign or choose "
			      "--from/--to",
			 device, db_res_get(r, 0, 0), db_res_get(r, 0, 1), db_res_get(r, 0, 2));
		goto out;
	}
	const char *params[4] = {device, id, lo, to};

	if (db_exec(db, sql_assign, 4, params, NULL) < 0)
		goto out;
	printf("device %s assigned to shipment %s from %s%s%s\n", device, id, lo_utc,
	       to ? " to " : ", open-ended", to ? to : "");
	rc = CLI_OK;
out:
	db_res_free(start);
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_shipment_unassign(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'},
		{"at", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	const char *device = NULL, *at = NULL, *id;
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'a':
			at = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one shipment id");
	id = argv[optind];
	if (!shipment_id_ok(id))
		return cli_usage(cmd, "shipment id '%s' must be 1-64 characters", id);
	if (!device || !cli_name_ok(device))
		return cli_usage(cmd, "--device is required: a device id");
	if (at && !cli_time_ok(at))
		return cli_usage(cmd, "--at '%s' is not an RFC 3339 time (2026-11-22T03:00:00Z)",
				 at);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	const char *params[3] = {id, device, at};

	if (db_exec(db, sql_unassign, 3, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "device %s is not assigned to shipment %s at %s (after the start of "
			      "an assignment)",
			 device, id, at ? at : "this time");
		goto out;
	}
	printf("device %s assigned to shipment %s until %s\n", device, id, db_res_get(r, 0, 0));
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_shipment_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct db *db = NULL;
	int c, as_json = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage(cmd, NULL);
		as_json = 1;
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	rc = cli_print_query(db, sql_shipment_list, 0, NULL, as_json) == 0 ? CLI_OK : CLI_FAIL;
	db_free(db);
	return rc;
}

int cmd_shipment_show(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct db *db = NULL;
	const char *id;
	int c, as_json = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage(cmd, NULL);
		as_json = 1;
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one shipment id");
	id = argv[optind];
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	switch (cli_print_query(db, sql_shipment_show, 1, &id, as_json)) {
	case 0:
		rc = CLI_OK;
		break;
	case 1:
		rc = cli_fail(cmd, "shipment %s not found", id);
		break;
	default:
		rc = CLI_FAIL;
	}
	db_free(db);
	return rc;
}
