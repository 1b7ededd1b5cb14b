#include "train/save.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "io/checkpoint.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Files a checkpoint folder carries besides the weights (transformers' and vLLM's loaders read them). */
static const char *const side_files[] = {
    "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "chat_template.jinja", NULL,
};

int xgd_copy_side_files(const char *src, const char *dst) {
    for (int i = 0; side_files[i]; i++) {
        char *from = xgd_path_join(src, side_files[i]);
        if (xgd_is_file(from)) {
            char *buf, *to = xgd_path_join(dst, side_files[i]);
            size_t len;
            int rc = xgd_read_file(from, &buf, &len);
            if (rc == 0) { rc = xgd_write_file_atomic(to, buf, len); free(buf); }
            free(to);
            if (rc != 0) { free(from); return -1; }
        }
        free(from);
    }
    return 0;
}

static int write_config(const char *base_dir, const char *out_dir, xgd_dtype dtype) {
    char *src = xgd_path_join(base_dir, "config.json");
    json_t *cfg = xgd_json_load(src);
    free(src);
    if (!cfg) return -1;
    /* transformers 4 reads torch_dtype, 5 writes dtype: keep whichever the base had, set both right */
    json_object_set_new(cfg, json_object_get(cfg, "dtype") ? "dtype" : "torch_dtype", json_string(xgd_dtype_torch_name(dtype)));
    char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(cfg);
    size_t n = strlen(text);
    text = xgd_realloc(text, n + 2);
    text[n] = '\n';
    char *dst = xgd_path_join(out_dir, "config.json");
    int rc = xgd_write_file_atomic(dst, text, n + 1);
    free(dst);
    free(text);
    return rc;
}

int xgd_save_hf_folder(const xgd_params *p, const char *base_dir, const char *out_dir, xgd_dtype dtype) {
    if (xgd_mkdir_p(out_dir) != 0) return -1;
    xgd_tensor *t = xgd_calloc((size_t)p->n_info, sizeof(xgd_tensor));
    void **owned = xgd_calloc((size_t)p->n_info, sizeof(void *));
    for (int i = 0; i < p->n_info; i++) {
        const xgd_param_info *in = &p->info[i];
        t[i].name = in->name;
        t[i].dtype = dtype;
        t[i].ndim = in->ndim;
        t[i].shape[0] = in->shape[0];
        t[i].shape[1] = in->shape[1];
        t[i].nbytes = (size_t)in->numel * xgd_dtype_size(dtype);
        if (dtype == XGD_F32) t[i].data = p->data + in->offset;
        else {
            owned[i] = xgd_malloc(t[i].nbytes);
            xgd_convert_from_f32(owned[i], dtype, p->data + in->offset, (size_t)in->numel);
            t[i].data = owned[i];
        }
    }
    /* transformers' default max_shard_size is 5 GB (it was 10 GB in 4.x): keep files below 5 GB */
    int rc = xgd_ckpt_write_folder(out_dir, t, (size_t)p->n_info, 5000000000ULL);
    for (int i = 0; i < p->n_info; i++) free(owned[i]);
    free(owned);
    free(t);
    if (rc == 0) rc = write_config(base_dir, out_dir, dtype);
    if (rc == 0) rc = xgd_copy_side_files(base_dir, out_dir);
    return rc;
}

/* Convert numel values of a stored tensor into dst, a slice at a time (the data may be unaligned,
 * so each slice goes through an aligned buffer). With release set (a memory-mapped safetensors
 * file), the pages of each slice are dropped from the mapping once copied: reading a checkpoint
 * back into the trainable storage (the best weights at the end, a resumed run's weights and
 * optimizer state) then never holds a second resident copy of it (5.7 GB at mGPT-1.3B). */
static void load_tensor(float *dst, const xgd_tensor *t, int64_t numel, int release) {
    size_t es = xgd_dtype_size(t->dtype), slice = (size_t)1 << 22;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    void *tmp = xgd_malloc(slice * es);
    for (int64_t i = 0; i < numel; i += (int64_t)slice) {
        size_t n = (size_t)(numel - i) < slice ? (size_t)(numel - i) : slice;
        const char *src = (const char *)t->data + (size_t)i * es;
        memcpy(tmp, src, n * es);
        xgd_convert_to_f32(dst + i, tmp, t->dtype, n);
        /* only whole pages inside this tensor's bytes */
        uintptr_t a = ((uintptr_t)src + page - 1) & ~(page - 1), b = ((uintptr_t)src + n * es) & ~(page - 1);
        if (release && b > a) madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
    }
    free(tmp);
}

static int is_mapped(const xgd_ckpt *c) { return !strncmp(xgd_ckpt_format(c), "safetensors", 11); }

int xgd_load_params(xgd_params *p, const char *dir) {
    xgd_ckpt *c;
    if (xgd_ckpt_open(&c, dir) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < p->n_info && rc == 0; i++) {
        const xgd_param_info *in = &p->info[i];
        const xgd_tensor *t = xgd_ckpt_find(c, in->name);
        if (!t || xgd_tensor_numel(t) != in->numel) rc = xgd_fail("%s: tensor '%s' is missing or has the wrong size", dir, in->name);
        else load_tensor(p->data + in->offset, t, in->numel, is_mapped(c));
    }
    xgd_ckpt_close(c);
    return rc;
}

int xgd_save_optim(const xgd_optim *o, const char *dir) {
    xgd_tensor t[2];
    memset(t, 0, sizeof t);
    /* exp_avg_sq always; exp_avg when the optimizer has one (AdamW) */
    const char *names[2] = {"exp_avg_sq", "exp_avg"};
    const float *d[2] = {o->v, o->m};
    int nt = o->m ? 2 : 1;
    for (int i = 0; i < nt; i++) {
        t[i].name = names[i];
        t[i].dtype = XGD_F32;
        t[i].ndim = 1;
        t[i].shape[0] = o->n;
        t[i].data = d[i];
        t[i].nbytes = sizeof(float) * (size_t)o->n;
    }
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)o->step);
    const char *meta[] = {"step", step, NULL};
    char *path = xgd_path_join(dir, "optimizer.safetensors");
    int rc = xgd_st_write(path, t, (size_t)nt, meta);
    free(path);
    return rc;
}

int xgd_load_optim(xgd_optim *o, const char *dir) {
    char *path = xgd_path_join(dir, "optimizer.safetensors");
    xgd_ckpt *c;
    int rc = xgd_ckpt_open(&c, path);
    free(path);
    if (rc != 0) return -1;
    const xgd_tensor *m = xgd_ckpt_find(c, "exp_avg"), *v = xgd_ckpt_find(c, "exp_avg_sq");
    if ((o->m && (!m || xgd_tensor_numel(m) != o->n)) || !v || xgd_tensor_numel(v) != o->n)
        rc = xgd_fail("%s: optimizer state does not match the model", dir);
    else {
        if (o->m) load_tensor(o->m, m, o->n, 1);
        load_tensor(o->v, v, o->n, 1);
        const char *meta = xgd_ckpt_metadata(c);
        json_t *j = meta ? json_loads(meta, 0, NULL) : NULL;
        const char *s = json_string_value(json_object_get(j, "step"));
        o->step = s ? atoll(s) : 0;
        json_decref(j);
    }
    xgd_ckpt_close(c);
    return rc;
}
