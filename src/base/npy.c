#include "base/npy.h"
#include "base/err.h"
#include "base/fs.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *descr_of(xgd_dtype t) {
    switch (t) {
    case XGD_F32: return "<f4";
    case XGD_F64: return "<f8";
    case XGD_F16: return "<f2";
    case XGD_I64: return "<i8";
    case XGD_I32: return "<i4";
    case XGD_U8: return "|u1";
    case XGD_BOOL: return "|b1";
    default: return NULL;
    }
}

int xgd_npy_write(const char *path, xgd_dtype t, const void *data, int ndim, const int64_t *shape) {
    const char *descr = descr_of(t);
    if (!descr) return xgd_fail("%s: cannot write dtype %s as .npy", path, xgd_dtype_st_name(t));
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(dict + n, sizeof dict - n, "%lld%s", (long long)shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        numel *= shape[i];
    }
    n += snprintf(dict + n, sizeof dict - n, "), }");
    /* header total (magic 6 + version 2 + len 2 + dict + pad + '\n') must be a multiple of 64 */
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    int hlen = n + pad + 1;
    head[8] = (unsigned char)(hlen & 0xFF);
    head[9] = (unsigned char)(hlen >> 8);
    xgd_atomic_file af;
    if (xgd_atomic_open(&af, path) != 0) return -1;
    fwrite(head, 1, 10, af.fp);
    fwrite(dict, 1, (size_t)n, af.fp);
    for (int i = 0; i < pad; i++) fputc(' ', af.fp);
    fputc('\n', af.fp);
    size_t bytes = (size_t)numel * xgd_dtype_size(t);
    if (bytes && fwrite(data, 1, bytes, af.fp) != bytes) { xgd_atomic_abort(&af); return xgd_fail("%s: write failed", path); }
    return xgd_atomic_commit(&af);
}

int xgd_npy_read(const char *path, xgd_npy *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    if (xgd_read_file(path, &buf, &len) != 0) return -1;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) { free(buf); return xgd_fail("%s: not a .npy file", path); }
    size_t hlen, off;
    if (buf[6] == 1) { hlen = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8); off = 10; }
    else { hlen = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8) | ((size_t)(unsigned char)buf[10] << 16) | ((size_t)(unsigned char)buf[11] << 24); off = 12; }
    if (off + hlen > len) { free(buf); return xgd_fail("%s: truncated .npy header", path); }
    char *h = xgd_malloc(hlen + 1);
    memcpy(h, buf + off, hlen);
    h[hlen] = 0;
    static const struct { const char *d; xgd_dtype t; } map[] = {
        {"<f4", XGD_F32}, {"<f8", XGD_F64}, {"<f2", XGD_F16}, {"<i8", XGD_I64}, {"<i4", XGD_I32}, {"|u1", XGD_U8}, {"|b1", XGD_BOOL}};
    int found = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strstr(h, map[i].d)) { out->dtype = map[i].t; found = 1; break; }
    int rc = 0;
    if (!found) rc = xgd_fail("%s: unsupported .npy dtype in header %s", path, h);
    else if (strstr(h, "'fortran_order': True")) rc = xgd_fail("%s: fortran-order .npy is not supported", path);
    char *sp = strstr(h, "'shape': (");
    if (rc == 0 && !sp) rc = xgd_fail("%s: .npy header has no shape", path);
    if (rc == 0) {
        sp += 10;
        out->numel = 1;
        while (*sp && *sp != ')') {
            char *end;
            long long v = strtoll(sp, &end, 10);
            if (end == sp) { sp++; continue; }
            if (out->ndim >= 8) { rc = xgd_fail("%s: too many dimensions", path); break; }
            out->shape[out->ndim++] = v;
            out->numel *= v;
            sp = end;
        }
    }
    free(h);
    if (rc == 0) {
        size_t bytes = (size_t)out->numel * xgd_dtype_size(out->dtype);
        if (off + hlen + bytes > len) rc = xgd_fail("%s: truncated .npy data", path);
        else {
            out->data = xgd_malloc(bytes);
            memcpy(out->data, buf + off + hlen, bytes);
        }
    }
    free(buf);
    return rc;
}

void xgd_npy_free(xgd_npy *a) { free(a->data); a->data = NULL; }
