/* pytorch_model.bin (torch.save since 1.6): a ZIP with <root>/data.pkl describing the state dict
 * and <root>/data/<key> holding each storage's raw little-endian bytes. Tensors that are
 * contiguous views point straight into the mapping; strided views (a transpose saved as is) are
 * copied into contiguous buffers. Several tensors may view the same storage. */
#include "io/io_internal.h"
#include "base/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xgd_bin_file {
    char *path;
    xgd_zip zip;
    xgd_pkl_tensor *rec;
    xgd_tensor *t;
    void **owned; /* per tensor: a contiguous copy, or NULL when it points into the mapping */
    size_t n;
};

/* Pre-1.6 torch.save wrote a pickle stream (or, earlier, a tar). Say so instead of "not a ZIP". */
static int check_magic(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return xgd_fail("%s: cannot open", path);
    unsigned char b[4] = {0};
    size_t got = fread(b, 1, 4, fp);
    fclose(fp);
    if (got == 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4) return 0;
    if (got >= 1 && b[0] == 0x80)
        return xgd_fail("%s: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a recent "
                        "torch or convert it to safetensors", path);
    return xgd_fail("%s: not a torch.save ZIP archive", path);
}

/* "<root>/data.pkl": the archive's single top-level folder holds everything. */
static const xgd_zip_entry *find_pickle(const xgd_zip *z, char **root) {
    for (size_t i = 0; i < z->n; i++) {
        const char *nm = z->entries[i].name, *slash = strchr(nm, '/');
        if (slash && strcmp(slash, "/data.pkl") == 0) {
            *root = xgd_malloc((size_t)(slash - nm) + 1);
            memcpy(*root, nm, (size_t)(slash - nm));
            (*root)[slash - nm] = 0;
            return &z->entries[i];
        }
    }
    xgd_fail("%s: no <root>/data.pkl entry: not a torch.save archive", z->path);
    return NULL;
}

static int is_contiguous(const xgd_pkl_tensor *r) {
    int64_t expect = 1;
    for (int d = r->ndim - 1; d >= 0; d--) {
        if (r->shape[d] != 1 && r->stride[d] != expect) return 0;
        expect *= r->shape[d];
    }
    return 1;
}

/* Copy a strided view (elements of `es` bytes) into dst in C order. */
static void gather(uint8_t *dst, const uint8_t *base, const xgd_pkl_tensor *r, size_t es) {
    int64_t idx[XGD_MAX_DIMS] = {0};
    int nd = r->ndim;
    int64_t inner = nd ? r->shape[nd - 1] : 1, istride = nd ? r->stride[nd - 1] : 1;
    for (;;) {
        int64_t off = 0;
        for (int d = 0; d < nd - 1; d++) off += idx[d] * r->stride[d];
        for (int64_t j = 0; j < inner; j++, dst += es) memcpy(dst, base + (size_t)(off + j * istride) * es, es);
        int d = nd - 2;
        while (d >= 0 && ++idx[d] == r->shape[d]) idx[d--] = 0;
        if (d < 0) return;
    }
}

/* Resolve one pickled tensor against its storage entry. */
static int materialize(xgd_bin_file *f, const char *root, size_t i) {
    const xgd_pkl_tensor *r = &f->rec[i];
    xgd_tensor *t = &f->t[i];
    size_t es = xgd_dtype_size(r->dtype);
    char key[512];
    if ((size_t)snprintf(key, sizeof key, "%s/data/%s", root, r->storage_key) >= sizeof key)
        return xgd_fail("%s: tensor '%s': storage key too long", f->path, r->name);
    const xgd_zip_entry *e = xgd_zip_find(&f->zip, key);
    if (!e) return xgd_fail("%s: tensor '%s': storage '%s' is missing from the archive", f->path, r->name, key);
    uint64_t numel = 1, span;
    for (int d = 0; d < r->ndim; d++)
        if (__builtin_mul_overflow(numel, (uint64_t)r->shape[d], &numel))
            return xgd_fail("%s: tensor '%s': shape overflows", f->path, r->name);
    t->name = r->name;
    t->dtype = r->dtype;
    t->ndim = r->ndim;
    memcpy(t->shape, r->shape, sizeof t->shape);
    t->file = f->path;
    t->nbytes = (size_t)(numel * es);
    if (numel == 0) { t->data = e->data; return 0; }
    /* last element touched: offset + sum (size-1)*stride, all in elements */
    uint64_t last = (uint64_t)r->offset;
    for (int d = 0; d < r->ndim; d++) {
        uint64_t step;
        if (__builtin_mul_overflow((uint64_t)(r->shape[d] - 1), (uint64_t)r->stride[d], &step) ||
            __builtin_add_overflow(last, step, &last))
            return xgd_fail("%s: tensor '%s': view overflows", f->path, r->name);
    }
    if (__builtin_mul_overflow(last + 1, (uint64_t)es, &span) || span > e->size)
        return xgd_fail("%s: tensor '%s': view needs %llu bytes of storage '%s' which has %llu (truncated or corrupt)",
                        f->path, r->name, (unsigned long long)span, r->storage_key, (unsigned long long)e->size);
    const uint8_t *base = e->data + (size_t)r->offset * es;
    if (is_contiguous(r)) { t->data = base; return 0; }
    uint8_t *copy = xgd_malloc(t->nbytes);
    gather(copy, base, r, es);
    f->owned[i] = copy;
    t->data = copy;
    return 0;
}

static int load(xgd_bin_file *f) {
    if (check_magic(f->path) != 0 || xgd_zip_open(&f->zip, f->path) != 0) return -1;
    char *root = NULL;
    const xgd_zip_entry *pkl = find_pickle(&f->zip, &root);
    if (!pkl) return -1;
    int rc = 0;
    char bo[512];
    snprintf(bo, sizeof bo, "%s/byteorder", root);
    const xgd_zip_entry *b = xgd_zip_find(&f->zip, bo);
    if (b && !(b->size == 6 && memcmp(b->data, "little", 6) == 0))
        rc = xgd_fail("%s: big-endian torch.save archives are not supported", f->path);
    char what[4096];
    snprintf(what, sizeof what, "%s: %s", f->path, pkl->name);
    if (rc == 0) rc = xgd_pickle_state_dict(pkl->data, (size_t)pkl->size, what, &f->rec, &f->n);
    if (rc == 0) {
        f->t = xgd_calloc(f->n ? f->n : 1, sizeof *f->t);
        f->owned = xgd_calloc(f->n ? f->n : 1, sizeof *f->owned);
        for (size_t i = 0; i < f->n && rc == 0; i++) rc = materialize(f, root, i);
    }
    free(root);
    return rc;
}

int xgd_bin_open(xgd_bin_file **out, const char *path) {
    *out = NULL;
    xgd_bin_file *f = xgd_calloc(1, sizeof *f);
    f->path = xgd_strdup(path);
    if (load(f) != 0) { xgd_bin_close(f); return -1; }
    *out = f;
    return 0;
}

void xgd_bin_close(xgd_bin_file *f) {
    if (!f) return;
    for (size_t i = 0; f->owned && i < f->n; i++) free(f->owned[i]);
    free(f->owned);
    free(f->t);
    xgd_pkl_tensors_free(f->rec, f->n);
    xgd_zip_close(&f->zip);
    free(f->path);
    free(f);
}

size_t xgd_bin_count(const xgd_bin_file *f) { return f->n; }
const xgd_tensor *xgd_bin_at(const xgd_bin_file *f, size_t i) { return i < f->n ? &f->t[i] : NULL; }
