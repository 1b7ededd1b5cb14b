/* ckpt_dump PATH: open a checkpoint (folder or file) and print, sorted by name, one line per
 * tensor: "name<TAB>DTYPE<TAB>[d0,d1,...]<TAB>hex bytes". The first line is "# <format>".
 * Used by tests/io/test_torchbin.py to compare .bin and safetensors loading. On error prints the
 * message and exits 1. */
#include "io/checkpoint.h"
#include "base/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b) {
    return strcmp((*(const xgd_tensor *const *)a)->name, (*(const xgd_tensor *const *)b)->name);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: ckpt_dump PATH\n"); return 2; }
    xgd_ckpt *c;
    if (xgd_ckpt_open(&c, argv[1]) != 0) { fprintf(stderr, "error: %s\n", xgd_errmsg()); return 1; }
    size_t n = xgd_ckpt_count(c);
    const xgd_tensor **t = malloc((n ? n : 1) * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = xgd_ckpt_at(c, i);
    qsort(t, n, sizeof *t, by_name);
    printf("# %s\n", xgd_ckpt_format(c));
    for (size_t i = 0; i < n; i++) {
        printf("%s\t%s\t[", t[i]->name, xgd_dtype_st_name(t[i]->dtype));
        for (int d = 0; d < t[i]->ndim; d++) printf(d ? ",%lld" : "%lld", (long long)t[i]->shape[d]);
        printf("]\t");
        for (size_t b = 0; b < t[i]->nbytes; b++) printf("%02x", ((const unsigned char *)t[i]->data)[b]);
        printf("\n");
    }
    free(t);
    xgd_ckpt_close(c);
    return 0;
}
