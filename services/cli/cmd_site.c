/*
 * cmd_site: master data: `coldtrace org add`, `site add` and `vehicle add`. Each adds one
 * row and refuses a duplicate, naming it; references to other records (--org) are looked up
 * first so a typo is reported by name rather than as a foreign-key error.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"

static const char *const sql_org_add =
	"INSERT INTO coldtrace.organisations (name, kind) VALUES ($1, coalesce($2, 'shipper'))"
	" ON CONFLICT (name) DO NOTHING RETURNING id";
static const char *const sql_org_id = "SELECT id FROM coldtrace.organisations WHERE name = $1";
static const char *const sql_site_add =
	"INSERT INTO coldtrace.sites (gln, org_id, name, kind, lat, lon, radius_m, address, city,"
	"                             region, country, phone)"
	" VALUES ($1, $2::bigint, $3, $4, $5::double precision, $6::double precision,"
	"         coalesce($7::integer, 500), $8, $9, $10, $11, $12)"
	" ON CONFLICT (gln) DO NOTHING RETURNING gln";
static const char *const sql_vehicle_add =
	"INSERT INTO coldtrace.vehicles (id, org_id, label, plate) VALUES ($1, $2::bigint, $3, $4)"
	" ON CONFLICT (id) DO NOTHING RETURNING id";

static const char *const org_kinds[] = {"grower", "packer", "shipper", "carrier", "retailer",
					"buyer", "other", NULL};
static const char *const site_kinds[] = {"farm", "packhouse", "dc", "store", NULL};

static int one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && *end == '\0' && isfinite(*out) && *out >= lo && *out <= hi
		       ? 0
		       : -1;
}

/* Looks up an organisation by name into id (text); prints and returns -1 when missing. */
static int org_id(const struct cli_cmd *cmd, struct db *db, const char *name, char *id,
		  size_t cap)
{
	struct db_res *r = NULL;
	int rc = -1;

	if (db_exec(db, sql_org_id, 1, &name, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "--org: organisation '%s' not found (add it with coldtrace org add)",
			 name);
		goto out;
	}
	snprintf(id, cap, "%s", db_res_get(r, 0, 0));
	rc = 0;
out:
	db_res_free(r);
	return rc;
}

