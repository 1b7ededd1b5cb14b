/* safetensors reader: map the file, parse the JSON header with jansson, and validate it the way
 * the reference implementation (safetensors/src/tensor.rs, read_metadata + Metadata::validate)
 * does, so that a file we accept is one Python/Rust would accept and vice versa:
 *   8-byte LE header length N <= 100,000,000, 8+N within the file, header a JSON object that
 *   starts with '{', known dtype names, byte span == numel*bits/8, entries sorted by offsets start
 *   at 0 and touch (no hole, no overlap), the last one ends exactly at the end of the file.
 * Stricter than the reference on purpose: duplicate keys are refused (serde would silently keep
 * one), and more than XGD_MAX_DIMS dimensions is refused (we cannot represent it).
 * Tensors whose dtype we cannot compute with (F8_*, F4, F6_*, C64) are validated like the rest
 * and kept aside as "skipped": the file opens, and asking for such a tensor names its dtype. */
#include "io/io_internal.h"
#include "base/err.h"
#include "base/json.h"
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER 100000000ull

struct xgd_st_file {
    char *path;
    xgd_mapping map;
    xgd_tensor *t;             /* usable tensors, in file (offset) order */
    size_t n;
    xgd_skipped_tensor *skip;  /* tensors with a dtype we do not compute with */
    size_t nskip;
    char *meta_json;
};

/* One header entry while validating. */
typedef struct {
    const char *name;          /* owned by the json object until copied */
    const xgd_st_dtype_info *dt;
    int ndim;
    int64_t shape[XGD_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static int entry_cmp(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int get_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Parse one tensor description {"dtype":..,"shape":[..],"data_offsets":[b,e]}. */
static int parse_entry(const char *path, const char *name, const json_t *info, st_entry *e) {
    e->name = name;
    if (!json_is_object(info)) return xgd_fail("%s: tensor '%s': header entry is not an object", path, name);
    json_t *dt = json_object_get(info, "dtype"), *shape = json_object_get(info, "shape"),
           *offs = json_object_get(info, "data_offsets");
    if (!json_is_string(dt)) return xgd_fail("%s: tensor '%s': missing or non-string \"dtype\"", path, name);
    e->dt = xgd_st_dtype_lookup(json_string_value(dt));
    if (!e->dt) return xgd_fail("%s: tensor '%s': unknown dtype \"%s\"", path, name, json_string_value(dt));
    if (!json_is_array(shape)) return xgd_fail("%s: tensor '%s': missing or non-array \"shape\"", path, name);
    if (json_array_size(shape) > XGD_MAX_DIMS)
        return xgd_fail("%s: tensor '%s': %zu dimensions (at most %d supported)", path, name,
                        json_array_size(shape), XGD_MAX_DIMS);
    e->ndim = (int)json_array_size(shape);
    for (int i = 0; i < e->ndim; i++) {
        uint64_t d;
        if (get_u64(json_array_get(shape, (size_t)i), &d) != 0 || d > (uint64_t)INT64_MAX)
            return xgd_fail("%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, i);
        e->shape[i] = (int64_t)d;
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2 || get_u64(json_array_get(offs, 0), &e->begin) != 0 ||
        get_u64(json_array_get(offs, 1), &e->end) != 0)
        return xgd_fail("%s: tensor '%s': \"data_offsets\" is not a pair of non-negative integers", path, name);
    return 0;
}

/* numel * bits / 8 with overflow and sub-byte checks (ValidationOverflow / MisalignedSlice). */
static int entry_nbytes(const char *path, const st_entry *e, uint64_t *nbytes) {
    uint64_t numel = 1;
    for (int i = 0; i < e->ndim; i++)
        if (__builtin_mul_overflow(numel, (uint64_t)e->shape[i], &numel))
            return xgd_fail("%s: tensor '%s': shape overflows", path, e->name);
    uint64_t bits;
    if (__builtin_mul_overflow(numel, (uint64_t)e->dt->bits, &bits))
        return xgd_fail("%s: tensor '%s': byte size overflows", path, e->name);
    if (bits % 8) return xgd_fail("%s: tensor '%s': %llu elements of %s do not fill whole bytes", path, e->name,
                                  (unsigned long long)numel, e->dt->name);
    *nbytes = bits / 8;
    return 0;
}

static int check_metadata(const char *path, const json_t *meta, char **json_out) {
    *json_out = NULL;
    if (json_is_null(meta)) return 0;
    if (!json_is_object(meta)) return xgd_fail("%s: \"__metadata__\" is not an object", path);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v)
        if (!json_is_string(v)) return xgd_fail("%s: \"__metadata__\" value of \"%s\" is not a string", path, k);
    *json_out = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!*json_out) return xgd_fail("%s: cannot re-encode \"__metadata__\"", path);
    return 0;
}

/* Validate sorted entries against the data buffer (reference: Metadata::validate + the final
 * "file fully covered" check). */
static int check_layout(const char *path, const st_entry *e, size_t n, uint64_t data_size) {
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].end < e[i].begin)
            return xgd_fail("%s: tensor '%s': data_offsets [%llu,%llu] end before they begin", path, e[i].name,
                            (unsigned long long)e[i].begin, (unsigned long long)e[i].end);
        if (e[i].begin > at)
            return xgd_fail("%s: tensor '%s': data_offsets [%llu,%llu] leave a hole after byte %llu", path, e[i].name,
                            (unsigned long long)e[i].begin, (unsigned long long)e[i].end, (unsigned long long)at);
        if (e[i].begin < at)
            return xgd_fail("%s: tensor '%s': data_offsets [%llu,%llu] overlap the previous tensor (ends at %llu)", path,
                            e[i].name, (unsigned long long)e[i].begin, (unsigned long long)e[i].end,
                            (unsigned long long)at);
        uint64_t nb = 0;
        if (entry_nbytes(path, &e[i], &nb) != 0) return -1;
        if (e[i].end - e[i].begin != nb)
            return xgd_fail("%s: tensor '%s': data_offsets span %llu bytes but dtype %s and its shape need %llu", path,
                            e[i].name, (unsigned long long)(e[i].end - e[i].begin), e[i].dt->name,
                            (unsigned long long)nb);
        at = e[i].end;
    }
    if (at != data_size)
        return xgd_fail("%s: tensors cover %llu bytes of a %llu-byte data section (%s)", path, (unsigned long long)at,
                        (unsigned long long)data_size, at < data_size ? "trailing bytes" : "file truncated");
    return 0;
}

