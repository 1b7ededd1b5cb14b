#include "model/intervene.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

typedef struct { char hook[128]; int32_t *idx; int n; int set; float value; long bad; } edit;

struct xgd_intervention {
    edit *edits;
    int n;
};

static void apply(void *user, const xgd_hook_event *ev) {
    edit *e = user;
    for (int i = 0; i < e->n; i++) {
        int32_t j = e->idx[i];
        if (j >= ev->D) { e->bad++; continue; }
        for (int64_t r = 0; r < (int64_t)ev->B * ev->T; r++) {
            float *x = ev->x + r * ev->D + j;
            *x = e->set ? e->value : *x + e->value;
        }
    }
}

xgd_intervention *xgd_intervention_parse(const char *spec, xgd_hooks *h) {
    xgd_intervention *iv = xgd_calloc(1, sizeof *iv);
    const char *p = spec;
    while (*p) {
        const char *lb = strchr(p, '[');
        if (!lb) { xgd_fail("--intervene: expected HOOK[INDEX]+=VALUE or HOOK[INDEX]=VALUE at '%s'", p); goto fail; }
        char hook[128];
        size_t hl = (size_t)(lb - p);
        if (hl == 0 || hl >= sizeof hook) { xgd_fail("--intervene: bad hook name at '%s'", p); goto fail; }
        memcpy(hook, p, hl);
        hook[hl] = 0;
        iv->edits = xgd_realloc(iv->edits, sizeof(edit) * (size_t)(iv->n + 1));
        edit *e = &iv->edits[iv->n];
        memset(e, 0, sizeof *e);
        memcpy(e->hook, hook, hl + 1);
        p = lb + 1;
        for (;;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 0) { xgd_fail("--intervene: bad neuron index at '%s'", p); free(e->idx); goto fail; }
            e->idx = xgd_realloc(e->idx, sizeof(int32_t) * (size_t)(e->n + 1));
            e->idx[e->n++] = (int32_t)v;
            p = end;
            if (*p == ',') { p++; continue; }
            if (*p == ']') { p++; break; }
            xgd_fail("--intervene: expected ',' or ']' at '%s'", p);
            free(e->idx);
            goto fail;
        }
        if (p[0] == '+' && p[1] == '=') { p += 2; }
        else if (p[0] == '=') { e->set = 1; p += 1; }
        else { xgd_fail("--intervene: expected '+=' or '=' at '%s'", p); free(e->idx); goto fail; }
        char *end;
        e->value = strtof(p, &end);
        if (end == p) { xgd_fail("--intervene: expected a number at '%s'", p); free(e->idx); goto fail; }
        p = end;
        iv->n++;
        xgd_hook_kind kind;
        int layer;
        if (xgd_hook_parse(hook, &kind, &layer) != 0) goto fail;
        if (*p == ',') p++;
        else if (*p) { xgd_fail("--intervene: unexpected '%s'", p); goto fail; }
    }
    if (iv->n == 0) { xgd_fail("--intervene: empty specification"); goto fail; }
    /* register only once every edit parsed (and the edits array stopped moving) */
    if (h->n + iv->n > XGD_MAX_HOOKS) { xgd_fail("--intervene: too many edits (at most %d hooks)", XGD_MAX_HOOKS); goto fail; }
    for (int i = 0; i < iv->n; i++) xgd_hooks_add(h, iv->edits[i].hook, apply, &iv->edits[i]);
    return iv;
fail:
    xgd_intervention_free(iv);
    return NULL;
}

void xgd_intervention_free(xgd_intervention *iv) {
    if (!iv) return;
    for (int i = 0; i < iv->n; i++) free(iv->edits[i].idx);
    free(iv->edits);
    free(iv);
}

long xgd_intervention_out_of_range(const xgd_intervention *iv) {
    long n = 0;
    for (int i = 0; i < iv->n; i++) n += iv->edits[i].bad;
    return n;
}
