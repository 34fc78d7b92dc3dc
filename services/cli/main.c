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
	{"org", "add", cmd_site_add_org,
	 "NAME [--kind grower|packer|shipper|carrier|retailer|buyer|other]",
	 "Adds an organisation (default kind: shipper)."},
	{"site", "add", cmd_site_add,
	 "GLN --name NAME --kind farm|packhouse|dc|store [--org NAME] [--lat X --lon Y] "
	 "[--radius-m M] [--address TEXT] [--city TEXT] [--region TEXT] [--country CC] "
	 "[--phone P]",
	 "Adds a site by its GS1 GLN (13 digits; the check digit is verified). --lat/--lon in\n"
	 "WGS 84 degrees, --radius-m the geofence radius (default 500). Address, city, region,\n"
	 "country (ISO 3166 alpha-2) and phone make the FSMA location description."},
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
	{"site", "register", cmd_lot_site_register, "GLN --scheme SCHEME --id ID",
	 "Records an official registration of a site, e.g. --scheme gba_supply_base (a GBA\n"
	 "vegetable-supply base id) or ffrn (FDA food facility registration). SCHEME is 1-32 of\n"
	 "[a-z0-9_]; registering the same scheme again replaces the id."},
	{"cert", "add", cmd_lot_cert_add,
	 "GLN --scheme NAME --number N [--issuer X] [--valid-from DATE] [--valid-to DATE]",
	 "Records a certification held by a site (e.g. --scheme 圳品, GLOBALG.A.P.). Adding the\n"
	 "same scheme and number again updates its issuer and validity. DATE is YYYY-MM-DD."},
	{"product", "add", cmd_lot_product_add,
	 "GTIN --description TEXT [--commodity CODE] [--org NAME]",
	 "Adds a product by its GTIN (8, 12, 13 or 14 digits, check digit verified; stored as\n"
	 "14 digits). CODE is a commodity code (CHOY_SUM), NAME the brand owner."},
	{"lot", "harvest", cmd_lot_harvest,
	 "LOT --farm GLN --field NAME --at TIME --qty Q --uom U [--end TIME] [--country CC] "
	 "[--json]",
	 "Records a harvest (FSMA harvesting): creates the lot with its farm, field, harvest\n"
	 "time and quantity, and an EPCIS ObjectEvent ADD commissioning at the farm. LOT is\n"
	 "GTIN/LOT or a GS1 Digital Link URI (https://id.gs1.org/01/GTIN/10/LOT). TIME is RFC\n"
	 "3339 with an offset; U a UN/ECE unit (KGM, CS). Running it again changes nothing."},
	{"lot", "cool", cmd_lot_cool,
	 "LOT --at GLN --start TIME [--method forced_air|hydro|vacuum|ice|room] [--json]",
	 "Records the cooling of a lot at a site (FSMA cooling): an ObjectEvent OBSERVE storing\n"
	 "with the cooling method."},
	{"lot", "pack", cmd_lot_pack,
	 "LOT --from LOT[:QTY]... --at GLN --time TIME --qty Q [--uom U] [--best-before DATE] "
	 "[--json]",
	 "Records the initial packing of LOT (the new traceability lot code) from one or more\n"
	 "lots (--from, repeated; QTY in the input lot's unit): a TransformationEvent with\n"
	 "bizStep commissioning. The packed lot inherits farm, field and harvest times when its\n"
	 "inputs agree on them."},
	{"lot", "transform", cmd_lot_transform,
	 "--in LOT:QTY... --out LOT:QTY... --at GLN --time TIME [--uom U] "
	 "[--kind repack|split|merge] [--best-before DATE] [--json]",
	 "Records a transformation at a packhouse or DC: a split (one --in, several --out), a\n"
	 "merge (several --in, one --out) or a repack, as one TransformationEvent. The output\n"
	 "lots are new; --uom is their unit."},
	{"lot", "show", cmd_lot_show, "LOT [--json]",
	 "Shows a lot's master data and its critical tracking events, oldest first (events of\n"
	 "the pallets it was on included)."},
	{"lot", "list", cmd_lot_list, "[--json]", "Lists lots with their product and master data."},
	{"lot", "publish", cmd_lot_publish, "LOT [--private]",
	 "Makes a lot's trace public (what a scanned QR code shows), or private again."},
	{"pallet", "build", cmd_lot_pallet_build, "SSCC --lot LOT:QTY... --at GLN --time TIME [--json]",
	 "Records lots put on a pallet (SSCC, 18 digits, check digit verified): an\n"
	 "AggregationEvent ADD. Events of the pallet (a device load listing the SSCC) become\n"
	 "events of its lots."},
	{"trace", "", cmd_trace_lot, "LOT [--json]",
	 "Traces a lot backward (the lots it was made from, through every transformation, with\n"
	 "their farms, harvest, cooling and packing) and forward (everything made of it, every\n"
	 "shipment, site and receiver it reached, with quantities and times). --json prints\n"
	 "ct_trace's document (sql/trace.sql). Exit 1 for an unknown lot."},
	{"recall", "", cmd_trace_recall,
	 "--farm GLN --from DATE --to DATE | --lot LOT [--from-sources] [--json|--csv]",
	 "Lists what a recall notice needs: the implicated lots (a farm's harvests on those\n"
	 "days, its local dates, inclusive; or one lot), every lot made of them, and every site\n"
	 "that received them or was shipped them, with quantities and times. --from-sources\n"
	 "starts from the lot's source lots instead, reaching the siblings made of the same\n"
	 "inputs. --csv prints one line per lot per receiving site."},
	{"user", "add", cmd_user_add, "NAME --org ORG --role retailer|qa|carrier|admin",
	 "Adds a user of the HTTP API, member of organisation ORG. retailer: lots and shipments\n"
	 "delivered to ORG; qa: ORG's shipments, may act on excursions; carrier: shipments ORG\n"
	 "carries; admin: all of ORG's shipments, may act on excursions."},
	{"user", "list", cmd_user_list, "[--json]", "Lists users: id, name, org, role, live tokens."},
	{"token", "create", cmd_token_create, "USER [--expires-in-days N]",
	 "Creates an API token for USER and prints it once as ID.SECRET (only its argon2id\n"
	 "hash is stored). Use it as 'Authorization: Bearer ID.SECRET'."},
	{"token", "list", cmd_token_list, "[--user USER] [--json]",
	 "Lists tokens (never their secrets): id, user, created, expires, revoked."},
	{"token", "revoke", cmd_token_revoke, "ID",
	 "Revokes token ID (or a whole token ID.SECRET). The API refuses it once its cache of\n"
	 "verified tokens expires (api_token_cache_s)."},
	{"gs1", "convert", cmd_gs1_convert,
	 "ID [--company-prefix-length N] [--base URL]",
	 "Checks a GS1 identifier given as an EPC URN (urn:epc:id:sgtin|sscc|sgln|pgln|giai,\n"
	 "urn:epc:class:lgtin, urn:epc:idpat:sgtin) or a GS1 Digital Link URI and prints it in\n"
	 "both forms: the key with its check digit, the Digital Link under --base (default\n"
	 "public_base_url) and the EPC URN. A Digital Link does not say where the company prefix\n"
	 "ends: give --company-prefix-length (6-12) to get its URN."},
	{"report", "", cmd_report,
	 "--lot GTIN/LOT | --shipment ID [--format html|csv|epcis] [--lang en|zh-Hans|zh-Hant] "
	 "[-o FILE] [--unsigned]",
	 "Writes the buyer's report of a lot (GTIN/LOT or its GS1 Digital Link) or a shipment:\n"
	 "html (default: one self-contained XHTML file with temperature charts and route maps),\n"
	 "csv (the FDA FSMA 204 sortable spreadsheet) or epcis (an EPCIS 2.0 document), in\n"
	 "English (default), Simplified or Traditional Chinese. Signed with report_key_file;\n"
	 "without a key it refuses unless --unsigned. No personal data of drivers or staff.\n"
	 "-o FILE is created, never replaced (default: standard output)."},
	{"keys", "generate", cmd_keys_generate, "--secret-out FILE --public-out FILE",
	 "Generates an Ed25519 key pair for signing reports: the secret key (mode 0600; set\n"
	 "report_key_file to it) and the public key buyers verify with (report_public_key_file).\n"
	 "Both files are one line of base64. Refuses to overwrite an existing file."},
	{"keys", "sign", cmd_keys_sign,
	 "FILE [--style xml|csv] [--secret-key KEY] [-o OUT]",
	 "Appends a signature trailer (SHA-256 digest, Ed25519 signature, public key) to a copy\n"
	 "of FILE, written to OUT (created, never replaced; default standard output). --style\n"
	 "defaults from FILE's name (.csv: csv; .xml, .xhtml, .html, .svg, .epcis: xml); KEY\n"
	 "defaults to report_key_file."},
	{"verify", "", cmd_verify, "FILE [--public-key KEY]",
	 "Verifies a signed report: prints 'FILE: valid (sha256 ..., key ...)' and exits 0, or\n"
	 "'FILE: INVALID: <reason>' and exits 1 (no or malformed trailer, data after it, content\n"
	 "changed, signature invalid, signed by another key). KEY (default\n"
	 "report_public_key_file) is the trusted signer; without one the file is checked for\n"
	 "consistency only and reported INVALID as not trusted."},
	{"epcis", "import", cmd_epcis_import, "FILE... [--no-schema]",
	 "Captures EPCIS 2.0 XML documents (EPCISDocument or EPCISMasterDataDocument), each in\n"
	 "one transaction: validated against the XSDs in epcis_schema_dir, CBV vocabulary and\n"
	 "GS1 identifiers checked, no network access, DOCTYPEs with entities or external DTDs\n"
	 "refused. An event already stored (same eventID, or same canonical XML digest) is\n"
	 "counted as known. Prints per file 'FILE: N new, M known events, V vocabulary\n"
	 "elements'; a refused file prints 'FILE:LINE: problem', stores nothing, and makes the\n"
	 "exit status 1. --no-schema skips only the XSD validation."},
	{"epcis", "export", cmd_epcis_export, "--lot GTIN/LOT | --shipment ID [-o FILE]",
	 "Writes every event of a lot (with those of the lots it was made from) or of a\n"
	 "shipment (with those of the lots it carried) as one EPCIS 2.0 document, with each\n"
	 "leg's temperature as a summary (min, max, mean, coverage, excursions) in a generated\n"
	 "sensor_reporting event. The same data always gives the same bytes. --lot also takes\n"
	 "the lot's Digital Link URI or LGTIN URN."},
	{NULL, NULL, NULL, NULL, NULL},
};

static int is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

static void print_line(FILE *out, const struct cli_cmd *c)
{
	fprintf(out, "  coldtrace %s%s%s%s%s\n", c->group, *c->verb ? " " : "", c->verb,
		*c->usage ? " " : "", c->usage);
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
		/* An empty verb (`coldtrace verify FILE`) is a group of one command. */
		if (words || !*c->verb) {
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
			printf("usage: coldtrace %s%s%s%s%s\n\n%s\n", cmd->group,
			       *cmd->verb ? " " : "", cmd->verb, *cmd->usage ? " " : "", cmd->usage,
			       cmd->help);
			return CLI_OK;
		}
	}
	snprintf(name, sizeof(name), "coldtrace %s%s%s", cmd->group, *cmd->verb ? " " : "",
		 cmd->verb);
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
