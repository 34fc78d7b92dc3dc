/*
 * migrate: applies sql_dir/migrations/NNNN_name.sql once each and re-applies the
 * re-runnable sql_dir/NAME.sql files, for `coldtrace db migrate` and the test harnesses.
 *
 * DESIGN. A session advisory lock (MIGRATE_LOCK_KEY) serialises concurrent runs; the
 * bootstrap (schema coldtrace, table schema_migrations) runs under it. Every migration file
 * is read and hashed before anything is applied, and every recorded migration must still
 * have its file with the same name and sha256: a changed history stops the run before it
 * touches the schema. A pending migration and its schema_migrations row commit together, so
 * a crash leaves it either fully applied and recorded or not at all. Each file starts from a
 * clean session (RESET ALL, pinned search_path), so one file's SETs do not leak into the
 * next.
 */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "log.h"

/* Arbitrary, fixed: "coldtrace migrate" for pg_advisory_lock(bigint). */
#define MIGRATE_LOCK_KEY "7161970731277574433"

static const char *const sql_lock = "SELECT pg_advisory_lock($1::bigint)";
static const char *const sql_unlock = "SELECT pg_advisory_unlock($1::bigint)";
static const char *const sql_bootstrap =
	"CREATE SCHEMA IF NOT EXISTS coldtrace;\n"
	"CREATE TABLE IF NOT EXISTS coldtrace.schema_migrations (\n"
	"    version    integer PRIMARY KEY,\n"
	"    name       text NOT NULL,\n"
	"    checksum   text NOT NULL,\n"
	"    applied_at timestamptz NOT NULL DEFAULT now()\n"
	")";
static const char *const sql_applied =
	"SELECT version, name, checksum FROM coldtrace.schema_migrations ORDER BY version";
static const char *const sql_record =
	"INSERT INTO coldtrace.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";
static const char *const sql_clean_session =
	"RESET ALL; SELECT pg_catalog.set_config('search_path', 'coldtrace, public', false)";

struct sql_file {
	char *file;  /* name inside its directory, e.g. 0001_init.sql */
	char *name;  /* migrations only: the part after NNNN_, without .sql */
	long version; /* migrations only */
	char *text;  /* contents, NUL-terminated */
	char checksum[crypto_hash_sha256_BYTES * 2 + 1];
};

struct sql_files {
	struct sql_file *v;
	size_t n;
};

static void sql_files_release(struct sql_files *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].file);
		free(l->v[i].name);
		free(l->v[i].text);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads a whole file; refuses NUL bytes, since the script goes to the server as a C string. */
