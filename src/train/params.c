#include "train/params.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

typedef struct { xgd_params *p; int pass; int64_t off; } walk;

/* Pass 0 counts; pass 1 converts each tensor into data at its offset and points the model's slot
 * (and the gradient view's slot, found at the same offset in gg/gl) at it. */
static int visit(const xgd_tensor_spec *s, const char *name, void *slot, int per_layer, void *user) {
    walk *w = user;
    xgd_params *p = w->p;
    xgd_model *m = p->m;
    int64_t numel = xgd_dim_value(&m->hp, s->shape[0]) * (s->shape[1] ? xgd_dim_value(&m->hp, s->shape[1]) : 1);
    if (w->pass == 1) {
        float *dst = p->data + w->off, *gdst = p->grad + w->off;
        /* the gradient slot sits at the same place in the gradient structs */
        size_t rel = per_layer ? (size_t)((char *)slot - (char *)m->layers) : (size_t)((char *)slot - (char *)&m->g);
        void *gslot = per_layer ? (char *)p->gl + rel : (char *)&p->gg + rel;
        if (s->kind == SLOT_MAT) {
            xgd_wmat *wm = slot;
            xgd_convert_to_f32(dst, wm->data, wm->dtype, (size_t)numel);
            wm->data = dst;
            wm->dtype = XGD_F32;
            xgd_wmat *gm = gslot;
            *gm = *wm;
            gm->data = gdst;
        } else {
            float **v = slot;
            memcpy(dst, *v, sizeof(float) * (size_t)numel);
            *v = dst;
            *(float **)gslot = gdst;
        }
        xgd_param_info *in = &p->info[p->n_info++];
        in->name = xgd_strdup(name);
        in->offset = w->off;
        in->numel = numel;
        in->ndim = s->shape[1] ? 2 : 1;
        in->shape[0] = xgd_dim_value(&m->hp, s->shape[0]);
        in->shape[1] = s->shape[1] ? xgd_dim_value(&m->hp, s->shape[1]) : 0;
        in->is_matrix = s->kind == SLOT_MAT;
    } else {
        p->n_info++;
    }
    w->off += (numel + 15) & ~(int64_t)15;  /* keep every tensor 64-byte aligned */
    return 0;
}

int xgd_params_init(xgd_params *p, xgd_model *m) {
    memset(p, 0, sizeof *p);
    p->m = m;
    walk w = {p, 0, 0};
    xgd_family_foreach(m->fam, &m->hp, &m->g, m->layers, visit, &w);
    p->n = w.off;
    p->data = xgd_aligned_alloc(sizeof(float) * (size_t)p->n);
    p->grad = xgd_aligned_alloc(sizeof(float) * (size_t)p->n);
    memset(p->data, 0, sizeof(float) * (size_t)p->n);
    memset(p->grad, 0, sizeof(float) * (size_t)p->n);
    p->info = xgd_calloc((size_t)p->n_info, sizeof(xgd_param_info));
    p->gl = xgd_calloc((size_t)m->hp.n_layer, sizeof(xgd_layer));
    p->n_info = 0;
    w = (walk){p, 1, 0};
    xgd_family_foreach(m->fam, &m->hp, &m->g, m->layers, visit, &w);
    /* every slot now points into p->data: the mapped file (whose pages the conversion touched and
     * which would stay resident, counted in the peak) and the aligned copies are no longer read */
    xgd_ckpt_close(m->ckpt);
    m->ckpt = NULL;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    m->n_owned = 0;
    return 0;
}

void xgd_params_zero_grad(xgd_params *p) { memset(p->grad, 0, sizeof(float) * (size_t)p->n); }

void xgd_params_free(xgd_params *p) {
    for (int i = 0; i < p->n_info; i++) free(p->info[i].name);
    free(p->info);
    free(p->gl);
    free(p->data);
    free(p->grad);
    memset(p, 0, sizeof *p);
}
