/* The mT5 / T5 v1.1 engine (src/model/t5.h) against reference outputs: by default the golden
 * fixtures of the real transformers 5.17 (tests/golden/ref/mt5, mt5_bf16; models/mt5, mt5_bf16);
 * with `--ref DIR --model DIR`, arrays of the same names written by tests/model/test_t5_oracle.py
 * from the independent PyTorch oracle (tests/oracle/hf_ref.py) on other tiny checkpoints.
 *
 * Checked (1e-4 absolute on activations, 1e-5 on losses): encoder and decoder hidden states
 * (L+1 each, last = after the final norm), logits and loss of model(input_ids, labels), of
 * labels=input_ids (the perplexity script's call), of a right-padded masked batch with a -100
 * label, and greedy generation (ids exactly, and every step's logits); per-row losses of the padded
 * batch equal each sequence computed alone. */
#include "test.h"
#include "base/err.h"
#include "base/npy.h"
#include "model/t5.h"

#define TOL 1e-4
#define TOL_LOSS 1e-5

static const char *g_ref;

static int load(const char *name, xgd_npy *a) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", g_ref, name);
    if (xgd_npy_read(path, a) != 0) { CHECK_MSG(0, "%s", xgd_errmsg()); return -1; }
    return 0;
}

/* int64 ids to int32; the array's shape in B, T */
static int32_t *ids32(const xgd_npy *a, int *B, int *T) {
    *B = (int)a->shape[0];
    *T = (int)a->shape[1];
    int32_t *o = xgd_malloc(sizeof(int32_t) * (size_t)a->numel);
    for (int64_t i = 0; i < a->numel; i++) o[i] = (int32_t)((int64_t *)a->data)[i];
    return o;
}

static void cmp(const char *what, const float *got, const char *ref_name, double tol) {
    xgd_npy w;
    if (load(ref_name, &w)) return;
    double d = t_maxdiff(got, w.data, (long)w.numel);
    CHECK_MSG(d <= tol, "%s %s: differs from the reference by %g", g_ref, what, d);
    xgd_npy_free(&w);
}

static void cmp_loss(const char *what, double got, const char *ref_name) {
    xgd_npy w;
    if (load(ref_name, &w)) return;
    CHECK_MSG(fabs(got - ((float *)w.data)[0]) <= TOL_LOSS, "%s %s: loss %.8g, reference %.8g", g_ref, what, got,
              ((float *)w.data)[0]);
    xgd_npy_free(&w);
}

static void check_generate(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te,
                           const char *gen_name, const char *logits_name) {
    xgd_npy g;
    if (load(gen_name, &g)) return;
    int gb, W;
    int32_t *want = ids32(&g, &gb, &W);
    int n = W - 1;
    int32_t *out = xgd_malloc(sizeof(int32_t) * (size_t)B * W);
    float *sl = xgd_malloc(sizeof(float) * (size_t)n * B * m->hp.vocab);
    int steps = xgd_t5_greedy(m, ids, mask, B, Te, n, out, sl);
    CHECK_MSG(steps == n, "%s %s: %d steps, reference %d", g_ref, gen_name, steps, n);
    CHECK_MSG(memcmp(out, want, sizeof(int32_t) * (size_t)B * W) == 0, "%s %s: generated ids differ", g_ref, gen_name);
    if (steps == n) cmp(logits_name, sl, logits_name, TOL);
    free(out); free(sl); free(want);
    xgd_npy_free(&g);
}

