/* The XLM-RoBERTa classifier (src/model/xlmr.h) against reference outputs: by default the golden
 * fixtures of the real transformers 5.17 (tests/golden/ref/xlmr, xlmr_bf16), with `--ref DIR
 * --model DIR` arrays of the same names written by tests/model/test_xlmr_oracle.py from the
 * independent PyTorch oracle. Checked at 1e-4: hidden states (embeddings and every layer) on real
 * tokens, logits and probabilities of one sequence and of a right-padded batch (positions from
 * ids != pad); the toxic-label rule; bad ids and over-long inputs fail with a message.
 * `--classify MODEL TEXTS OUT.npy` scores the lines of TEXTS with src/eval/classifier.h and writes
 * the probabilities (tests/model/test_xlmr_classifier.py compares them with the oracle). */
#include "test.h"
#include "base/err.h"
#include "base/npy.h"
#include "eval/classifier.h"
#include "model/xlmr.h"

#define TOL 1e-4

static const char *g_ref;

static int load(const char *name, xgd_npy *a) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", g_ref, name);
    if (xgd_npy_read(path, a) != 0) { CHECK_MSG(0, "%s", xgd_errmsg()); return -1; }
    return 0;
}

static void check_case(const xgd_xlmr *m, const char *ids_name, const char *mask_name, const char *what) {
    xgd_npy a, mk = {0}, wl, wp, wh;
    if (load(ids_name, &a)) return;
    if (mask_name && load(mask_name, &mk)) return;
    int B = (int)a.shape[0], T = (int)a.shape[1], H = m->hidden, L = m->n_layer, C = m->n_labels;
    int32_t *ids = xgd_malloc(sizeof(int32_t) * (size_t)B * T);
    uint8_t *mask = xgd_malloc((size_t)B * T);
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)((int64_t *)a.data)[i];
        mask[i] = mask_name ? (uint8_t)(((int64_t *)mk.data)[i] != 0) : 1;
    }
    float *lg = xgd_malloc(sizeof(float) * (size_t)B * C), *pr = xgd_malloc(sizeof(float) * (size_t)B * C);
    float *hid = xgd_malloc(sizeof(float) * (size_t)(L + 1) * B * T * H);
    CHECK_MSG(xgd_xlmr_forward(m, ids, mask_name ? mask : NULL, B, T, lg, hid) == 0, "%s", xgd_errmsg());
    xgd_xlmr_probs(m, lg, B, pr);
    char n1[64], n2[64], n3[64];
    snprintf(n1, sizeof n1, "logits_%s", what);
    snprintf(n2, sizeof n2, "probs_%s", what);
    snprintf(n3, sizeof n3, "hidden_%s", what);
    if (!load(n1, &wl) && !load(n2, &wp) && !load(n3, &wh)) {
        double dl = t_maxdiff(lg, wl.data, B * C), dp = t_maxdiff(pr, wp.data, B * C), dh = 0;
        for (int k = 0; k <= L; k++)
            for (int r = 0; r < B * T; r++)
                if (mask[r]) dh = fmax(dh, t_maxdiff(hid + ((size_t)k * B * T + r) * H, (float *)wh.data + ((size_t)k * B * T + r) * H, H));
        CHECK_MSG(dl <= TOL, "%s %s: logits differ by %g", g_ref, what, dl);
        CHECK_MSG(dp <= TOL, "%s %s: probabilities differ by %g", g_ref, what, dp);
        CHECK_MSG(dh <= TOL, "%s %s: hidden states differ by %g", g_ref, what, dh);
        xgd_npy_free(&wl); xgd_npy_free(&wp); xgd_npy_free(&wh);
    }
    free(ids); free(mask); free(lg); free(pr); free(hid);
    xgd_npy_free(&a);
    if (mask_name) xgd_npy_free(&mk);
}

