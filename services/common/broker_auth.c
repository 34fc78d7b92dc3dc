/*
 * broker_auth: mosquitto password hashes and the generated password and ACL files. The
 * database is the source of truth for who may connect; the broker only ever sees files this
 * module writes, so `coldtrace broker sync` can always rebuild them.
 *
 * DESIGN. A sync reads devices and accounts and writes both files inside one transaction
 * holding an advisory lock (SYNC_LOCK_KEY): two syncs never interleave, and the later one
 * reads every commit the earlier one read. Each file is replaced by rename(2), so the broker
 * reloading at any moment reads either the old or the new file, never a partial one; the
 * temporary file and the directory are fsynced so a crash after the rename keeps the new
 * file. The broker is signalled only after both renames.
 */
#include "broker_auth.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

#define SALT_LEN 12
#define ITERATIONS 101
#define DIGEST_LEN 64
#define MAX_ITERATIONS 10000000L
/* Arbitrary, fixed: serialises broker file generation across CLI processes. */
#define SYNC_LOCK_KEY "7161970731277574434"

static const char *const sql_sync_lock = "SELECT pg_advisory_xact_lock($1::bigint)";
/* Devices first for a name that is also an account, so the clash is seen on adjacent rows. */
static const char *const sql_sync_accounts =
	"SELECT name, password_hash, role FROM ("
	"  SELECT d.id AS name, d.password_hash, NULL::text AS role FROM coldtrace.devices d"
	"  UNION ALL"
	"  SELECT a.username, a.password_hash, a.role FROM coldtrace.broker_accounts a) x "
	"ORDER BY name COLLATE \"C\", role NULLS FIRST";

/* base64 of n bytes, with padding, into out (room for 4 * ceil(n / 3) + 1). */
static void b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int pbkdf2_b64(const char *password, const unsigned char *salt, size_t salt_len,
		      long iterations, char *out /* >= 89 */)
{
	unsigned char digest[DIGEST_LEN];

	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
			      (int)iterations, EVP_sha512(), DIGEST_LEN, digest) != 1)
		return -1;
	b64(digest, sizeof(digest), out);
	OPENSSL_cleanse(digest, sizeof(digest));
	return 0;
}

int broker_auth_hash(const char *password, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN];
	char salt64[4 * ((SALT_LEN + 2) / 3) + 1], hash64[4 * ((DIGEST_LEN + 2) / 3) + 1];
	int n;

	if (!password || !*password || !out || outlen == 0) {
		log_error("broker: refusing to hash an empty password");
		return -1;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		log_error("broker: no random bytes for a salt");
		return -1;
	}
	b64(salt, sizeof(salt), salt64);
	if (pbkdf2_b64(password, salt, sizeof(salt), ITERATIONS, hash64) < 0) {
		log_error("broker: PBKDF2 failed");
		return -1;
	}
	n = snprintf(out, outlen, "$7$%d$%s$%s", ITERATIONS, salt64, hash64);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		log_error("broker: hash buffer too small (%zu bytes)", outlen);
		return -1;
	}
	return 0;
}

int broker_auth_verify(const char *password, const char *hash)
{
	unsigned char salt[96];
	char salt64[89], want[89], got[89];
	const char *p, *dollar;
	char *end;
	long iterations;
	size_t len;
	int salt_len;

	if (!password || !hash || strncmp(hash, "$7$", 3) != 0)
		return -1;
	iterations = strtol(hash + 3, &end, 10);
	if (end == hash + 3 || *end != '$' || iterations < 1 || iterations > MAX_ITERATIONS)
		return -1;
	p = end + 1;
	dollar = strchr(p, '$');
	if (!dollar || dollar == p || (size_t)(dollar - p) >= sizeof(salt64) ||
	    (dollar - p) % 4 != 0)
		return -1;
	len = (size_t)(dollar - p);
	memcpy(salt64, p, len);
	salt64[len] = '\0';
	salt_len = EVP_DecodeBlock(salt, (const unsigned char *)salt64, (int)len);
	if (salt_len < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	for (size_t i = len; i > 0 && salt64[i - 1] == '='; i--)
		salt_len--;
	if (strlen(dollar + 1) != 4 * ((DIGEST_LEN + 2) / 3))
		return -1;
	memcpy(want, dollar + 1, sizeof(want));
	if (pbkdf2_b64(password, salt, (size_t)salt_len, iterations, got) < 0)
		return -1;
	return CRYPTO_memcmp(want, got, strlen(want)) == 0 ? 0 : -1;
}

/* A growing text buffer for the generated files. */
struct text {
	char *p;
	size_t len, cap;
	int failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if (t->p && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap : 4096;

		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *grown = realloc(t->p, cap);

		if (!grown) {
			t->failed = 1;
			return;
		}
		t->p = grown;
		t->cap = cap;
	}
}

static int name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= 1 && n <= 64;
}

