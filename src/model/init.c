#include "model/init.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/rng.h"
#include "io/checkpoint.h"
#include "model/config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { xgd_tensor *t; size_t n, cap; } tensor_list;

static void add_tensor(tensor_list *tl, const xgd_tensor_spec *s, const char *name, const xgd_hparams *hp,
                       xgd_dtype dtype, uint64_t seed, float std) {
    if (tl->n == tl->cap) tl->t = xgd_realloc(tl->t, sizeof(xgd_tensor) * (tl->cap = tl->cap ? 2 * tl->cap : 64));
    xgd_tensor *t = &tl->t[tl->n];
    memset(t, 0, sizeof *t);
    t->name = xgd_strdup(name);
    t->ndim = s->shape[1] ? 2 : 1;
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) numel *= (t->shape[i] = xgd_dim_value(hp, s->shape[i]));
    float *v = xgd_malloc(sizeof(float) * (size_t)numel);
    xgd_rng r;
    xgd_rng_init(&r, seed, tl->n);
    for (int64_t i = 0; i < numel; i++) {
        float z = std * xgd_rng_normal(&r);
        v[i] = s->init == INIT_NORM_WEIGHT ? 1.0f + z : z;
    }
    t->dtype = dtype;
    t->nbytes = (size_t)numel * xgd_dtype_size(dtype);
    void *data = xgd_malloc(t->nbytes);
    xgd_convert_from_f32(data, dtype, v, (size_t)numel);
    free(v);
    t->data = data;
    tl->n++;
}

typedef struct { tensor_list *tl; const xgd_hparams *hp; xgd_dtype dtype; uint64_t seed; float std; } init_pass;

static int init_one(const xgd_tensor_spec *s, const char *name, void *slot, int per_layer, void *user) {
    (void)slot; (void)per_layer;
    init_pass *p = user;
    add_tensor(p->tl, s, name, p->hp, p->dtype, p->seed, p->std);
    return 0;
}

static int write_json(const char *dir, const char *file, json_t *obj) {
    char *path = xgd_path_join(dir, file);
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    size_t n = strlen(text);
    text = xgd_realloc(text, n + 2);
    text[n] = '\n';
    int rc = xgd_write_file_atomic(path, text, n + 1);
    free(text);
    free(path);
    return rc;
}

int xgd_init_checkpoint(const xgd_family *fam, const json_t *user_cfg, xgd_dtype dtype, uint64_t seed, const char *out) {
    if (dtype != XGD_F32 && dtype != XGD_BF16 && dtype != XGD_F16) return xgd_fail("init: dtype must be f32, bf16 or f16");
    xgd_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.logit_scale = 1.0f;
    hp.pad_id = -1;
    fam->defaults(&hp);
    if (fam->parse_config(user_cfg, &hp) != 0 || cfg_validate(&hp, fam->model_type) != 0) return -1;
    hp.dtype = dtype;
    float std = (float)cfg_num(user_cfg, 0.02, "initializer_range", NULL);
    if (xgd_mkdir_p(out) != 0) return -1;

    /* config.json: the user's keys, completed and normalised by the family's writer */
    json_t *cfg = json_deep_copy(user_cfg);
    json_t *full = fam->write_config(&hp);
    json_object_update(cfg, full);
    json_object_set_new(cfg, "initializer_range", json_real(std));
    json_decref(full);
    int rc = write_json(out, "config.json", cfg);
    json_decref(cfg);
    if (rc != 0) return -1;
    json_t *gen = json_object();
    json_object_set_new(gen, "_from_model_config", json_true());
    json_object_set_new(gen, "bos_token_id", json_integer(hp.bos_id));
    if (hp.n_eos) json_object_set_new(gen, "eos_token_id", json_integer(hp.eos_ids[0]));
    if (hp.pad_id >= 0) json_object_set_new(gen, "pad_token_id", json_integer(hp.pad_id));
    json_object_set_new(gen, "transformers_version", json_string("4.41.2"));
    rc = write_json(out, "generation_config.json", gen);
    json_decref(gen);
    if (rc != 0) return -1;

    tensor_list tl = {0};
    init_pass ip = {&tl, &hp, dtype, seed, std};
    xgd_globals g;
    xgd_layer *layers = xgd_calloc((size_t)hp.n_layer, sizeof(xgd_layer));
    xgd_family_foreach(fam, &hp, &g, layers, init_one, &ip);
    free(layers);
    char *path = xgd_path_join(out, "model.safetensors");
    rc = xgd_st_write(path, tl.t, tl.n, NULL);
    free(path);
    for (size_t i = 0; i < tl.n; i++) { free((void *)tl.t[i].name); free((void *)tl.t[i].data); }
    free(tl.t);
    return rc;
}
