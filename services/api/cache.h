/*
 * cache: a small in-memory cache of public responses (the provenance of public lots), so a
 * QR code scanned by thousands costs the database one query per key per ttl. Entries are
 * copied in and out; keys are short strings.
 */
#ifndef COLDTRACE_API_CACHE_H
#define COLDTRACE_API_CACHE_H

#include <stddef.h>

struct cache;

/* ttl_ms 0 disables the cache (get always misses). 0 or -1. */
int cache_new(int ttl_ms, struct cache **out);
void cache_free(struct cache *c);

/* On a hit, *out is a malloc'd copy (caller frees) of *len bytes and *status the cached
 * status; returns 1. 0 on a miss. */
int cache_get(struct cache *c, const char *key, char **out, size_t *len, int *status);
void cache_put(struct cache *c, const char *key, const char *data, size_t len, int status);

#endif