static int read_text(const char *path, char **out)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	int rc = -1;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		log_error("migrate: cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *grown = realloc(buf, cap ? cap * 2 : 8192);

			if (!grown) {
				log_error("migrate: out of memory reading %s", path);
				goto out;
			}
			buf = grown;
			cap = cap ? cap * 2 : 8192;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		log_error("migrate: cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		log_error("migrate: %s contains a NUL byte", path);
		goto out;
	}
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

/* NNNN_name.sql: digits, '_', [A-Za-z0-9_-]+, ".sql". */
static int parse_migration_name(const char *file, long *version, char **name)
{
	const char *p = file, *under, *dot;
	char *end;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == file || *p != '_' || p - file > 9)
		return -1;
	under = p;
	dot = file + strlen(file) - 4;
	if (dot <= under + 1)
		return -1;
	for (p = under + 1; p < dot; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return -1;
	*version = strtol(file, &end, 10);
	if (end != under)
		return -1;
	*name = strndup(under + 1, (size_t)(dot - under - 1));
	return *name ? 0 : -1;
}

static int cmp_migration(const void *a, const void *b)
{
	const struct sql_file *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

static int cmp_file(const void *a, const void *b)
{
	const struct sql_file *x = a, *y = b;

	return strcmp(x->file, y->file);
}

static int is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Lists dir's *.sql regular files (hidden ones skipped), reads and hashes them. With
 * migrations set, every *.sql must be NNNN_name.sql and versions must be distinct. */
static int list_sql(const char *dir, int migrations, struct sql_files *out)
{
	DIR *d = NULL;
	struct dirent *de;
	char path[4096];
	size_t cap = 0;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	d = opendir(dir);
	if (!d) {
		log_error("migrate: cannot open directory %s: %s", dir, strerror(errno));
		goto out;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct sql_file *f;

		if (de->d_name[0] == '.' || !ends_with(de->d_name, ".sql"))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    sizeof(path)) {
			log_error("migrate: path too long: %s/%s", dir, de->d_name);
			goto out;
		}
		if (!is_regular(path))
			continue;
		if (out->n == cap) {
			struct sql_file *grown = realloc(out->v, (cap ? cap * 2 : 16) * sizeof(*grown));

			if (!grown)
				goto out;
			out->v = grown;
			cap = cap ? cap * 2 : 16;
		}
		f = &out->v[out->n];
		memset(f, 0, sizeof(*f));
		out->n++;
		f->file = strdup(de->d_name);
		if (!f->file)
			goto out;
		if (migrations && parse_migration_name(f->file, &f->version, &f->name) < 0) {
			log_error("migrate: %s: a migration must be named NNNN_name.sql "
				  "(name of letters, digits, '_' or '-')",
				  path);
			goto out;
		}
		if (read_text(path, &f->text) < 0)
			goto out;
		unsigned char digest[crypto_hash_sha256_BYTES];

		crypto_hash_sha256(digest, (const unsigned char *)f->text, strlen(f->text));
		sodium_bin2hex(f->checksum, sizeof(f->checksum), digest, sizeof(digest));
	}
	if (errno) {
		log_error("migrate: cannot read directory %s: %s", dir, strerror(errno));
		goto out;
	}
	qsort(out->v, out->n, sizeof(*out->v), migrations ? cmp_migration : cmp_file);
	for (size_t i = 1; migrations && i < out->n; i++) {
		if (out->v[i].version == out->v[i - 1].version) {
			log_error("migrate: %s/%s and %s/%s have the same version", dir,
				  out->v[i - 1].file, dir, out->v[i].file);
			goto out;
		}
	}
	rc = 0;
out:
	if (d)
		closedir(d);
	if (rc < 0)
		sql_files_release(out);
	return rc;
}

/* Every recorded migration must still exist under the same name with the same content. */
static int check_history(const struct sql_files *m, const struct db_res *applied, const char *dir,
			 unsigned char *is_applied)
{
	for (int row = 0; row < db_res_rows(applied); row++) {
		long version = (long)db_res_int(applied, row, 0, -1);
		const char *name = db_res_get(applied, row, 1);
		const char *sum = db_res_get(applied, row, 2);
		size_t i;

		for (i = 0; i < m->n && m->v[i].version != version; i++)
			;
		if (i == m->n) {
			log_error("migrate: the database has migration %04ld_%s, which is not in "
				  "%s (is this sql directory older than the database?)",
				  version, name ? name : "?", dir);
			return -1;
		}
		if (!name || strcmp(name, m->v[i].name) != 0) {
			log_error("migrate: %s/%s was applied as %04ld_%s.sql: a landed migration "
				  "is never renamed",
				  dir, m->v[i].file, version, name ? name : "?");
			return -1;
		}
		if (!sum || strcmp(sum, m->v[i].checksum) != 0) {
			log_error("migrate: %s/%s changed since it was applied (sha256 %s, recorded "
				  "%s): a landed migration is never edited, add a new one",
				  dir, m->v[i].file, m->v[i].checksum, sum ? sum : "none");
			return -1;
		}
		is_applied[i] = 1;
	}
	return 0;
}

/* Runs one file in its own transaction; for a migration, records it in the same one. */
static int apply_file(struct db *db, const char *dir, const struct sql_file *f, int migration)
{
	char *script = NULL, version[24];
	size_t len = strlen(f->text);
	int rc = -1, in_tx = 0;

	if (db_exec_script(db, sql_clean_session) < 0)
		goto out;
	/* The trailing SELECT keeps a file of only comments from being an "empty query"
	 * (an error to db_exec_script); the newline ends a last line that is a comment. */
	script = malloc(len + sizeof("\n;SELECT 1"));
	if (!script)
		goto out;
	memcpy(script, f->text, len);
	memcpy(script + len, "\n;SELECT 1", sizeof("\n;SELECT 1"));
	if (db_begin(db) < 0)
		goto out;
	in_tx = 1;
	if (db_exec_script(db, script) < 0)
		goto out;
	if (migration) {
		const char *params[3] = {version, f->name, f->checksum};

		snprintf(version, sizeof(version), "%ld", f->version);
		if (db_exec(db, sql_record, 3, params, NULL) < 0)
			goto out;
	}
	if (db_commit(db) < 0)
		goto out;
	in_tx = 0;
	rc = 0;
out:
	if (in_tx)
		db_rollback(db);
	if (rc < 0)
		log_error("migrate: %s/%s failed; nothing of it was applied", dir, f->file);
	free(script);
	return rc;
}

int migrate_run(struct db *db, const char *sql_dir, FILE *report)
{
	const char *key[1] = {MIGRATE_LOCK_KEY};
	struct sql_files migrations = {NULL, 0}, rerunnable = {NULL, 0};
	struct db_res *applied = NULL;
	unsigned char *is_applied = NULL;
	char mdir[4096];
	int rc = -1, locked = 0;

	if (sodium_init() < 0) {
		log_error("migrate: libsodium failed to initialise");
		return -1;
	}
	if ((size_t)snprintf(mdir, sizeof(mdir), "%s/migrations", sql_dir) >= sizeof(mdir)) {
		log_error("migrate: sql directory path too long: %s", sql_dir);
		return -1;
	}
	/* Read everything first: a bad file stops the run before the database is touched. */
	if (list_sql(mdir, 1, &migrations) < 0 || list_sql(sql_dir, 0, &rerunnable) < 0)
		goto out;
	if (db_exec(db, sql_lock, 1, key, NULL) < 0)
		goto out;
	locked = 1;
	if (db_exec_script(db, sql_bootstrap) < 0)
		goto out;
	if (db_exec(db, sql_applied, 0, NULL, &applied) < 0)
		goto out;
	is_applied = calloc(migrations.n + 1, 1);
	if (!is_applied)
		goto out;
	if (check_history(&migrations, applied, mdir, is_applied) < 0)
		goto out;
	for (size_t i = 0; i < migrations.n; i++) {
		if (is_applied[i])
			continue;
		if (apply_file(db, mdir, &migrations.v[i], 1) < 0)
			goto out;
		if (report)
			fprintf(report, "applied migrations/%s\n", migrations.v[i].file);
	}
	for (size_t i = 0; i < rerunnable.n; i++) {
		if (apply_file(db, sql_dir, &rerunnable.v[i], 0) < 0)
			goto out;
		if (report)
			fprintf(report, "applied %s\n", rerunnable.v[i].file);
	}
	rc = 0;
out:
	if (locked && !db_lost(db))
		db_exec(db, sql_unlock, 1, key, NULL);
	if (report)
		fflush(report);
	db_res_free(applied);
	free(is_applied);
	sql_files_release(&migrations);
	sql_files_release(&rerunnable);
	return rc;
}
