#include "model/model.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "model/config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int xgd_read_config(const char *dir, json_t **cfg_out, const xgd_family **fam_out, xgd_hparams *hp) {
    char *cpath = xgd_path_join(dir, "config.json");
    json_t *cfg = NULL;
    int rc = -1;
    if (!xgd_is_file(cpath)) { xgd_fail("%s: no config.json in this folder", dir); goto done; }
    if (!(cfg = xgd_json_load(cpath))) goto done;
    const xgd_family *fam = xgd_family_from_config(cfg);
    if (!fam) {
        const char *mt = json_string_value(json_object_get(cfg, "model_type"));
        xgd_fail("%s: unknown architecture (model_type '%s'); supported: %s", cpath, mt ? mt : "(none)", xgd_family_names());
        goto done;
    }
    memset(hp, 0, sizeof *hp);
    hp->logit_scale = 1.0f;
    hp->pad_id = -1;
    hp->dtype = XGD_F32;
    fam->defaults(hp);
    if (fam->parse_config(cfg, hp) != 0 || cfg_validate(hp, fam->model_type) != 0) { xgd_err_context("%s", cpath); goto done; }
    *fam_out = fam;
    *cfg_out = cfg;
    cfg = NULL;
    rc = 0;
done:
    json_decref(cfg);
    free(cpath);
    return rc;
}

/* Find a tensor under its canonical name, or without the base-model prefix (original GPT-2 and
 * BigScience checkpoints store "h.0..." rather than "transformer.h.0..."). */
static const xgd_tensor *find_tensor(const xgd_model *m, const char *name) {
    const xgd_tensor *t = xgd_ckpt_find(m->ckpt, name);
    size_t np = strlen(m->fam->prefix);
    if (!t && strncmp(name, m->fam->prefix, np) == 0) t = xgd_ckpt_find(m->ckpt, name + np);
    return t;
}

static const char *shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* Check a tensor against its spec and bind it into the slot. vec_at is the next free float in
 * m->vecs (NULL during the counting pass). */
static int bind(xgd_model *m, const xgd_tensor_spec *s, const char *name, void *slot, int per_layer,
                float **vec_at, int64_t *vec_need) {
    const xgd_tensor *t = find_tensor(m, name);
    if (!t) return xgd_fail("%s: missing tensor '%s' (expected by %s config)", m->path, name, m->fam->model_type);
    int64_t want[2] = {xgd_dim_value(&m->hp, s->shape[0]), s->shape[1] ? xgd_dim_value(&m->hp, s->shape[1]) : 0};
    int wnd = s->shape[1] ? 2 : 1;
    int ok = t->ndim == wnd;
    for (int i = 0; ok && i < wnd; i++) ok = t->shape[i] == want[i];
    if (!ok) {
        char a[64], b[64];
        return xgd_fail("%s: tensor '%s' has shape %s but config.json implies %s", t->file, name,
                        shape_str(a, sizeof a, t->ndim, t->shape), shape_str(b, sizeof b, wnd, want));
    }
    if (s->kind == SLOT_VEC) {
        if (t->dtype != XGD_F32 && t->dtype != XGD_F16 && t->dtype != XGD_BF16 && t->dtype != XGD_F64)
            return xgd_fail("%s: tensor '%s' has unsupported dtype %s", t->file, name, xgd_dtype_st_name(t->dtype));
        int64_t n = xgd_tensor_numel(t);
        if (!vec_at) { *vec_need += n; return 0; }
        float *dst = *vec_at;
        /* the source may be unaligned in third-party files: convert through a bounce copy */
        void *tmp = xgd_malloc(t->nbytes);
        memcpy(tmp, t->data, t->nbytes);
        xgd_convert_to_f32(dst, tmp, t->dtype, (size_t)n);
        free(tmp);
        *(float **)slot = dst;
        *vec_at += n;
        m->n_params += n;
        m->weight_bytes += (int64_t)t->nbytes;
        return 0;
    }
    if (!vec_at) return 0; /* matrices bind in the second pass only */
    if (t->dtype != XGD_F32 && t->dtype != XGD_F16 && t->dtype != XGD_BF16)
        return xgd_fail("%s: tensor '%s' has dtype %s; matrices must be F32, F16 or BF16", t->file, name, xgd_dtype_st_name(t->dtype));
    xgd_wmat *w = slot;
    const void *data = t->data;
    size_t es = xgd_dtype_size(t->dtype);
    if (((uintptr_t)data) % es != 0) { /* misaligned in the file: kernels need aligned elements */
        void *copy = xgd_aligned_alloc(t->nbytes);
        memcpy(copy, data, t->nbytes);
        m->owned = xgd_realloc(m->owned, sizeof(void *) * (size_t)(m->n_owned + 1));
        m->owned[m->n_owned++] = copy;
        data = copy;
    }
    w->data = data;
    w->dtype = t->dtype;
    /* Per-layer matrices follow the family's layout (GPT-2 Conv1D is (in, out)); embeddings and
     * heads are always (rows = vocab, H). */
    w->layout = per_layer ? m->fam->weight_layout : XGD_W_OUT_IN;
    w->out = w->layout == XGD_W_OUT_IN ? want[0] : want[1];
    w->in = w->layout == XGD_W_OUT_IN ? want[1] : want[0];
    m->n_params += xgd_tensor_numel(t);
    m->weight_bytes += (int64_t)t->nbytes;
    return 0;
}

