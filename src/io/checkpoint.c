/* A checkpoint: every tensor of a model folder (or of one weights file), gathered from one or more
 * safetensors / torch.save files, with a by-name index for lookups (models have thousands of
 * tensors and the loader looks each one up). */
#include "io/io_internal.h"
#include "base/err.h"
#include "base/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xgd_ckpt {
    char *path;
    char format[64];
    xgd_st_file **st;
    size_t nst;
    xgd_bin_file **bin;
    size_t nbin;
    xgd_tensor *t;        /* all tensors, file by file */
    size_t n;
    const xgd_tensor **by_name; /* sorted by name */
    const xgd_skipped_tensor **skip;
    size_t nskip;
};

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int is_torch_file(const char *path) {
    if (has_suffix(path, ".bin") || has_suffix(path, ".pt") || has_suffix(path, ".pth")) return 1;
    if (has_suffix(path, ".safetensors")) return 0;
    FILE *fp = fopen(path, "rb");
    char b[2] = {0};
    if (fp) { if (fread(b, 1, 2, fp) != 2) b[0] = 0; fclose(fp); }
    return b[0] == 'P' && b[1] == 'K';
}

/* Open one weights file and append it to the source list. */
static int add_file(xgd_ckpt *c, const char *path) {
    if (is_torch_file(path)) {
        xgd_bin_file *b;
        if (xgd_bin_open(&b, path) != 0) return -1;
        c->bin = xgd_realloc(c->bin, (c->nbin + 1) * sizeof *c->bin);
        c->bin[c->nbin++] = b;
    } else {
        xgd_st_file *s;
        if (xgd_st_open(&s, path) != 0) return -1;
        c->st = xgd_realloc(c->st, (c->nst + 1) * sizeof *c->st);
        c->st[c->nst++] = s;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }
static int cmp_tensor(const void *a, const void *b) {
    return strcmp((*(const xgd_tensor *const *)a)->name, (*(const xgd_tensor *const *)b)->name);
}

/* Gather tensors from all sources, index them by name, refuse duplicate names. */
static int build_index(xgd_ckpt *c) {
    size_t n = 0, ns = 0;
    for (size_t i = 0; i < c->nst; i++) { n += xgd_st_count(c->st[i]); ns += xgd_st_skipped_count(c->st[i]); }
    for (size_t i = 0; i < c->nbin; i++) n += xgd_bin_count(c->bin[i]);
    c->t = xgd_calloc(n ? n : 1, sizeof *c->t);
    c->skip = xgd_calloc(ns ? ns : 1, sizeof *c->skip);
    for (size_t i = 0; i < c->nst; i++) {
        for (size_t k = 0; k < xgd_st_count(c->st[i]); k++) c->t[c->n++] = *xgd_st_at(c->st[i], k);
        for (size_t k = 0; k < xgd_st_skipped_count(c->st[i]); k++) c->skip[c->nskip++] = xgd_st_skipped_at(c->st[i], k);
    }
    for (size_t i = 0; i < c->nbin; i++)
        for (size_t k = 0; k < xgd_bin_count(c->bin[i]); k++) c->t[c->n++] = *xgd_bin_at(c->bin[i], k);
    c->by_name = xgd_malloc((n ? n : 1) * sizeof *c->by_name);
    for (size_t i = 0; i < n; i++) c->by_name[i] = &c->t[i];
    qsort(c->by_name, n, sizeof *c->by_name, cmp_tensor);
    for (size_t i = 1; i < n; i++)
        if (strcmp(c->by_name[i - 1]->name, c->by_name[i]->name) == 0)
            return xgd_fail("%s: tensor '%s' appears twice (%s and %s)", c->path, c->by_name[i]->name,
                            c->by_name[i - 1]->file, c->by_name[i]->file);
    return 0;
}

/* Where a tensor is stored: its file, for usable and skipped tensors alike; NULL if absent. */
static const char *file_of(const xgd_ckpt *c, const char *name) {
    const xgd_tensor key = {.name = name}, *kp = &key, **hit = NULL;
    if (c->n) hit = bsearch(&kp, c->by_name, c->n, sizeof *c->by_name, cmp_tensor);
    if (hit) return (*hit)->file;
    for (size_t i = 0; i < c->nskip; i++)
        if (strcmp(c->skip[i]->name, name) == 0) return c->skip[i]->file;
    return NULL;
}

/* A sharded checkpoint: {"metadata": {...}, "weight_map": {"tensor": "shard file", ...}}. Every
 * listed tensor must be in the shard the index names; a shard's other tensors load too (as in
 * transformers, which reads whole shards). Shards not named by the map are not opened. */
static int open_index(xgd_ckpt *c, const char *index_path) {
    json_t *j = xgd_json_load(index_path);
    if (!j) return -1;
    json_t *wm = json_object_get(j, "weight_map");
    if (!json_is_object(wm)) { json_decref(j); return xgd_fail("%s: no \"weight_map\" object", index_path); }
    char *dir = xgd_strdup(index_path), *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else strcpy(dir, ".");
    size_t nf = 0, cap = json_object_size(wm);
    const char **files = xgd_calloc(cap ? cap : 1, sizeof *files);
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(wm, k, v) {
        const char *fn = json_string_value(v);
        if (!fn || !*fn || fn[0] == '/' || strstr(fn, ".."))
            { rc = xgd_fail("%s: tensor '%s': shard file name is not a plain relative name", index_path, k); break; }
        files[nf++] = fn;
    }
    if (rc == 0) {
        qsort(files, nf, sizeof *files, cmp_str);
        size_t u = 0;
        for (size_t i = 0; i < nf; i++)
            if (u == 0 || strcmp(files[u - 1], files[i]) != 0) files[u++] = files[i];
        for (size_t i = 0; i < u && rc == 0; i++) {
            char *p = xgd_path_join(dir, files[i]);
            rc = add_file(c, p);
            free(p);
        }
        nf = u;
    }
    if (rc == 0) rc = build_index(c);
    json_object_foreach(wm, k, v) {
        if (rc != 0) break;
        const char *at = file_of(c, k), *want = json_string_value(v);
        if (!at || !has_suffix(at, want) || (strlen(at) > strlen(want) && at[strlen(at) - strlen(want) - 1] != '/'))
            rc = xgd_fail("%s: tensor '%s' is listed in %s but %s", index_path, k, want,
                          at ? "is stored in another shard" : "that shard does not hold it");
    }
    if (rc == 0)
        snprintf(c->format, sizeof c->format, "%s (sharded, %zu files)", c->nbin ? "pytorch .bin" : "safetensors", nf);
    free(files);
    free(dir);
    json_decref(j);
    return rc;
}

static int open_single(xgd_ckpt *c, const char *file) {
    if (add_file(c, file) != 0 || build_index(c) != 0) return -1;
    snprintf(c->format, sizeof c->format, "%s", c->nbin ? "pytorch .bin" : "safetensors");
    return 0;
}

/* transformers' order of preference inside a model folder. */
static int open_folder(xgd_ckpt *c, const char *dir) {
    static const char *names[] = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                                  "pytorch_model.bin.index.json"};
    for (size_t i = 0; i < 4; i++) {
        char *p = xgd_path_join(dir, names[i]);
        int found = xgd_is_file(p), rc = 0;
        if (found) rc = has_suffix(p, ".index.json") ? open_index(c, p) : open_single(c, p);
        free(p);
        if (found) return rc;
    }
    return xgd_fail("%s: no weights found (looked for model.safetensors, model.safetensors.index.json, "
                    "pytorch_model.bin, pytorch_model.bin.index.json)", dir);
}