/* Parse and validate the header; fills f->t / f->skip. */
static int load_header(xgd_st_file *f) {
    const char *path = f->path;
    const uint8_t *p = f->map.data;
    size_t size = f->map.size;
    if (size < 8) return xgd_fail("%s: not a safetensors file: %zu bytes, shorter than the 8-byte header length", path, size);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = (hn << 8) | p[i];
    if (hn > ST_MAX_HEADER)
        return xgd_fail("%s: header length %llu is larger than the 100000000-byte limit", path, (unsigned long long)hn);
    if (hn > size - 8)
        return xgd_fail("%s: header length %llu runs past the end of the %zu-byte file", path, (unsigned long long)hn, size);
    if (hn == 0 || p[8] != '{') return xgd_fail("%s: header is not a JSON object starting with '{'", path);

    json_error_t jerr;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hn, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return xgd_fail("%s: header JSON invalid at byte %d: %s", path, jerr.position, jerr.text);
    if (!json_is_object(root)) { json_decref(root); return xgd_fail("%s: header is not a JSON object", path); }

    size_t cap = json_object_size(root), n = 0;
    st_entry *e = xgd_calloc(cap ? cap : 1, sizeof *e);
    int rc = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if ((rc = check_metadata(path, val, &f->meta_json)) != 0) break;
            continue;
        }
        if ((rc = parse_entry(path, key, val, &e[n])) != 0) break;
        n++;
    }
    if (rc == 0) {
        qsort(e, n, sizeof *e, entry_cmp);
        rc = check_layout(path, e, n, size - 8 - hn);
    }
    if (rc == 0) {
        const uint8_t *data = p + 8 + hn;
        f->t = xgd_calloc(n ? n : 1, sizeof *f->t);
        f->skip = xgd_calloc(n ? n : 1, sizeof *f->skip);
        for (size_t i = 0; i < n; i++) {
            if (e[i].dt->xgd < 0) {
                xgd_skipped_tensor *s = &f->skip[f->nskip++];
                s->name = xgd_strdup(e[i].name);
                s->st_dtype = e[i].dt->name;
                s->file = f->path;
                continue;
            }
            xgd_tensor *t = &f->t[f->n++];
            t->name = xgd_strdup(e[i].name);
            t->dtype = (xgd_dtype)e[i].dt->xgd;
            t->ndim = e[i].ndim;
            memcpy(t->shape, e[i].shape, sizeof t->shape);
            t->data = data + e[i].begin;
            t->nbytes = (size_t)(e[i].end - e[i].begin);
            t->file = f->path;
        }
    }
    free(e);
    json_decref(root);
    return rc;
}

int xgd_st_open(xgd_st_file **out, const char *path) {
    *out = NULL;
    xgd_st_file *f = xgd_calloc(1, sizeof *f);
    f->path = xgd_strdup(path);
    if (xgd_map_file(path, &f->map) != 0 || load_header(f) != 0) {
        xgd_st_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void xgd_st_close(xgd_st_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free((char *)f->t[i].name);
    for (size_t i = 0; i < f->nskip; i++) free(f->skip[i].name);
    free(f->t);
    free(f->skip);
    free(f->meta_json);
    xgd_unmap(&f->map);
    free(f->path);
    free(f);
}

size_t xgd_st_count(const xgd_st_file *f) { return f->n; }
const xgd_tensor *xgd_st_at(const xgd_st_file *f, size_t i) { return i < f->n ? &f->t[i] : NULL; }
size_t xgd_st_skipped_count(const xgd_st_file *f) { return f->nskip; }
const xgd_skipped_tensor *xgd_st_skipped_at(const xgd_st_file *f, size_t i) { return i < f->nskip ? &f->skip[i] : NULL; }
const char *xgd_st_metadata_json(const xgd_st_file *f) { return f->meta_json; }
