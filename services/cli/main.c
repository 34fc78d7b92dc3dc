/*
 * main: `coldtrace`, the operator's command line. Loads the settings, finds the command in
 * the dispatch table by its group and verb words, answers --help at every level, and runs
 * it. Exit status: 0 success, 1 failure, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"

static const struct cli_cmd commands[] = {
	{"db", "migrate", cmd_db_migrate, "",
	 "Creates or upgrades the schema: applies every sql_dir/migrations/NNNN_name.sql not yet\n"
	 "applied, in order, each in its own transaction, then re-applies every sql_dir/*.sql.\n"
	 "Refuses to run when an applied migration's file changed. Prints one line per file."},
	{"org", "add", cmd_site_add_org, "NAME [--kind grower|shipper|carrier|retailer|buyer|other]",
	 "Adds an organisation (default kind: shipper)."},
	{"site", "add", cmd_site_add,
	 "GLN --name NAME --kind farm|packhouse|dc|store [--org NAME] [--lat X --lon Y] "
	 "[--radius-m M]",
	 "Adds a site by its GS1 GLN (13 digits; the check digit is verified). --lat/--lon in\n"
	 "WGS 84 degrees, --radius-m the geofence radius (default 500)."},
	{"vehicle", "add", cmd_site_add_vehicle, "ID --label LABEL [--org NAME] [--plate PLATE]",
	 "Adds a vehicle. The label is what buyers see; the plate stays internal."},
	{"device", "add", cmd_device_add, "ID --password-file FILE [--vehicle ID]",
	 "Registers a device; ID (1-64 of A-Za-z0-9._-) is its MQTT username. The password is\n"
	 "the first line of FILE ('-' reads standard input), stored as a mosquitto hash. When\n"
	 "broker_passwd_file is set, the broker files are regenerated and the broker reloaded."},
	{"device", "list", cmd_device_list, "[--json]",
	 "Lists devices: id, vehicle, current shipment, acked_seq, created_at."},
	{"device", "remove", cmd_device_remove, "ID",
	 "Removes a device and its assignments (its records stay), then syncs the broker\n"
	 "files like device add."},
	{"device", "status", cmd_device_status, "ID [--json]",
	 "Shows a device's delivery state: records stored, last_seq seen (stored or dead-\n"
	 "lettered), acked_seq, gap_since (an open seq gap holding the ack back), last_seen\n"
	 "(latest received_at), unresolved dead letters and recorded data gaps."},
	{"broker", "account add", cmd_broker_account_add,
	 "NAME --role ingest|service|fleet --password-file FILE",
	 "Adds or updates a broker account of our own services (not a device). ingest reads\n"
	 "every uplink and writes acks and alerts; service writes alerts and reads acks; fleet\n"
	 "(simulators, benchmarks) publishes uplinks for any device and reads acks. Syncs the\n"
	 "broker files like device add."},
	{"broker", "sync", cmd_broker_sync, "",
	 "Regenerates broker_passwd_file and broker_acl_file from the database and sends\n"
	 "SIGHUP to the pid in broker_pid_file, if it runs. New files take the group of their\n"
	 "directory and existing ones keep their owner and group, mode 0640: give the files or\n"
	 "their directory the group the broker runs as."},
	{"shipment", "add", cmd_shipment_add,
	 "ID --origin GLN --destination GLN --commodity CODE [--planned-departure TIME] "
	 "[--planned-arrival TIME]",
	 "Adds a shipment between two known sites. TIME is RFC 3339 (2026-11-22T03:00:00Z or\n"
	 "with an offset, +08:00)."},
	{"shipment", "assign", cmd_shipment_assign, "ID --device DEV [--from TIME] [--to TIME]",
	 "Assigns a device to the shipment for [from, to). --from defaults to the planned\n"
	 "departure, or now when the shipment has none; --to defaults to open-ended. A device\n"
	 "serves one shipment at a time: an overlapping assignment is refused."},
	{"shipment", "unassign", cmd_shipment_unassign, "ID --device DEV [--at TIME]",
	 "Ends the device's assignment to the shipment at TIME (default now)."},
	{"shipment", "list", cmd_shipment_list, "[--json]",
	 "Lists shipments with their route, status, planned times and devices."},
	{"shipment", "show", cmd_shipment_show, "ID [--json]",
	 "Shows a shipment: route, times, readings and events stored for it, first and last\n"
	 "reading, min/max product temperature, unresolved dead letters of its devices since\n"
	 "their assignment, data gaps, and its device assignments."},
	{"deadletters", "list", cmd_deadletters_list,
	 "[--device ID] [--reason REASON] [--all] [--json]",
	 "Lists unresolved dead letters (--all: every one), oldest first: id, device, seq,\n"
	 "received_at, reason, detail, topic, scope (message or record), payload_bytes,\n"
	 "resolved_at, resolution."},
	{"deadletters", "replay", cmd_deadletters_replay,
	 "[--device ID] [--reason REASON] [--limit N] [--json]",
	 "Runs unresolved dead letters through the ingest's parser and store again, after\n"
	 "their cause is fixed (e.g. a device registered late). Those now stored are marked\n"
	 "resolved; the others stay open. Prints replayed, resolved and still failing."},
	{"qa", "list", cmd_qa_list, "[--shipment ID] [--all] [--json]",
	 "Lists open excursions and data gaps (of one shipment with --shipment), newest first:\n"
	 "target (excursion:N or gap:N, what the other qa commands take), shipment, state,\n"
	 "severity, detail, started_at, ended_at, duration_s, peak_c, acknowledged, the\n"
	 "latest disposition, handled. An item is handled when it is no longer open and its\n"
	 "latest disposition (or, lacking one, its shipment's) is release, partial_release\n"
	 "or reject; hold keeps it open. --all includes handled ones."},
	{"qa", "show", cmd_qa_show, "SHIPMENT [--json]",
	 "Shows a shipment as QA sees it: its current disposition and flag, cold-chain\n"
	 "figures (whole shipment and per lot), lots with their disposition and flag, its\n"
	 "excursions and gaps, the flags in force and every QA action, oldest first."},
	{"qa", "ack", cmd_qa_ack,
	 "excursion:N|gap:N --shipment ID [--reason TEXT] [--as ACTOR] [--json]",
	 "Acknowledges an excursion or data gap of the shipment (seen, not yet decided).\n"
	 "ACTOR defaults to $COLDTRACE_ACTOR, else the login name. Same as qa acknowledge."},
	{"qa", "acknowledge", cmd_qa_ack,
	 "excursion:N|gap:N --shipment ID [--reason TEXT] [--as ACTOR] [--json]",
	 "Acknowledges an excursion or data gap of the shipment (seen, not yet decided).\n"
	 "ACTOR defaults to $COLDTRACE_ACTOR, else the login name. Same as qa ack."},
	{"qa", "comment", cmd_qa_comment,
	 "TARGET --shipment ID --reason TEXT [--as ACTOR] [--json]",
	 "Records a comment (--reason) on TARGET: excursion:N, gap:N, shipment or\n"
	 "lot:GTIN/LOT (a lot loaded or unloaded on the shipment)."},
	{"qa", "dispose", cmd_qa_dispose,
	 "TARGET --shipment ID --decision release|partial_release|hold|reject --reason TEXT "
	 "[--as ACTOR] [--json]",
	 "Records a disposition of TARGET (excursion:N, gap:N, shipment or lot:GTIN/LOT) with\n"
	 "its reason. The latest disposition of a target is its current one."},
	{"qa", "flag", cmd_qa_flag,
	 "shipment|lot:GTIN/LOT --shipment ID --reason TEXT [--as ACTOR] [--json]",
	 "Flags the shipment or one of its lots for attention; refused when already flagged."},
	{"qa", "unflag", cmd_qa_flag,
	 "shipment|lot:GTIN/LOT --shipment ID --reason TEXT [--as ACTOR] [--json]",
	 "Lifts the flag of the shipment or one of its lots; refused when not flagged."},
	{"qa", "audit", cmd_qa_audit, "[--shipment ID] [--json]",
	 "Prints the audit log (of one shipment's QA actions with --shipment), oldest first:\n"
	 "id, at, actor, action, object, before and after (the audited rows as JSON). The\n"
	 "database refuses to change or delete its rows."},
	{NULL, NULL, NULL, NULL, NULL},
};

static int is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

static void print_line(FILE *out, const struct cli_cmd *c)
{
	fprintf(out, "  coldtrace %s %s%s%s\n", c->group, c->verb, *c->usage ? " " : "", c->usage);
}

/* The commands (of one group, or all), with the settings when asked for --help. */
static void print_overview(FILE *out, const char *group, int settings)
{
	fprintf(out, "usage: coldtrace %s COMMAND [ARGS] [--help]\n\ncommands:\n",
		group ? group : "GROUP");
	for (const struct cli_cmd *c = commands; c->group; c++)
		if (!group || strcmp(group, c->group) == 0)
			print_line(out, c);
	if (settings) {
		fprintf(out, "\nexit status: 0 success, 1 failure, 2 bad usage\n\n");
		config_print_help(out);
	}
}