int xgd_ckpt_open(xgd_ckpt **out, const char *path) {
    *out = NULL;
    xgd_ckpt *c = xgd_calloc(1, sizeof *c);
    c->path = xgd_strdup(path);
    int rc;
    if (xgd_is_dir(path)) rc = open_folder(c, path);
    else if (!xgd_is_file(path)) rc = xgd_fail("%s: no such file or folder", path);
    else if (has_suffix(path, ".index.json")) rc = open_index(c, path);
    else rc = open_single(c, path);
    if (rc != 0) { xgd_ckpt_close(c); return -1; }
    *out = c;
    return 0;
}

void xgd_ckpt_close(xgd_ckpt *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nst; i++) xgd_st_close(c->st[i]);
    for (size_t i = 0; i < c->nbin; i++) xgd_bin_close(c->bin[i]);
    free(c->st);
    free(c->bin);
    free(c->t);
    free(c->by_name);
    free(c->skip);
    free(c->path);
    free(c);
}

size_t xgd_ckpt_count(const xgd_ckpt *c) { return c->n; }
const xgd_tensor *xgd_ckpt_at(const xgd_ckpt *c, size_t i) { return i < c->n ? &c->t[i] : NULL; }
const char *xgd_ckpt_format(const xgd_ckpt *c) { return c->format; }
const char *xgd_ckpt_metadata(const xgd_ckpt *c) { return c->nst ? xgd_st_metadata_json(c->st[0]) : NULL; }

const char *xgd_ckpt_unsupported_dtype(const xgd_ckpt *c, const char *name) {
    for (size_t i = 0; i < c->nskip; i++)
        if (strcmp(c->skip[i]->name, name) == 0) return c->skip[i]->st_dtype;
    return NULL;
}

const xgd_tensor *xgd_ckpt_find(const xgd_ckpt *c, const char *name) {
    const xgd_tensor key = {.name = name}, *kp = &key, **hit = NULL;
    if (c->n) hit = bsearch(&kp, c->by_name, c->n, sizeof *c->by_name, cmp_tensor);
    if (hit) return *hit;
    const char *dt = xgd_ckpt_unsupported_dtype(c, name);
    if (dt) xgd_fail("%s: tensor '%s' has dtype %s, which is not supported (F32, F16, BF16, F64 and integer/bool types are)",
                     file_of(c, name), name, dt);
    else xgd_fail("%s: no tensor named '%s'", c->path, name);
    return NULL;
}
