/*
 * pool: a fixed set of connections behind a mutex and a condition variable.
 *
 * DESIGN. Connections are opened at start and reopened lazily: a borrower that finds its
 * connection lost resets it (and sets the role again) before use, so a database restart
 * costs the requests in flight, not the process. The role check runs after every (re)connect.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *db_role;
	int size;
	int nfree;
	struct db **all;
	struct db **free_list;
};

static const char *const sql_set_role = "SELECT pg_catalog.set_config('role', $1, false)";
/* The role the statements now run as must not be able to bypass row-level security. */
static const char *const sql_check_role =
	"SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

static int pool_setup(struct pool *p, struct db *db)
{
	struct db_res *r = NULL;
	const char *role = p->db_role;
	int rc = -1;

	if (db_exec(db, sql_set_role, 1, &role, NULL) < 0)
		goto out;
	if (db_exec(db, sql_check_role, 0, NULL, &r) < 0)
		goto out;
	if (db_res_rows(r) != 1 || db_res_get(r, 0, 0)[0] != 'f') {
		log_error("api: database role %s can bypass row-level security (superuser or "
			  "BYPASSRLS): refusing to serve with it", role);
		goto out;
	}
	rc = 0;
out:
	db_res_free(r);
	return rc;
}

int pool_new(const char *conninfo, const char *db_role, int size, struct pool **out)
{
	struct pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->size = size;
	p->db_role = strdup(db_role);
	p->all = calloc((size_t)size, sizeof(*p->all));
	p->free_list = calloc((size_t)size, sizeof(*p->free_list));
	if (!p->db_role || !p->all || !p->free_list)
		goto fail;
	for (int i = 0; i < size; i++) {
		if (db_connect(conninfo, "coldtrace-api", &p->all[i]) < 0 ||
		    pool_setup(p, p->all[i]) < 0)
			goto fail;
		p->free_list[p->nfree++] = p->all[i];
	}
	*out = p;
	return 0;
fail:
	pool_free(p);
	return -1;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	for (int i = 0; p->all && i < p->size; i++)
		db_free(p->all[i]);
	free(p->all);
	free(p->free_list);
	free(p->db_role);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

struct db *pool_get(struct pool *p)
{
	struct db *db;

	pthread_mutex_lock(&p->mu);
	while (p->nfree == 0)
		pthread_cond_wait(&p->cv, &p->mu);
	db = p->free_list[--p->nfree];
	pthread_mutex_unlock(&p->mu);
	if (!db_alive(db)) {
		if (db_reset(db) < 0 || pool_setup(p, db) < 0) {
			log_error("api: database unavailable: %s", db_error(db));
			pool_put(p, db);
			return NULL;
		}
		log_info("api: database connection re-established");
	}
	return db;
}

void pool_put(struct pool *p, struct db *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&p->mu);
	p->free_list[p->nfree++] = db;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}