/* No whitespace or control characters (one ACL line per topic), no wildcards, no ':' in a
 * hash (the password file's separator). */
static int token_ok(const char *s, const char *forbidden)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr(forbidden, *s))
			return 0;
	return 1;
}

static void acl_role(struct text *acl, const char *user, const char *role, const char *prefix)
{
	text_add(acl, "\nuser %s\n", user);
	if (strcmp(role, "ingest") == 0) {
		text_add(acl, "topic read %s/dev/+/up\n", prefix);
		text_add(acl, "topic write %s/dev/+/ack\n", prefix);
		text_add(acl, "topic readwrite %s/alerts/#\n", prefix);
	} else if (strcmp(role, "service") == 0) {
		/* services publish alerts (the monitor) and consume them (dashboards, bridges) */
		text_add(acl, "topic readwrite %s/alerts/#\n", prefix);
		text_add(acl, "topic read %s/dev/+/ack\n", prefix);
	} else if (strcmp(role, "fleet") == 0) {
		text_add(acl, "topic write %s/dev/+/up\n", prefix);
		text_add(acl, "topic read %s/dev/+/ack\n", prefix);
	}
}

static int build_files(const struct db_res *r, const char *prefix, struct text *pw,
		       struct text *acl)
{
	static const char header[] =
		"# Generated by `coldtrace broker sync` from coldtrace.devices and\n"
		"# coldtrace.broker_accounts. Do not edit: the next sync overwrites it.\n";

	text_add(pw, "%s", header);
	text_add(acl, "%s", header);
	text_add(acl, "\n# Every device (username = device id) publishes only its own uplink and\n"
		      "# reads only its own ack.\n");
	text_add(acl, "pattern write %s/dev/%%u/up\n", prefix);
	text_add(acl, "pattern read %s/dev/%%u/ack\n", prefix);
	for (int i = 0; i < db_res_rows(r); i++) {
		const char *name = db_res_get(r, i, 0), *hash = db_res_get(r, i, 1);
		const char *role = db_res_get(r, i, 2);

		if (!name || !name_ok(name)) {
			log_error("broker: refusing account name '%s'", name ? name : "(null)");
			return -1;
		}
		if (!hash || !token_ok(hash, ":")) {
			log_error("broker: %s has a malformed password hash", name);
			return -1;
		}
		if (i > 0 && strcmp(name, db_res_get(r, i - 1, 0)) == 0) {
			log_error("broker: '%s' is both a device and a broker account; remove one "
				  "of them",
				  name);
			return -1;
		}
		text_add(pw, "%s:%s\n", name, hash);
		if (role)
			acl_role(acl, name, role, prefix);
	}
	if (pw->failed || acl->failed) {
		log_error("broker: out of memory building the broker files");
		return -1;
	}
	return 0;
}

/* The new file keeps the owner and group of the one it replaces, or takes its directory's
 * group: the broker reading it usually runs as another user than we do. */
