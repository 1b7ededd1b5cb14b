/* A set of byte strings that numbers its members in insertion order: groups records by prompt
 * string and counts distinct n-grams. Open addressing over a key arena; clear() keeps the memory
 * so a set reused per group does not reallocate. Internal to src/eval. */
#ifndef XGD_EVAL_METRICS_STRSET_H
#define XGD_EVAL_METRICS_STRSET_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *arena;                 /* the keys, back to back */
    size_t arena_len, arena_cap;
    size_t *off, *len;           /* (n,) key k = arena[off[k], off[k] + len[k]) */
    uint64_t *hash;              /* (n,) */
    size_t n, cap;
    int64_t *slot;               /* (nslot,) member index or -1; nslot a power of two */
    size_t nslot;
} xgd_strset;

/* The index of key (new members get n, then n grows). */
int64_t xgd_strset_add(xgd_strset *s, const void *key, size_t len);
void xgd_strset_clear(xgd_strset *s);
void xgd_strset_free(xgd_strset *s);

#endif
