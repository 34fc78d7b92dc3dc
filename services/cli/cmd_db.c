/*
 * cmd_db: `coldtrace db migrate`, which brings the database to the schema of sql_dir
 * (migrate module) and prints one line per file it applied.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "migrate.h"

int cmd_db_migrate(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	struct db *db = NULL;
	int rc = CLI_FAIL;

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return cli_usage(cmd, NULL);
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (migrate_run(db, config.sql_dir, stdout) < 0) {
		cli_fail(cmd, "stopped; the error above names the file");
		goto out;
	}
	rc = CLI_OK;
out:
	db_free(db);
	return rc;
}
