#include "model/runtime.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

static size_t kv_floats(const xgd_model *m, int B, int Tmax) {
    return (size_t)m->hp.n_layer * 2 * (size_t)B * (size_t)Tmax * (size_t)m->hp.n_kv * (size_t)m->hp.head_dim;
}

xgd_state *xgd_state_new(const xgd_model *m, int B, int Tmax) {
    xgd_state *s = xgd_calloc(1, sizeof *s);
    s->m = m;
    s->B = B;
    s->Tmax = Tmax;
    s->kv = xgd_aligned_alloc(kv_floats(m, B, Tmax) * sizeof(float));
    s->mask = xgd_calloc((size_t)B * (size_t)Tmax, 1);
    s->kpos = xgd_calloc((size_t)B * (size_t)Tmax, sizeof(int32_t));
    s->seen = xgd_calloc((size_t)B, sizeof(int32_t));
    return s;
}

void xgd_state_reset(xgd_state *s) {
    s->past = 0;
    memset(s->seen, 0, sizeof(int32_t) * (size_t)s->B);
    memset(s->mask, 0, (size_t)s->B * (size_t)s->Tmax);
}

void xgd_state_free(xgd_state *s) {
    if (!s) return;
    free(s->kv);
    free(s->mask);
    free(s->kpos);
    free(s->seen);
    free(s->scratch);
    free(s);
}

void xgd_state_copy_from(xgd_state *s, int dst, const xgd_state *from, int src) {
    const xgd_hparams *hp = &s->m->hp;
    size_t kvd = (size_t)hp->n_kv * (size_t)hp->head_dim, n = (size_t)from->past;
    size_t drow = (size_t)s->Tmax * kvd, srow = (size_t)from->Tmax * kvd;
    for (int l = 0; l < hp->n_layer; l++)
        for (int kv = 0; kv < 2; kv++) {
            float *d = s->kv + ((size_t)l * 2 + (size_t)kv) * (size_t)s->B * drow + (size_t)dst * drow;
            const float *f = from->kv + ((size_t)l * 2 + (size_t)kv) * (size_t)from->B * srow + (size_t)src * srow;
            memcpy(d, f, n * kvd * sizeof(float));
        }
    memcpy(s->mask + (size_t)dst * (size_t)s->Tmax, from->mask + (size_t)src * (size_t)from->Tmax, n);
    memcpy(s->kpos + (size_t)dst * (size_t)s->Tmax, from->kpos + (size_t)src * (size_t)from->Tmax, n * sizeof(int32_t));
    s->seen[dst] = from->seen[src];
}
