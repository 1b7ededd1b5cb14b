#include "model/t5_weights.h"
#include "base/err.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const xgd_tensor *find(const xgd_wbind *b, const char *name) {
    const xgd_tensor *t = NULL;
    if (b->prefix && b->prefix[0]) {
        char full[512];
        snprintf(full, sizeof full, "%s%s", b->prefix, name);
        t = xgd_ckpt_find(b->ckpt, full);
    }
    return t ? t : xgd_ckpt_find(b->ckpt, name);
}

int xgd_wbind_has(const xgd_wbind *b, const char *name) { return find(b, name) != NULL; }

static void own(xgd_wbind *b, void *p) {
    b->owned = xgd_realloc(b->owned, sizeof(void *) * (size_t)(b->n_owned + 1));
    b->owned[b->n_owned++] = p;
}

static int bind_one(xgd_wbind *b, const t5_tensor_spec *s, const char *name, void *slot, const int64_t *dims) {
    const xgd_tensor *t = find(b, name);
    if (!t) return xgd_fail("%s: missing tensor '%s%s'", b->path, b->prefix ? b->prefix : "", name);
    int nd = s->d1 ? 2 : 1;
    int64_t want[2] = {dims[s->d0], s->d1 ? dims[s->d1] : 0};
    int ok = t->ndim == nd && t->shape[0] == want[0] && (nd == 1 || t->shape[1] == want[1]);
    if (!ok) {
        char got[96] = "[";
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        return xgd_fail("%s: tensor '%s' has shape %s] but config.json implies [%lld%s%lld]", t->file, name, got,
                        (long long)want[0], nd == 2 ? "," : "", nd == 2 ? (long long)want[1] : 0LL);
    }
    if (t->dtype != XGD_F32 && t->dtype != XGD_F16 && t->dtype != XGD_BF16 && !(s->kind == T5W_VEC && t->dtype == XGD_F64))
        return xgd_fail("%s: tensor '%s' has dtype %s; expected F32, F16 or BF16", t->file, name, xgd_dtype_st_name(t->dtype));
    int64_t n = xgd_tensor_numel(t);
    b->n_params += n;
    if (s->kind == T5W_VEC) {
        /* the source may be unaligned in third-party files: convert through a bounce copy */
        float *dst = xgd_malloc(sizeof(float) * (size_t)n);
        void *tmp = xgd_malloc(t->nbytes);
        memcpy(tmp, t->data, t->nbytes);
        xgd_convert_to_f32(dst, tmp, t->dtype, (size_t)n);
        free(tmp);
        own(b, dst);
        *(float **)slot = dst;
        return 0;
    }
    const void *data = t->data;
    if ((uintptr_t)data % xgd_dtype_size(t->dtype) != 0) { /* kernels need aligned elements */
        void *copy = xgd_aligned_alloc(t->nbytes);
        memcpy(copy, data, t->nbytes);
        own(b, copy);
        data = copy;
    }
    xgd_wmat *w = slot;
    *w = (xgd_wmat){data, t->dtype, want[0], want[1], XGD_W_OUT_IN};
    return 0;
}

int xgd_wbind_table(xgd_wbind *b, const t5_tensor_spec *table, void *base, const int64_t *dims,
                    unsigned cond, int block, int sub) {
    for (const t5_tensor_spec *s = table; s->name; s++) {
        if ((s->when & cond) != s->when) continue;
        char name[256];
        snprintf(name, sizeof name, s->name, block, sub);
        if (bind_one(b, s, name, (char *)base + s->slot, dims) != 0) return -1;
    }
    return 0;
}

void xgd_wbind_free(xgd_wbind *b) {
    for (int i = 0; i < b->n_owned; i++) free(b->owned[i]);
    free(b->owned);
    b->owned = NULL;
    b->n_owned = 0;
}
