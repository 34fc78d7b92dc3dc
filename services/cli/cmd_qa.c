/*
 * cmd_qa: the QA staff's commands, `coldtrace qa list|show|ack|comment|dispose|flag|unflag|
 * audit`. Thin: arguments in, the qa module (services/common/qa.c, which the HTTP service
 * shares) does the work and returns JSON, printed as is (--json) or rendered as text by
 * cli_print_query like every other listing.
 *
 * Who acts: --as ACTOR, else $COLDTRACE_ACTOR, else the login name of the effective user,
 * else "uid:N" — never empty. Exit codes: 2 for what is wrong with the arguments (the qa
 * module's QA_ERR_INVALID, naming the option), 1 for a target that does not exist or is not
 * the shipment's, a refused flag/unflag, or a database failure.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "qa.h"

/* Renders a document the qa module returned, through PostgreSQL like every listing. */
static const char *const target_forms = "excursion:N, gap:N, shipment or lot:GTIN/LOT";

struct actor {
	char buf[QA_ACTOR_MAX + 1];
	const char *name;
	const char *source; /* for messages: where the name came from */
};

static void actor_resolve(const char *as, struct actor *who)
{
	const char *env = getenv("COLDTRACE_ACTOR");
	struct passwd pw, *found = NULL;
	char pwbuf[16384];

	if (as) {
		who->name = as;
		who->source = "--as";
		return;
	}
	if (env && *env) {
		who->name = env;
		who->source = "COLDTRACE_ACTOR";
		return;
	}
	who->source = "the login name";
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found &&
	    found->pw_name && *found->pw_name && strlen(found->pw_name) < sizeof(who->buf)) {
		snprintf(who->buf, sizeof(who->buf), "%s", found->pw_name);
	} else {
		/* No passwd entry (a container's bare uid): the uid still says who. */
		snprintf(who->buf, sizeof(who->buf), "uid:%u", (unsigned)geteuid());
	}
	who->name = who->buf;
}

/* The option (or argument) a qa_err field stands for on this command line. */
static const char *option_of(const char *field, const struct actor *who)
{
	if (strcmp(field, "shipment") == 0)
		return "--shipment";
	if (strcmp(field, "target") == 0 || strcmp(field, "target_id") == 0)
		return "TARGET";
	if (strcmp(field, "disposition") == 0)
		return "--decision";
	if (strcmp(field, "reason") == 0)
		return "--reason";
	if (strcmp(field, "actor") == 0)
		return who ? who->source : "--as";
	return NULL;
}

/* Exit code and message for a failed qa_ call. */
static int report(const struct cli_cmd *cmd, const struct qa_err *err, const struct actor *who)
{
	const char *opt = option_of(err->field, who);

	if (err->kind == QA_ERR_INVALID)
		return opt ? cli_usage(cmd, "%s: %s", opt, err->message)
			   : cli_usage(cmd, "%s", err->message);
	return cli_fail(cmd, "%s", err->message);
}

int cmd_qa_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"shipment", required_argument, NULL, 's'},
		{"all", no_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *shipment = NULL;
	struct db *db = NULL;
	struct qa_err err;
	char *json = NULL;
	int c, all = 0, as_json = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			shipment = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (shipment && !cli_text_ok(shipment, 64))
		return cli_usage(cmd, "--shipment '%s' is not a shipment id (1-64 characters)",
				 shipment);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (qa_open_items_json(db, shipment, all, &json, &err) < 0)
		rc = report(cmd, &err, NULL);
	else
		rc = cli_print_json(db, json, NULL, as_json);
	free(json);
	db_free(db);
	return rc;
}

int cmd_qa_show(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct db *db = NULL;
	struct qa_err err;
	char *json = NULL;
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
	if (!cli_text_ok(id, 64))
		return cli_usage(cmd, "SHIPMENT '%s' is not a shipment id (1-64 characters)", id);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (qa_shipment_json(db, id, &json, &err) < 0)
		rc = report(cmd, &err, NULL);
	else
		rc = cli_print_json(db, json, NULL, as_json);
	free(json);
	db_free(db);
	return rc;
}

int cmd_qa_audit(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"shipment", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *shipment = NULL;
	struct db *db = NULL;
	struct qa_err err;
	char *json = NULL;
	int c, as_json = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			shipment = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (shipment && !cli_text_ok(shipment, 64))
		return cli_usage(cmd, "--shipment '%s' is not a shipment id (1-64 characters)",
				 shipment);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (qa_audit_json(db, shipment, &json, &err) < 0)
		rc = report(cmd, &err, NULL);
	else
		rc = cli_print_json(db, json, NULL, as_json);
	free(json);
	db_free(db);
	return rc;
}

/* The acting commands: TARGET --shipment ID [--decision D] [--reason TEXT] [--as ACTOR]
 * [--json]. action is the qa_actions action; --decision is taken by dispositions only. */
static int act(const struct cli_cmd *cmd, const char *action, int argc, char **argv)
{
	static const struct option opts[] = {
		{"shipment", required_argument, NULL, 's'},
		{"decision", required_argument, NULL, 'd'},
		{"reason", required_argument, NULL, 'r'},
		{"as", required_argument, NULL, 'A'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct qa_action a = {.action = action};
	const char *as = NULL, *spec;
	struct actor who;
	struct db *db = NULL;
	struct qa_err err;
	char *json = NULL;
	int c, as_json = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a.shipment = optarg;
			break;
		case 'd':
			if (strcmp(action, "disposition") != 0)
				return cli_usage(cmd, "--decision belongs to coldtrace qa dispose");
			a.disposition = optarg;
			break;
		case 'r':
			a.reason = optarg;
			break;
		case 'A':
			as = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, argc - optind == 0 ? "TARGET is missing (%s)"
							 : "expected one TARGET (%s)",
				 target_forms);
	spec = argv[optind];
	if (qa_target_parse(spec, &a.target, &a.target_id) < 0)
		return cli_usage(cmd, "TARGET '%s' is not one of %s", spec, target_forms);
	if (!a.shipment)
		return cli_usage(cmd, "--shipment is required: the shipment %s belongs to", spec);
	actor_resolve(as, &who);
	a.actor = who.name;
	if (qa_action_check(&a, &err) < 0)
		return report(cmd, &err, &who);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (qa_act(db, &a, &json, &err) < 0)
		rc = report(cmd, &err, &who);
	else
		rc = cli_print_json(db, json, NULL, as_json);
	free(json);
	db_free(db);
	return rc;
}

int cmd_qa_ack(const struct cli_cmd *cmd, int argc, char **argv)
{
	return act(cmd, "acknowledge", argc, argv);
}

int cmd_qa_comment(const struct cli_cmd *cmd, int argc, char **argv)
{
	return act(cmd, "comment", argc, argv);
}

int cmd_qa_dispose(const struct cli_cmd *cmd, int argc, char **argv)
{
	return act(cmd, "disposition", argc, argv);
}

/* Registered as both `qa flag` and `qa unflag`. */
int cmd_qa_flag(const struct cli_cmd *cmd, int argc, char **argv)
{
	return act(cmd, strcmp(cmd->verb, "unflag") == 0 ? "unflag" : "flag", argc, argv);
}