static void check_model(const char *dir) {
    xgd_xlmr *m;
    if (xgd_xlmr_load(&m, dir) != 0) { CHECK_MSG(0, "%s", xgd_errmsg()); return; }
    check_case(m, "single_ids", NULL, "single");
    check_case(m, "input_ids", "attention_mask", "batch");
    /* bad input */
    int32_t bad[2] = {0, m->vocab};
    float lg[64];
    CHECK(m->n_labels <= 64);
    CHECK(xgd_xlmr_forward(m, bad, NULL, 1, 2, lg, NULL) != 0 && strstr(xgd_errmsg(), "outside the vocabulary"));
    int T = m->max_pos;   /* pad + 1 + T - 1 >= max_pos: one token too many */
    int32_t *lng = xgd_malloc(sizeof(int32_t) * (size_t)T);
    for (int i = 0; i < T; i++) lng[i] = m->pad_id == 5 ? 6 : 5;
    CHECK(xgd_xlmr_forward(m, lng, NULL, 1, T, lg, NULL) != 0 && strstr(xgd_errmsg(), "max_position_embeddings"));
    free(lng);
    xgd_xlmr_free(m);
}

/* One text per line; probabilities of the toxic label to a .npy, its name on stdout. */
static int classify(const char *model, const char *texts_path, const char *out) {
    FILE *fp = fopen(texts_path, "r");
    if (!fp) { perror(texts_path); return 1; }
    char **texts = NULL, *line = NULL;
    size_t n = 0, cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) > 0) {
        if (line[len - 1] == '\n') line[len - 1] = 0;
        texts = realloc(texts, sizeof(char *) * (n + 1));
        texts[n++] = strdup(line);
    }
    free(line);
    fclose(fp);
    xgd_classifier *c = xgd_classifier_open(model);
    CHECK_MSG(c != NULL, "%s", xgd_errmsg());
    if (c) {
        double *p = malloc(sizeof(double) * (n ? n : 1));
        xgd_classifier_set_batch(c, 16);
        CHECK_MSG(xgd_classifier_score(c, (const char *const *)texts, n, p) == 0, "%s", xgd_errmsg());
        int64_t shape[1] = {(int64_t)n};
        CHECK(xgd_npy_write(out, XGD_F64, p, 1, shape) == 0);
        printf("label %s backend %s\n", xgd_classifier_label(c), xgd_classifier_backend(c));
        free(p);
        xgd_classifier_close(c);
    }
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    return test_done("test_xlmr (classify)");
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--classify")) return classify(argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "--ref") && !strcmp(argv[3], "--model")) {
        g_ref = argv[2];
        check_model(argv[4]);
        /* the oracle test's labels: LABEL_0..2 (no toxic name: label 1), or a multi-label
         * variant whose label 2 is "Toxic" */
        xgd_xlmr *m;
        if (xgd_xlmr_load(&m, argv[4]) == 0) {
            int want = !strcmp(m->labels[m->n_labels - 1], "Toxic") ? m->n_labels - 1 : 1;
            CHECK(xgd_xlmr_toxic_label(m) == want);
            CHECK(m->multi_label == (want != 1));
            xgd_xlmr_free(m);
        }
        return test_done("test_xlmr (oracle)");
    }
    static const char *names[] = {"xlmr", "xlmr_bf16"};
    for (int i = 0; i < 2; i++) {
        char ref[256], model[256];
        snprintf(ref, sizeof ref, "tests/golden/ref/%s", names[i]);
        snprintf(model, sizeof model, "tests/golden/models/%s", names[i]);
        g_ref = ref;
        check_model(model);
    }
    xgd_xlmr *m;
    CHECK(xgd_xlmr_load(&m, "tests/golden/models/xlmr") == 0);
    if (m) {
        CHECK(m->n_labels == 2 && !m->multi_label && !strcmp(m->labels[1], "LABEL_1"));
        CHECK(xgd_xlmr_toxic_label(m) == 1);
        free(m->labels[0]);
        m->labels[0] = strdup("TOXIC");   /* the name wins over the position, any case */
        CHECK(xgd_xlmr_toxic_label(m) == 0);
        xgd_xlmr_free(m);
    }
    CHECK(xgd_xlmr_load(&m, "tests/golden/models/mt5") != 0 && strstr(xgd_errmsg(), "not an XLM-RoBERTa"));
    return test_done("test_xlmr");
}