static void check_model(const char *model_dir) {
    xgd_t5 *m;
    if (xgd_t5_load(&m, model_dir) != 0) { CHECK_MSG(0, "%s", xgd_errmsg()); return; }
    int V = m->hp.vocab, D = m->hp.d_model;
    xgd_npy a, b;
    if (load("enc_ids", &a) || load("labels", &b)) return;
    int B, Te, Bl, Tl;
    int32_t *ids = ids32(&a, &B, &Te), *labels = ids32(&b, &Bl, &Tl);

    /* model(input_ids, labels): hidden states of both stacks, logits, loss */
    float *enc = xgd_malloc(sizeof(float) * (size_t)Te * D);
    float *eh = xgd_malloc(sizeof(float) * (size_t)(m->hp.n_enc + 1) * Te * D);
    float *dh = xgd_malloc(sizeof(float) * (size_t)(m->hp.n_dec + 1) * Tl * D);
    float *lg = xgd_malloc(sizeof(float) * (size_t)Te * 2 * V + sizeof(float) * (size_t)Tl * 2 * V);
    int32_t *dec = xgd_malloc(sizeof(int32_t) * (size_t)Tl);
    CHECK(xgd_t5_encode(m, ids, NULL, 1, Te, enc, eh) == 0);
    cmp("encoder_hidden", eh, "encoder_hidden", TOL);
    xgd_t5_shift_right(m, labels, 1, Tl, dec);
    CHECK(dec[0] == m->hp.start_id && dec[1] == labels[0]);
    CHECK(xgd_t5_decode(m, enc, NULL, 1, Te, dec, Tl, lg, dh) == 0);
    cmp("decoder_hidden", dh, "decoder_hidden", TOL);
    cmp("logits", lg, "logits", TOL);
    double loss = 0;
    CHECK(xgd_t5_loss(m, ids, NULL, 1, Te, labels, Tl, &loss, lg) == 0);
    cmp_loss("loss", loss, "loss");
    cmp("logits (through the loss)", lg, "logits", TOL);

    /* labels = input_ids: the perplexity script's call */
    CHECK(xgd_t5_loss(m, ids, NULL, 1, Te, ids, Te, &loss, lg) == 0);
    cmp_loss("loss_ppl", loss, "loss_ppl");
    cmp("logits_ppl", lg, "logits_ppl", TOL);

    /* a right-padded batch with an encoder mask and an ignored label */
    xgd_npy eb, mb, lb;
    if (load("enc_ids_batch", &eb) == 0 && load("enc_mask_batch", &mb) == 0 && load("labels_batch", &lb) == 0) {
        int BB, TB, BL, TL;
        int32_t *bids = ids32(&eb, &BB, &TB), *blab = ids32(&lb, &BL, &TL), *bm32 = ids32(&mb, &BB, &TB);
        uint8_t *bmask = xgd_malloc((size_t)BB * TB);
        for (int i = 0; i < BB * TB; i++) bmask[i] = (uint8_t)(bm32[i] != 0);
        float *blg = xgd_malloc(sizeof(float) * (size_t)BB * TL * V);
        CHECK(xgd_t5_loss(m, bids, bmask, BB, TB, blab, TL, &loss, blg) == 0);
        cmp_loss("loss_batch", loss, "loss_batch");
        cmp("logits_batch", blg, "logits_batch", TOL);
        check_generate(m, bids, bmask, BB, TB, "gen_batch", "gen_batch_logits");
        /* per-row losses of the padded batch = each sequence alone, unpadded (what perplexity batches on) */
        double rows[8];
        CHECK(BB <= 8 && xgd_t5_loss_rows(m, bids, bmask, BB, TB, blab, TL, rows) == 0);
        for (int r = 0; r < BB && r < 8; r++) {
            int te = 0, tl = 0;
            while (te < TB && bmask[r * TB + te]) te++;
            while (tl < TL && blab[r * TL + tl] != -100) tl++;
            double alone;
            CHECK(xgd_t5_loss(m, bids + r * TB, NULL, 1, te, blab + r * TL, tl, &alone, NULL) == 0);
            CHECK_MSG(fabs(rows[r] - alone) <= 1e-6, "%s row %d: batched loss %.9g, alone %.9g", g_ref, r, rows[r], alone);
        }
        free(bids); free(blab); free(bm32); free(bmask); free(blg);
        xgd_npy_free(&eb); xgd_npy_free(&mb); xgd_npy_free(&lb);
    }
    check_generate(m, ids, NULL, 1, Te, "gen", "gen_logits");

    /* bad input: an id outside the vocabulary and a label that is neither an id nor -100 fail cleanly */
    int32_t bad[2] = {V, 1};
    CHECK(xgd_t5_encode(m, bad, NULL, 1, 2, enc, NULL) != 0 && strstr(xgd_errmsg(), "outside the vocabulary"));
    int32_t badl[2] = {-5, 1}, okids[2] = {3, 1};
    CHECK(xgd_t5_loss(m, okids, NULL, 1, 2, badl, 2, &loss, NULL) != 0);
    /* all labels ignored: NaN, as torch's mean over nothing */
    int32_t ign[2] = {-100, -100};
    CHECK(xgd_t5_loss(m, okids, NULL, 1, 2, ign, 2, &loss, NULL) == 0 && isnan(loss));

    free(ids); free(labels); free(enc); free(eh); free(dh); free(lg); free(dec);
    xgd_npy_free(&a); xgd_npy_free(&b);
    xgd_t5_free(m);
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--ref") && !strcmp(argv[3], "--model")) {
        g_ref = argv[2];
        check_model(argv[4]);
        return test_done("test_t5 (oracle)");
    }
    static const char *names[] = {"mt5", "mt5_bf16"};
    for (int i = 0; i < 2; i++) {
        char ref[256], model[256];
        snprintf(ref, sizeof ref, "tests/golden/ref/%s", names[i]);
        snprintf(model, sizeof model, "tests/golden/models/%s", names[i]);
        g_ref = ref;
        check_model(model);
    }
    /* a folder that is not a T5 model is refused with a message naming it */
    xgd_t5 *m;
    CHECK(xgd_t5_load(&m, "tests/golden/models/llama") != 0 && strstr(xgd_errmsg(), "not a T5"));
    return test_done("test_t5");
}