static void give_ownership(int fd, const char *path)
{
	struct stat st, now;
	uid_t uid = (uid_t)-1;
	gid_t gid;
	char dir[4096];
	const char *slash;

	if (fstat(fd, &now) < 0)
		return;
	if (stat(path, &st) == 0) {
		uid = st.st_uid;
		gid = st.st_gid;
	} else {
		slash = strrchr(path, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == path)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (stat(dir, &st) < 0)
			return;
		gid = st.st_gid;
	}
	if ((uid == (uid_t)-1 || uid == now.st_uid) && gid == now.st_gid)
		return;
	if (fchown(fd, uid, gid) == 0)
		return;
	if (fchown(fd, (uid_t)-1, gid) == 0) {
		log_warn("broker: %s now belongs to uid %d instead of %d", path, (int)now.st_uid,
			 (int)uid);
		return;
	}
	log_warn("broker: cannot give %s group %d (%s); the broker may be unable to read it",
		 path, (int)gid, strerror(errno));
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	FILE *f;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	f = fopen(dir, "r");
	if (f) {
		fsync(fileno(f));
		fclose(f);
	}
}

static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	int fd = -1, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		log_error("broker: path too long: %s", path);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		log_error("broker: cannot create a temporary file beside %s: %s", path,
			  strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0640) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		log_error("broker: cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	give_ownership(fd, path);
	if (close(fd) < 0) {
		fd = -1;
		log_error("broker: cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		log_error("broker: cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	fsync_dir_of(path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int signal_broker(const char *pid_file)
{
	char line[64];
	char *end;
	long pid;
	FILE *f = fopen(pid_file, "r");

	if (!f) {
		if (errno == ENOENT) {
			log_warn("broker: no pid file %s; the files are written and the broker "
				 "reads them when it starts",
				 pid_file);
			return 0;
		}
		log_error("broker: cannot open pid file %s: %s", pid_file, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	errno = 0;
	pid = strtol(line, &end, 10);
	while (*end == '\n' || *end == '\r' || *end == ' ')
		end++;
	if (errno || end == line || *end != '\0' || pid <= 1 || pid > INT_MAX) {
		log_error("broker: pid file %s does not hold a pid", pid_file);
		return -1;
	}
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		log_warn("broker: pid %ld from %s is not running; the files are written and the "
			 "broker reads them when it starts",
			 pid, pid_file);
		return 0;
	}
	if (kill((pid_t)pid, SIGHUP) < 0) {
		log_error("broker: cannot send SIGHUP to pid %ld from %s: %s", pid, pid_file,
			  strerror(errno));
		return -1;
	}
	log_debug("broker: sent SIGHUP to pid %ld", pid);
	return 0;
}

int broker_auth_sync(struct db *db, const char *passwd_file, const char *acl_file,
		     const char *pid_file, const char *prefix)
{
	const char *key[1] = {SYNC_LOCK_KEY};
	struct db_res *r = NULL;
	struct text pw = {NULL, 0, 0, 0}, acl = {NULL, 0, 0, 0};
	int rc = -1, in_tx = 0;

	if (!passwd_file || !*passwd_file) {
		log_error("broker: no password file to write (broker_passwd_file)");
		return -1;
	}
	if (!prefix || !token_ok(prefix, "+#") || prefix[strlen(prefix) - 1] == '/') {
		log_error("broker: topic prefix '%s' must be non-empty, without spaces, wildcards "
			  "or a trailing '/'",
			  prefix ? prefix : "");
		return -1;
	}
	if (db_begin(db) < 0)
		goto out;
	in_tx = 1;
	if (db_exec(db, sql_sync_lock, 1, key, NULL) < 0 ||
	    db_exec(db, sql_sync_accounts, 0, NULL, &r) < 0)
		goto out;
	if (build_files(r, prefix, &pw, &acl) < 0)
		goto out;
	if (write_atomic(passwd_file, pw.p, pw.len) < 0)
		goto out;
	if (acl_file && *acl_file && write_atomic(acl_file, acl.p, acl.len) < 0)
		goto out;
	if (db_commit(db) < 0)
		goto out;
	in_tx = 0;
	if (pid_file && *pid_file && signal_broker(pid_file) < 0)
		goto out;
	rc = 0;
out:
	if (in_tx)
		db_rollback(db);
	db_res_free(r);
	free(pw.p);
	free(acl.p);
	return rc;
}
