/* safetensors writer, byte-compatible with the reference `serialize` (safetensors/src/tensor.rs,
 * `prepare`): tensors sorted by dtype (descending position in the reference enum) then by name
 * (bytewise), offsets consecutive from 0, header = serde_json's compact output of
 * {"__metadata__":{...},"<name>":{"dtype":..,"shape":[..],"data_offsets":[b,e]},...}
 * right-padded with spaces to a multiple of 8. Because of the sort and the padding, every tensor
 * starts aligned to its element size. The file is written atomically (temporary + rename).
 *
 * Metadata: "format":"pt" always comes first (transformers refuses files without it; the caller
 * may override the value), then the caller's pairs in the given order. With more than one key the
 * reference's order is a HashMap's (unspecified), so any order is equally valid for readers. */
#include "io/io_internal.h"
#include "base/err.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text buffer for the header. */
typedef struct { char *s; size_t n, cap; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
        b->s = xgd_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string as serde_json writes it: escape '"', '\\' and control characters (short forms
 * \b \f \n \r \t, else \u00XX lowercase hex); everything else, UTF-8 included, verbatim. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *p); sb_str(b, esc); }
            else sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static void sb_u64(sbuf *b, uint64_t v) {
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    sb_str(b, num);
}

/* qsort comparator over tensor pointers: dtype rank descending, then name ascending. */
static int write_order(const void *a, const void *b) {
    const xgd_tensor *x = *(const xgd_tensor *const *)a, *y = *(const xgd_tensor *const *)b;
    int rx = xgd_st_dtype_rank(x->dtype), ry = xgd_st_dtype_rank(y->dtype);
    if (rx != ry) return rx > ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int check_tensor(const char *path, const xgd_tensor *t) {
    if (!t->name) return xgd_fail("%s: a tensor has no name", path);
    if (strcmp(t->name, "__metadata__") == 0) return xgd_fail("%s: a tensor cannot be named __metadata__", path);
    if (xgd_st_dtype_rank(t->dtype) < 0) return xgd_fail("%s: tensor '%s': dtype %d cannot be stored", path, t->name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > XGD_MAX_DIMS) return xgd_fail("%s: tensor '%s': bad ndim %d", path, t->name, t->ndim);
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) return xgd_fail("%s: tensor '%s': negative dimension", path, t->name);
        if (__builtin_mul_overflow(numel, (uint64_t)t->shape[i], &numel))
            return xgd_fail("%s: tensor '%s': shape overflows", path, t->name);
    }
    if (numel * xgd_dtype_size(t->dtype) != t->nbytes)
        return xgd_fail("%s: tensor '%s': %zu bytes given but shape and dtype %s need %llu", path, t->name, t->nbytes,
                        xgd_dtype_st_name(t->dtype), (unsigned long long)(numel * xgd_dtype_size(t->dtype)));
    if (t->nbytes && !t->data) return xgd_fail("%s: tensor '%s': no data", path, t->name);
    return 0;
}

/* The metadata object: format first, then the caller's pairs. */
static int put_metadata(sbuf *b, const char *path, const char *const *kv) {
    const char *format = "pt";
    size_t n = 0;
    for (; kv && kv[n]; n += 2)
        if (!kv[n + 1]) return xgd_fail("%s: metadata key '%s' has no value", path, kv[n]);
    for (size_t i = 0; i < n; i += 2) {
        for (size_t j = 0; j < i; j += 2)
            if (strcmp(kv[i], kv[j]) == 0) return xgd_fail("%s: metadata key '%s' given twice", path, kv[i]);
        if (strcmp(kv[i], "format") == 0) format = kv[i + 1];
    }
    sb_str(b, "\"__metadata__\":{\"format\":");
    sb_json_str(b, format);
    for (size_t i = 0; i < n; i += 2) {
        if (strcmp(kv[i], "format") == 0) continue;
        sb_put(b, ",", 1);
        sb_json_str(b, kv[i]);
        sb_put(b, ":", 1);
        sb_json_str(b, kv[i + 1]);
    }
    sb_put(b, "}", 1);
    return 0;
}

/* Build the padded header for tensors already in file order. */
static int build_header(sbuf *b, const char *path, const xgd_tensor *const *order, size_t n, const char *const *kv) {
    sb_put(b, "{", 1);
    if (put_metadata(b, path, kv) != 0) return -1;
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const xgd_tensor *t = order[i];
        sb_put(b, ",", 1);
        sb_json_str(b, t->name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, xgd_dtype_st_name(t->dtype));
        sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_put(b, ",", 1);
            sb_u64(b, (uint64_t)t->shape[d]);
        }
        sb_str(b, "],\"data_offsets\":[");
        sb_u64(b, off);
        sb_put(b, ",", 1);
        off += t->nbytes;
        sb_u64(b, off);
        sb_str(b, "]}");
    }
    sb_put(b, "}", 1);
    while (b->n % 8) sb_put(b, " ", 1);
    return 0;
}

int xgd_st_write(const char *path, const xgd_tensor *tensors, size_t n, const char *const *meta_kv) {
    const xgd_tensor **order = xgd_malloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++) {
        if (check_tensor(path, &tensors[i]) != 0) { free(order); return -1; }
        order[i] = &tensors[i];
    }
    qsort(order, n, sizeof *order, write_order);
    sbuf hdr = {0};
    int rc = build_header(&hdr, path, order, n, meta_kv);
    if (rc == 0) {
        /* a header that our own reader would refuse (duplicate names) must not be written */
        json_error_t jerr;
        json_t *chk = json_loadb(hdr.s, hdr.n, JSON_REJECT_DUPLICATES, &jerr);
        if (!chk) rc = xgd_fail("%s: cannot write: %s", path, jerr.text);
        json_decref(chk);
    }
    xgd_atomic_file af;
    if (rc == 0 && (rc = xgd_atomic_open(&af, path)) == 0) {
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hdr.n >> (8 * i));
        int ok = fwrite(len8, 1, 8, af.fp) == 8 && fwrite(hdr.s, 1, hdr.n, af.fp) == hdr.n;
        for (size_t i = 0; ok && i < n; i++)
            ok = order[i]->nbytes == 0 || fwrite(order[i]->data, 1, order[i]->nbytes, af.fp) == order[i]->nbytes;
        if (!ok) { xgd_atomic_abort(&af); rc = xgd_fail("%s: write failed", path); }
        else rc = xgd_atomic_commit(&af);
    }
    free(hdr.s);
    free(order);
    return rc;
}
