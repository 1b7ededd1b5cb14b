#include "eval/metrics_strset.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

/* FNV-1a, then a final mix so that the low bits used for the slot depend on every byte. */
static uint64_t hash_bytes(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void rehash(xgd_strset *s, size_t nslot) {
    free(s->slot);
    s->slot = xgd_malloc(nslot * sizeof *s->slot);
    for (size_t i = 0; i < nslot; i++) s->slot[i] = -1;
    s->nslot = nslot;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->hash[k] & (nslot - 1);
        while (s->slot[i] >= 0) i = (i + 1) & (nslot - 1);
        s->slot[i] = (int64_t)k;
    }
}

int64_t xgd_strset_add(xgd_strset *s, const void *key, size_t len) {
    if (!s->nslot) rehash(s, 64);
    uint64_t h = hash_bytes(key, len);
    size_t i = h & (s->nslot - 1);
    for (int64_t k; (k = s->slot[i]) >= 0; i = (i + 1) & (s->nslot - 1))
        if (s->hash[k] == h && s->len[k] == len && memcmp(s->arena + s->off[k], key, len) == 0) return k;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->off = xgd_realloc(s->off, s->cap * sizeof *s->off);
        s->len = xgd_realloc(s->len, s->cap * sizeof *s->len);
        s->hash = xgd_realloc(s->hash, s->cap * sizeof *s->hash);
    }
    if (s->arena_len + len > s->arena_cap) {
        while (s->arena_len + len > s->arena_cap) s->arena_cap = s->arena_cap ? 2 * s->arena_cap : 4096;
        s->arena = xgd_realloc(s->arena, s->arena_cap);
    }
    if (len) memcpy(s->arena + s->arena_len, key, len);
    size_t k = s->n++;
    s->off[k] = s->arena_len;
    s->len[k] = len;
    s->hash[k] = h;
    s->arena_len += len;
    s->slot[i] = (int64_t)k;
    if (2 * s->n > s->nslot) rehash(s, 2 * s->nslot);  /* load factor <= 1/2 */
    return (int64_t)k;
}

void xgd_strset_clear(xgd_strset *s) {
    if (s->nslot && s->n) for (size_t i = 0; i < s->nslot; i++) s->slot[i] = -1;
    s->n = 0;
    s->arena_len = 0;
}

void xgd_strset_free(xgd_strset *s) {
    free(s->arena); free(s->off); free(s->len); free(s->hash); free(s->slot);
    memset(s, 0, sizeof *s);
}