/* Number of words of c's verb that argv[from..argc) starts with, all of them; 0 if not. */
static int verb_words(const struct cli_cmd *c, int argc, char **argv, int from)
{
	const char *v = c->verb;
	int i = from;

	while (*v) {
		size_t n = strcspn(v, " ");

		if (i >= argc || strlen(argv[i]) != n || strncmp(argv[i], v, n) != 0)
			return 0;
		i++;
		v += n;
		while (*v == ' ')
			v++;
	}
	return i - from;
}

static int dispatch(int argc, char **argv)
{
	const struct cli_cmd *cmd = NULL, *c;
	const char *group;
	char name[128];
	int words = 0, known = 0;

	if (argc < 2) {
		print_overview(stderr, NULL, 0);
		return CLI_USAGE;
	}
	if (is_help(argv[1])) {
		print_overview(stdout, NULL, 1);
		return CLI_OK;
	}
	group = argv[1];
	for (c = commands; c->group; c++) {
		if (strcmp(c->group, group) != 0)
			continue;
		known = 1;
		words = verb_words(c, argc, argv, 2);
		if (words) {
			cmd = c;
			break;
		}
	}
	if (!known) {
		fprintf(stderr, "coldtrace: unknown command group '%s'\n", group);
		print_overview(stderr, NULL, 0);
		return CLI_USAGE;
	}
	if (!cmd) {
		if (argc >= 3 && is_help(argv[argc - 1])) {
			print_overview(stdout, group, 0);
			return CLI_OK;
		}
		if (argc >= 3)
			fprintf(stderr, "coldtrace %s: unknown or incomplete command '%s'\n", group,
				argv[2]);
		print_overview(stderr, group, 0);
		return CLI_USAGE;
	}
	for (int i = 2 + words; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: coldtrace %s %s%s%s\n\n%s\n", cmd->group, cmd->verb,
			       *cmd->usage ? " " : "", cmd->usage, cmd->help);
			return CLI_OK;
		}
	}
	snprintf(name, sizeof(name), "coldtrace %s %s", cmd->group, cmd->verb);
	/* The command sees "coldtrace GROUP VERB" as its argv[0], for getopt's messages. */
	argv[1 + words] = name;
	return cmd->fn(cmd, argc - 1 - words, argv + 1 + words);
}

int main(int argc, char **argv)
{
	int rc;

	if (config_load(&argc, argv) < 0)
		return CLI_USAGE;
	log_init("coldtrace", config.log_level);
	rc = dispatch(argc, argv);
	config_release();
	return rc;
}
