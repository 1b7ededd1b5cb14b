/* Test tool: loads a model as trainable f32 parameters, runs the training graph on one or two
 * sequences (next-token targets, fixed per-token weights w), and writes
 *   DIR/logp.npy            (B, T) log-probabilities of the targets
 *   DIR/grad/<name>.npy     gradient of sum(w * logp) for every parameter, stored shape
 * so tests/train/test_grad.py can compare them with PyTorch autograd.
 *   grad_dump MODEL DIR IDS [IDS2 [MASK2]]   (ids "1,2,3"; MASK2 "0,0,1,1,1" for left padding)
 * With XGD_ADAPTER=DIR in the environment, the PEFT adapter is attached, the base is frozen and
 * DIR/grad/<module>.lora_A.npy / .lora_B.npy hold the adapter gradients instead. */
#include "base/err.h"
#include "base/fs.h"
#include "base/npy.h"
#include "model/lora.h"
#include "train/graph.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, int32_t *out, int max) {
    int n = 0;
    for (const char *p = s; *p && n < max;) {
        char *end;
        out[n++] = (int32_t)strtol(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) break;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: grad_dump MODEL DIR IDS [IDS2 [MASK2]]\n"); return 2; }
    xgd_model *m;
    if (xgd_model_load(&m, argv[1]) != 0) { fprintf(stderr, "grad_dump: %s\n", xgd_errmsg()); return 1; }
    xgd_params p;
    xgd_adapter *ad = NULL;
    const char *adir = getenv("XGD_ADAPTER");
    if (adir && xgd_adapter_load(&ad, m, adir) != 0) { fprintf(stderr, "grad_dump: %s\n", xgd_errmsg()); return 1; }
    if (!ad) xgd_params_init(&p, m);
    int32_t ids[2][256];
    uint8_t mask[2][256];
    int T = parse(argv[3], ids[0], 256), B = argc > 4 ? 2 : 1;
    memset(mask, 1, sizeof mask);
    if (B == 2) {
        if (parse(argv[4], ids[1], 256) != T) { fprintf(stderr, "grad_dump: sequences differ in length\n"); return 2; }
        if (argc > 5) { int32_t mk[256]; parse(argv[5], mk, 256); for (int t = 0; t < T; t++) mask[1][t] = (uint8_t)mk[t]; }
    }
    int32_t *flat = xgd_malloc(sizeof(int32_t) * (size_t)(B * T)), *tgt = xgd_malloc(sizeof(int32_t) * (size_t)(B * T));
    uint8_t *fm = xgd_malloc((size_t)(B * T));
    float *logp = xgd_malloc(sizeof(float) * (size_t)(B * T)), *w = xgd_malloc(sizeof(float) * (size_t)(B * T));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int n = b * T + t;
            flat[n] = ids[b][t];
            fm[n] = mask[b][t];
            tgt[n] = t + 1 < T && mask[b][t] ? ids[b][t + 1] : -100;
            w[n] = 0.5f + 0.25f * (float)(n % 5);   /* distinct weights so every position matters */
        }
    xgd_tgraph *g = xgd_tgraph_new(m, ad ? NULL : &p, B, T);
    if (xgd_tgraph_forward(g, flat, fm, tgt, B, T, logp, NULL) != 0 || xgd_tgraph_backward(g, w) != 0) {
        fprintf(stderr, "grad_dump: %s\n", xgd_errmsg());
        return 1;
    }
    char path[8192];
    snprintf(path, sizeof path, "%s/grad", argv[2]);
    xgd_mkdir_p(path);
    snprintf(path, sizeof path, "%s/logp.npy", argv[2]);
    int64_t sh[2] = {B, T};
    xgd_npy_write(path, XGD_F32, logp, 2, sh);
    for (int i = 0; ad && i < ad->n; i++) {
        const xgd_lora *lo = &ad->items[i];
        int64_t sa[2] = {lo->r, lo->in}, sb[2] = {lo->out, lo->r};
        snprintf(path, sizeof path, "%s/grad/%s.lora_A.npy", argv[2], lo->module);
        xgd_npy_write(path, XGD_F32, lo->dA, 2, sa);
        snprintf(path, sizeof path, "%s/grad/%s.lora_B.npy", argv[2], lo->module);
        xgd_npy_write(path, XGD_F32, lo->dB, 2, sb);
    }
    for (int i = 0; !ad && i < p.n_info; i++) {
        snprintf(path, sizeof path, "%s/grad/%s.npy", argv[2], p.info[i].name);
        xgd_npy_write(path, XGD_F32, p.grad + p.info[i].offset, p.info[i].ndim, p.info[i].shape);
    }
    xgd_tgraph_free(g);
    if (ad) xgd_adapter_free(ad);
    else xgd_params_free(&p);
    xgd_model_free(m);
    free(flat); free(tgt); free(fm); free(logp); free(w);
    return 0;
}