/* Walk every spec of the family: pass 1 counts vector floats, pass 2 binds. */
typedef struct { xgd_model *m; float **vec_at; int64_t *vec_need; } bind_pass;

static int bind_one(const xgd_tensor_spec *s, const char *name, void *slot, int per_layer, void *user) {
    bind_pass *p = user;
    return bind(p->m, s, name, slot, per_layer, p->vec_at, p->vec_need);
}

static int bind_all(xgd_model *m, float **vec_at, int64_t *vec_need) {
    bind_pass p = {m, vec_at, vec_need};
    return xgd_family_foreach(m->fam, &m->hp, &m->g, m->layers, bind_one, &p);
}

int xgd_model_load(xgd_model **out, const char *arg) {
    *out = NULL;
    char *dir = xgd_resolve_model(arg);
    if (!dir) return -1;
    xgd_model *m = xgd_calloc(1, sizeof *m);
    m->path = dir;
    if (xgd_read_config(dir, &m->config, &m->fam, &m->hp) != 0) goto fail;
    if (xgd_ckpt_open(&m->ckpt, dir) != 0) goto fail;
    m->layers = xgd_calloc((size_t)m->hp.n_layer, sizeof(xgd_layer));
    int64_t need = 0;
    if (bind_all(m, NULL, &need) != 0) goto fail;
    m->vecs = xgd_aligned_alloc((size_t)(need ? need : 1) * sizeof(float));
    float *at = m->vecs;
    m->n_params = m->weight_bytes = 0;
    if (bind_all(m, &at, &need) != 0) goto fail;
    if (m->fam->pos == POS_ROPE || m->fam->pos == POS_ROPE_INTERLEAVED) {
        m->inv_freq = xgd_malloc(sizeof(float) * (size_t)(m->hp.head_dim / 2));
        xgd_rope_inv_freq(m->inv_freq, m->hp.head_dim, m->hp.rope_theta, &m->hp.rope);
    }
    if (m->fam->pos == POS_ALIBI) {
        m->alibi = xgd_malloc(sizeof(float) * (size_t)m->hp.n_head);
        xgd_alibi_slopes(m->alibi, m->hp.n_head);
    }
    *out = m;
    return 0;
fail:
    xgd_model_free(m);
    return -1;
}

const xgd_wmat *xgd_model_head(const xgd_model *m) { return m->hp.tied ? &m->g.embed : &m->g.lm_head; }

void xgd_model_free(xgd_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->vecs);
    free(m->inv_freq);
    free(m->alibi);
    if (m->ckpt) xgd_ckpt_close(m->ckpt);
    json_decref(m->config);
    free(m->path);
    free(m);
}
