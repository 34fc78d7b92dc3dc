/*
 * broker_auth: the MQTT broker's view of our accounts. Hashes passwords in the mosquitto 2.0
 * password-file format and regenerates mosquitto's password and ACL files from
 * coldtrace.devices and coldtrace.broker_accounts, then asks the broker to reload them.
 * Needs libcrypto (OpenSSL) at link time.
 */
#ifndef COLDTRACE_BROKER_AUTH_H
#define COLDTRACE_BROKER_AUTH_H

#include <stddef.h>

struct db;

/* Longest hash broker_auth_hash writes, with its NUL (the format takes 112 characters). */
#define BROKER_AUTH_HASH_MAX 128

/* Writes "$7$101$<base64 12-byte salt>$<base64 PBKDF2-HMAC-SHA512(password, salt, 101, 64)>",
 * what mosquitto_passwd 2.0 writes, with a fresh random salt, NUL-terminated, into out.
 * Returns 0, or -1 when the password is empty or outlen is too small. */
int broker_auth_hash(const char *password, char *out, size_t outlen);

/* 0 when hash (mosquitto's "$7$ITERATIONS$SALT$HASH" form) matches password, -1 when it does
 * not or is malformed. The comparison is constant-time. */
int broker_auth_verify(const char *password, const char *hash);

/* Regenerates the broker's files from the database and reloads the broker:
 *  - passwd_file: "user:hash" for every device and every broker account, by name;
 *  - acl_file (skipped when NULL or ""): patterns pinning each device to PREFIX/dev/%u/up
 *    (write) and PREFIX/dev/%u/ack (read), then per account the topics of its role
 *    (ingest, service, fleet);
 *  - pid_file (skipped when NULL or ""): if it names a live process, it is sent SIGHUP,
 *    on which mosquitto rereads both files. A missing pid file or a dead pid is only
 *    logged: the files are in place for the broker's next start.
 * Files are replaced atomically (temporary file in the same directory, fsync, rename) with
 * mode 0640. A file that exists keeps its owner and group; a new one takes the group of its
 * directory. The broker usually runs as another user (mosquitto), so create the files or
 * their directory once with a group that user is in (e.g. root:mosquitto). Concurrent syncs
 * are serialised by a transaction-level advisory lock, so the last file written reflects
 * every commit before it; call it after committing the change it should publish. Refuses a
 * name that is both a device and an account, naming it. Returns 0 or -1 (logged). */
int broker_auth_sync(struct db *db, const char *passwd_file, const char *acl_file,
		     const char *pid_file, const char *prefix);

#endif