int cmd_site_add_org(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"kind", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	const char *kind = NULL, *name;
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'k')
			return cli_usage(cmd, NULL);
		kind = optarg;
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one organisation name");
	name = argv[optind];
	if (!cli_text_ok(name, 200))
		return cli_usage(cmd, "NAME '%s' must be 1-200 characters without control "
				      "characters",
				 name);
	if (kind && !one_of(kind, org_kinds))
		return cli_usage(cmd, "--kind '%s' is not one of "
				      "grower|packer|shipper|carrier|retailer|buyer|other",
				 kind);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	const char *params[2] = {name, kind};

	if (db_exec(db, sql_org_add, 2, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "organisation '%s' already exists", name);
		goto out;
	}
	printf("organisation %s added (id %s)\n", name, db_res_get(r, 0, 0));
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_site_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'}, {"kind", required_argument, NULL, 'k'},
		{"org", required_argument, NULL, 'o'},  {"lat", required_argument, NULL, 'a'},
		{"lon", required_argument, NULL, 'b'},  {"radius-m", required_argument, NULL, 'r'},
		{"address", required_argument, NULL, 'A'}, {"city", required_argument, NULL, 'C'},
		{"region", required_argument, NULL, 'R'},  {"country", required_argument, NULL, 'N'},
		{"phone", required_argument, NULL, 'P'},   {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *kind = NULL, *org = NULL, *lat = NULL, *lon = NULL;
	const char *radius = NULL, *gln, *address = NULL, *city = NULL, *region = NULL;
	const char *country = NULL, *phone = NULL;
	char org_buf[32];
	struct db *db = NULL;
	struct db_res *r = NULL;
	double v;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'k':
			kind = optarg;
			break;
		case 'o':
			org = optarg;
			break;
		case 'a':
			lat = optarg;
			break;
		case 'b':
			lon = optarg;
			break;
		case 'r':
			radius = optarg;
			break;
		case 'A':
			address = optarg;
			break;
		case 'C':
			city = optarg;
			break;
		case 'R':
			region = optarg;
			break;
		case 'N':
			country = optarg;
			break;
		case 'P':
			phone = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one GLN");
	gln = argv[optind];
	/* The FSMA location description: address, city, region, country and phone. */
	if ((address && !cli_text_ok(address, 200)) || (city && !cli_text_ok(city, 100)) ||
	    (region && !cli_text_ok(region, 100)))
		return cli_usage(cmd, "--address (1-200), --city and --region (1-100 characters) "
				      "must be text without control characters");
	if (country && (strlen(country) != 2 || strspn(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2))
		return cli_usage(cmd, "--country '%s' is not an ISO 3166 alpha-2 code (CN, HK)",
				 country);
	if (phone && (!cli_text_ok(phone, 32) ||
		      strspn(phone, "+0123456789 ()-.") != strlen(phone)))
		return cli_usage(cmd, "--phone '%s' must be 1-32 of digits, spaces and +()-.",
				 phone);
	if (!cli_gln_ok(gln))
		return cli_usage(cmd, "GLN '%s' is not 13 digits with a valid GS1 check digit",
				 gln);
	if (!name || !cli_text_ok(name, 200))
		return cli_usage(cmd, "--name is required: 1-200 characters");
	if (!kind || !one_of(kind, site_kinds))
		return cli_usage(cmd, "--kind is required: farm|packhouse|dc|store");
	if ((lat == NULL) != (lon == NULL))
		return cli_usage(cmd, "--lat and --lon go together");
	if (lat && parse_double(lat, -90, 90, &v) < 0)
		return cli_usage(cmd, "--lat '%s' is not a latitude (-90…90)", lat);
	if (lon && parse_double(lon, -180, 180, &v) < 0)
		return cli_usage(cmd, "--lon '%s' is not a longitude (-180…180)", lon);
	if (radius && (parse_double(radius, 1, 1000000, &v) < 0 || v != floor(v)))
		return cli_usage(cmd, "--radius-m '%s' is not a whole number of metres (1…1000000)",
				 radius);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (org && org_id(cmd, db, org, org_buf, sizeof(org_buf)) < 0)
		goto out;
	const char *params[12] = {gln,	   org ? org_buf : NULL, name,   kind,    lat,  lon,
				  radius, address,		 city,	 region, country, phone};

	if (db_exec(db, sql_site_add, 12, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "site %s already exists", gln);
		goto out;
	}
	printf("site %s added\n", gln);
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_site_add_vehicle(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"label", required_argument, NULL, 'l'},
		{"org", required_argument, NULL, 'o'},
		{"plate", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	const char *label = NULL, *org = NULL, *plate = NULL, *id;
	char org_buf[32];
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			label = optarg;
			break;
		case 'o':
			org = optarg;
			break;
		case 'p':
			plate = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one vehicle id");
	id = argv[optind];
	if (!cli_name_ok(id))
		return cli_usage(cmd, "vehicle id '%s' must be 1-64 of [A-Za-z0-9._-]", id);
	if (!label || !cli_text_ok(label, 200))
		return cli_usage(cmd, "--label is required: 1-200 characters");
	if (plate && !cli_text_ok(plate, 32))
		return cli_usage(cmd, "--plate '%s' must be 1-32 characters", plate);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (org && org_id(cmd, db, org, org_buf, sizeof(org_buf)) < 0)
		goto out;
	const char *params[4] = {id, org ? org_buf : NULL, label, plate};

	if (db_exec(db, sql_vehicle_add, 4, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "vehicle %s already exists", id);
		goto out;
	}
	printf("vehicle %s added\n", id);
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}
