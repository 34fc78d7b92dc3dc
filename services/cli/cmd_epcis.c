/*
 * cmd_epcis: `coldtrace epcis import FILE…` and `coldtrace epcis export --lot GTIN/LOT |
 * --shipment ID [-o FILE]`, thin over services/report/epcis_import.c and epcis_export.c.
 *
 * Import prints one line per file ("FILE: N new, M known events, V vocabulary elements") and
 * a total; a file that fails prints "FILE:LINE: problem" on stderr, stores nothing, and the
 * command goes on with the next file and exits 1 at the end. Schemas come from
 * epcis_schema_dir and are compiled once for all the files; --no-schema skips XSD validation
 * (well-formedness, CBV vocabulary and identifiers are still checked) and says so.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "epcis_export.h"
#include "epcis_import.h"
#include "gs1.h"
#include "trace.h"

/* Reads a whole file into *out (malloc'd). 0 or -1 (errno set). */
static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *p;
	size_t cap = 0, n = 0, got;

	*out = NULL;
	if (!f)
		return -1;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return -1;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return -1;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_epcis_import(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"no-schema", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct epcis_importer *imp = NULL;
	struct db *db = NULL;
	long total_new = 0, total_known = 0, total_vocab = 0, failed = 0;
	const char *dir = config.epcis_schema_dir;
	int c, no_schema = 0, rc = CLI_FAIL;
	struct stat st;
	double t0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'n')
			return cli_usage(cmd, NULL);
		no_schema = 1;
	}
	if (optind == argc)
		return cli_usage(cmd, "expected one or more files");
	if (no_schema) {
		printf("note: schema validation skipped (--no-schema); well-formedness, CBV "
		       "vocabulary and identifiers are checked\n");
		dir = NULL;
	} else if (!dir || !*dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		return cli_fail(cmd,
				"epcis_schema_dir '%s' is not a directory: set epcis_schema_dir "
				"(--epcis-schema-dir=DIR or COLDTRACE_EPCIS_SCHEMA_DIR) to the EPCIS 2.0 "
				"XSDs, or pass --no-schema",
				dir ? dir : "");
	}
	if (epcis_importer_new(dir, &imp) < 0)
		return cli_fail(cmd, "out of memory");
	if (cli_connect(&db) < 0)
		goto out;
	t0 = now_s();
	for (int i = optind; i < argc; i++) {
		struct epcis_import_stats stats;
		char err[1024], *data = NULL;
		size_t len = 0;

		if (read_file(argv[i], &data, &len) < 0) {
			fprintf(stderr, "%s:0: %s\n", argv[i], strerror(errno));
			failed++;
			continue;
		}
		if (epcis_importer_run(imp, db, data, len, argv[i], &stats, err, sizeof(err)) < 0) {
			/* err is "LINE: problem" */
			fprintf(stderr, "%s:%s\n", argv[i], err);
			failed++;
		} else {
			printf("%s: %ld new, %ld known events, %ld vocabulary elements\n", argv[i],
			       stats.events_new, stats.events_known, stats.vocab_elements);
			if (stats.warnings)
				fprintf(stderr, "%s:%s (warning%s: %ld)\n", argv[i], stats.warning,
					stats.warnings > 1 ? "s" : "", stats.warnings);
			total_new += stats.events_new;
			total_known += stats.events_known;
			total_vocab += stats.vocab_elements;
		}
		free(data);
	}
	{
		double dt = now_s() - t0;

		printf("total: %d files, %ld failed, %ld new, %ld known events, %ld vocabulary "
		       "elements in %.3f s (%.0f events/s)\n",
		       argc - optind, failed, total_new, total_known, total_vocab, dt,
		       dt > 0 ? (double)(total_new + total_known) / dt : 0.0);
	}
	rc = failed ? CLI_FAIL : CLI_OK;
out:
	db_free(db);
	epcis_importer_free(imp);
	return rc;
}

int cmd_epcis_export(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"lot", required_argument, NULL, 'l'},
		{"shipment", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	struct trace_scope scope = {0};
	const char *lot_arg = NULL, *output = NULL;
	char gtin[15], lot[21];
	struct db *db = NULL;
	char *doc = NULL;
	size_t len = 0;
	int c, rc = CLI_FAIL, r;
	FILE *f;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			lot_arg = optarg;
			break;
		case 's':
			scope.shipment_id = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!lot_arg == !scope.shipment_id)
		return cli_usage(cmd, "expected exactly one of --lot and --shipment");
	if (scope.shipment_id && !cli_text_ok(scope.shipment_id, 64))
		return cli_usage(cmd, "--shipment '%s' is not a shipment id (1-64 characters)",
				 scope.shipment_id);
	if (lot_arg) {
		struct gs1_id id;
		const char *slash = strchr(lot_arg, '/'), *why = NULL;

		/* GTIN/LOT, or the lot's Digital Link or LGTIN URN. */
		if (gs1_id_parse(lot_arg, &id, &why) == 0 && id.kind == GS1_LGTIN) {
			snprintf(gtin, sizeof(gtin), "%.14s", id.digits);
			snprintf(lot, sizeof(lot), "%.20s", id.ext);
		} else if (slash && slash - lot_arg == 14) {
			snprintf(gtin, sizeof(gtin), "%.14s", lot_arg);
			if (gs1_id_from_digits(GS1_LGTIN, gtin, slash + 1, 0, &id) < 0)
				return cli_usage(cmd,
						 "--lot '%s': GTIN-14 with a wrong check digit or a lot "
						 "that is not 1-20 GS1 characters",
						 lot_arg);
			snprintf(lot, sizeof(lot), "%.20s", id.ext);
		} else {
			return cli_usage(cmd,
					 "--lot '%s' is not GTIN/LOT (14 digits/lot code), a lot's "
					 "Digital Link or an LGTIN URN%s%s",
					 lot_arg, why ? ": " : "", why ? why : "");
		}
		scope.gtin = gtin;
		scope.lot = lot;
	}
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	r = epcis_export(db, &scope, &doc, &len);
	if (r == 1) {
		rc = cli_fail(cmd, "%s '%s' not found", scope.shipment_id ? "shipment" : "lot",
			      scope.shipment_id ? scope.shipment_id : lot_arg);
		goto out;
	}
	if (r < 0) {
		rc = cli_fail(cmd, "export failed: %s", db_error(db));
		goto out;
	}
	f = output ? fopen(output, "wb") : stdout;
	if (!f) {
		rc = cli_fail(cmd, "-o %s: %s", output, strerror(errno));
		goto out;
	}
	if (fwrite(doc, 1, len, f) != len || fflush(f) != 0) {
		rc = cli_fail(cmd, "writing %s: %s", output ? output : "standard output",
			      strerror(errno));
		if (output)
			fclose(f);
		goto out;
	}
	if (output && fclose(f) != 0) {
		rc = cli_fail(cmd, "writing %s: %s", output, strerror(errno));
		goto out;
	}
	rc = CLI_OK;
out:
	free(doc);
	db_free(db);
	return rc;
}
