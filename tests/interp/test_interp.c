/* The explanation library (src/interp) on constructed inputs and tiny random models of every
 * family (f32 and bf16):
 *  - CSV: quoted fields with commas, newlines and quotes, CRLF, errors with line numbers; the
 *    Jigsaw sample (101 rows) when ../shared is present;
 *  - probe: training on separable synthetic features reaches >= 97% validation accuracy; the
 *    BCE evaluation equals a direct computation; the split is 90/10 and a permutation;
 *  - pooling: avg/last pooling of a left-padded batch equals pooling each sequence alone, and
 *    equals the mean of the hidden states of a plain forward;
 *  - value vectors: against the stored weights read directly (row for Conv1D, column for
 *    nn.Linear), cosines and top-k against a direct computation, projection against head·v;
 *  - neurons: recorded activations equal the hook's values in a plain forward of the prompt plus
 *    the generated tokens (no cache); left padding does not change them; an intervention
 *    changes exactly the named neurons by the offset, and offset 0 is bit for bit no change;
 *  - retrieval: paired cosine and top-1 accuracy on embeddings with a known answer. */
#include "test.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/npy.h"
#include "interp/csv.h"
#include "interp/hidden.h"
#include "interp/neurons.h"
#include "interp/probe.h"
#include "interp/retrieval.h"
#include "interp/vectors.h"
#include "base/rng.h"
#include "model/init.h"
#include "model/intervene.h"

static const char *configs[][2] = {
    {"gpt2", "{\"vocab_size\": 97, \"n_embd\": 32, \"n_layer\": 2, \"n_head\": 4, \"n_positions\": 64, \"initializer_range\": 0.2}"},
    {"bloom", "{\"vocab_size\": 97, \"hidden_size\": 48, \"n_layer\": 2, \"n_head\": 6, \"initializer_range\": 0.2}"},
    {"llama", "{\"vocab_size\": 97, \"hidden_size\": 48, \"intermediate_size\": 80, \"num_hidden_layers\": 2, \"num_attention_heads\": 6,"
              " \"num_key_value_heads\": 2, \"max_position_embeddings\": 256, \"initializer_range\": 0.2}"},
    {"cohere", "{\"vocab_size\": 97, \"hidden_size\": 48, \"intermediate_size\": 80, \"num_hidden_layers\": 2, \"num_attention_heads\": 6,"
               " \"num_key_value_heads\": 2, \"logit_scale\": 0.0625, \"initializer_range\": 0.2}"},
};

static xgd_model *make(const char *fam, const char *cfg_text, xgd_dtype dt, const char *dir) {
    json_error_t e;
    json_t *cfg = json_loads(cfg_text, 0, &e);
    int rc = xgd_init_checkpoint(xgd_family_find(fam), cfg, dt, 11, dir);
    json_decref(cfg);
    CHECK_MSG(rc == 0, "init %s: %s", fam, xgd_errmsg());
    xgd_model *m = NULL;
    CHECK_MSG(rc == 0 && xgd_model_load(&m, dir) == 0, "load %s: %s", fam, xgd_errmsg());
    return m;
}

/* ---- CSV ------------------------------------------------------------------------------------ */
static void test_csv(void) {
    const char *t = "text,label\r\n\"a, b\",1\r\n\"multi\nline \"\"quoted\"\"\",0\n\nplain,1";
    xgd_csv c;
    CHECK(xgd_csv_parse(t, strlen(t), "t.csv", &c) == 0);
    CHECK(c.ncol == 2 && c.nrow == 3);
    if (c.nrow == 3) {
        CHECK_STR(xgd_csv_cell(&c, 0, 0), "a, b");
        CHECK_STR(xgd_csv_cell(&c, 1, 0), "multi\nline \"quoted\"");
        CHECK_STR(xgd_csv_cell(&c, 1, 1), "0");
        CHECK_STR(xgd_csv_cell(&c, 2, 0), "plain");
        CHECK(c.line[2] == 6);
        CHECK(xgd_csv_col(&c, "label") == 1 && xgd_csv_col(&c, "nope") == -1);
        xgd_csv_free(&c);
    }
    const char *bad1 = "a,b\n1,\"open\n2,3\n";
    CHECK(xgd_csv_parse(bad1, strlen(bad1), "b.csv", &c) != 0 && strstr(xgd_errmsg(), "b.csv:2"));
    const char *bad2 = "a,b\n1,2\n1,2,3\n";
    CHECK(xgd_csv_parse(bad2, strlen(bad2), "b.csv", &c) != 0 && strstr(xgd_errmsg(), "b.csv:3"));
    const char *bad3 = "a,b\n1,x\"y\n";
    CHECK(xgd_csv_parse(bad3, strlen(bad3), "b.csv", &c) != 0 && strstr(xgd_errmsg(), "quote"));
    const char *sh = test_shared();
    if (!sh) return;
    char path[4200];
    snprintf(path, sizeof path, "%s/data/jigsaw-sample/test_examples.csv", sh);
    if (!xgd_is_file(path)) { fprintf(stderr, "skip: %s absent\n", path); return; }
    CHECK_MSG(xgd_csv_read(path, &c) == 0, "%s", xgd_errmsg());
    CHECK(c.nrow == 101 && c.ncol == 7);
    int tc = xgd_csv_col(&c, "comment_text"), lc = xgd_csv_col(&c, "toxic"), ok = tc == 0 && lc == 1;
    for (int64_t i = 0; ok && i < c.nrow; i++) ok = !strcmp(xgd_csv_cell(&c, i, lc), "0") || !strcmp(xgd_csv_cell(&c, i, lc), "1");
    CHECK(ok);
    xgd_csv_free(&c);
}

/* ---- probe ---------------------------------------------------------------------------------- */
static void test_probe(void) {
    enum { N = 600, H = 16 };
    float *X = xgd_malloc(sizeof(float) * N * H), u[H];
    uint8_t y[N];
    xgd_rng r;
    xgd_rng_init(&r, 5, 0);
    for (int h = 0; h < H; h++) u[h] = xgd_rng_normal(&r);
    for (int i = 0; i < N; i++) { /* separable with a margin: shift along u by the label */
        double d = 0;
        for (int h = 0; h < H; h++) { X[i * H + h] = xgd_rng_normal(&r); d += X[i * H + h] * u[h]; }
        y[i] = d > 0;
        for (int h = 0; h < H; h++) X[i * H + h] += (y[i] ? 0.3f : -0.3f) * u[h];
    }
    int64_t perm[N], ntr;
    xgd_probe_split(N, 99, perm, &ntr);
    CHECK(ntr == 540);
    int seen[N] = {0}, isperm = 1;
    for (int i = 0; i < N; i++) isperm &= perm[i] >= 0 && perm[i] < N && !seen[perm[i]]++;
    CHECK(isperm);
    float w[H];
    xgd_probe_opts o = {30, 10, 1e-2, 99};
    CHECK(xgd_probe_train(X, y, H, perm, ntr, perm + ntr, N - ntr, &o, NULL, NULL, w) == 0);
    double loss, acc;
    xgd_probe_eval(X, y, H, perm + ntr, N - ntr, 10, w, &loss, &acc);
    CHECK_MSG(acc >= 0.97, "val acc %.3f", acc);
    /* the evaluation against a direct BCE: mean of per-batch means (batch 7 leaves a ragged end) */
    double direct = 0;
    int nb = 0;
    for (int i0 = 0; i0 < 60; i0 += 7, nb++) {
        double bl = 0;
        int B = 60 - i0 < 7 ? 60 - i0 : 7;
        for (int i = i0; i < i0 + B; i++) {
            double z = 0;
            for (int h = 0; h < H; h++) z += (double)X[perm[i] * H + h] * w[h];
            bl += y[perm[i]] ? log1p(exp(-z)) : log1p(exp(z));
        }
        direct += bl / B;
    }
    xgd_probe_eval(X, y, H, perm, 60, 7, w, &loss, &acc);
    CHECK_NEAR(loss, direct / nb, 1e-9);
    /* .npy round trip */
    const char *dir = test_tmpdir("interp_probe");
    char path[4200];
    snprintf(path, sizeof path, "%s/p.npy", dir);
    int64_t sh[2] = {1, H};
    CHECK(xgd_npy_write(path, XGD_F32, w, 2, sh) == 0);
    float *w2 = NULL;
    int H2 = 0;
    CHECK(xgd_probe_load(path, &w2, &H2) == 0 && H2 == H && w2 && !memcmp(w, w2, sizeof w));
    free(w2);
    free(X);
}

/* ---- pooling -------------------------------------------------------------------------------- */
/* Hidden states (L+1, T, H) of one plain forward, by the same hooks xgd forward --save-hidden uses. */
typedef struct { float *buf; int L, T, H; } hid;
static void rec_hidden(void *u, const xgd_hook_event *ev) {
    hid *h = u;
    if (ev->kind == XGD_HOOK_RESID_POST && ev->layer == h->L - 1) return;
    int slot = ev->kind == XGD_HOOK_EMBED ? 0 : ev->kind == XGD_HOOK_FINAL_NORM ? h->L : ev->layer + 1;
    memcpy(h->buf + (size_t)slot * h->T * h->H, ev->x, sizeof(float) * (size_t)h->T * h->H);
}

static void test_pooling(xgd_model *m, const char *fam) {
    int L = m->hp.n_layer, H = m->hp.hidden, nsel = L + 1, sel[8];
    for (int i = 0; i < nsel; i++) sel[i] = i;
    int32_t a[] = {5, 17, 3, 96, 0, 42, 8}, b[] = {61, 30}, c[] = {2, 9, 9, 14};
    const int32_t *seqs[] = {a, b, c};
    int lens[] = {7, 2, 4};
    for (int pool = 0; pool < 2; pool++) {
        float *batch = xgd_malloc(sizeof(float) * 3 * nsel * H), *one = xgd_malloc(sizeof(float) * nsel * H);
        CHECK(xgd_pool_hidden(m, seqs, lens, 3, sel, nsel, pool, batch) == 0);
        for (int s = 0; s < 3; s++) {
            CHECK(xgd_pool_hidden(m, seqs + s, lens + s, 1, sel, nsel, pool, one) == 0);
            double d = t_maxdiff(one, batch + (size_t)s * nsel * H, nsel * H);
            CHECK_MSG(d <= 1e-5, "%s pool %d seq %d: padded batch differs by %g", fam, pool, s, d);
            /* against the plain forward's hidden states */
            hid h = {xgd_calloc((size_t)nsel * lens[s] * H, sizeof(float)), L, lens[s], H};
            xgd_hooks hk = {0};
            xgd_hooks_add(&hk, "embed", rec_hidden, &h);
            xgd_hooks_add(&hk, "layer.*.resid_post", rec_hidden, &h);
            xgd_hooks_add(&hk, "final_norm", rec_hidden, &h);
            xgd_state *st = xgd_state_new(m, 1, lens[s]);
            xgd_fwd f = {.ids = seqs[s], .T = lens[s], .hooks = &hk};
            CHECK(xgd_forward(st, &f) == 0);
            xgd_state_free(st);
            double worst = 0;
            for (int l = 0; l < nsel; l++)
                for (int k = 0; k < H; k++) {
                    double ref = 0;
                    if (pool == XGD_POOL_LAST) ref = h.buf[((size_t)l * lens[s] + lens[s] - 1) * H + k];
                    else { for (int t = 0; t < lens[s]; t++) ref += h.buf[((size_t)l * lens[s] + t) * H + k]; ref /= lens[s]; }
                    double dd = fabs(ref - one[l * H + k]);
                    if (dd > worst) worst = dd;
                }
            CHECK_MSG(worst <= 1e-5, "%s pool %d seq %d: differs from the plain forward by %g", fam, pool, s, worst);
            free(h.buf);
        }
        free(batch);
        free(one);
    }
}

/* ---- value vectors -------------------------------------------------------------------------- */
static float stored_at(const xgd_tensor *t, int64_t k) {
    float v;
    xgd_convert_to_f32(&v, (const char *)t->data + (size_t)k * xgd_dtype_size(t->dtype), t->dtype, 1);
    return v;
}

static void test_vectors(xgd_model *m, const char *fam) {
    int L = m->hp.n_layer, H = m->hp.hidden, F = m->hp.inter, V = m->hp.vocab;
    int conv = !strcmp(fam, "gpt2");
    float *w = xgd_malloc(sizeof(float) * H), *v = xgd_malloc(sizeof(float) * H), *cos = xgd_malloc(sizeof(float) * (size_t)L * F);
    xgd_rng r;
    xgd_rng_init(&r, 3, 0);
    for (int h = 0; h < H; h++) w[h] = xgd_rng_normal(&r);
    double wn = 0;
    for (int h = 0; h < H; h++) wn += (double)w[h] * w[h];
    wn = sqrt(wn);
    double worst_v = 0, worst_c = 0;
    for (int l = 0; l < L; l++) {
        char name[128];
        snprintf(name, sizeof name, !strcmp(fam, "gpt2") ? "transformer.h.%d.mlp.c_proj.weight" : !strcmp(fam, "bloom") ?
                 "transformer.h.%d.mlp.dense_4h_to_h.weight" : "model.layers.%d.mlp.down_proj.weight", l);
        const xgd_tensor *t = xgd_ckpt_find(m->ckpt, name);
        CHECK_MSG(t != NULL, "%s: no tensor %s", fam, name);
        if (!t) continue;
        /* stored shape: Conv1D (F, H), nn.Linear (H, F) */
        CHECK(t->ndim == 2 && t->shape[0] == (conv ? F : H) && t->shape[1] == (conv ? H : F));
        xgd_value_cosines(m, l, w, cos + (size_t)l * F);
        for (int i = 0; i < F; i++) {
            xgd_value_vector(m, l, i, v);
            double d = 0, n = 0;
            for (int h = 0; h < H; h++) {
                float ref = stored_at(t, conv ? (int64_t)i * H + h : (int64_t)h * F + i);
                if (fabs(ref - v[h]) > worst_v) worst_v = fabs(ref - v[h]);
                d += (double)ref * w[h];
                n += (double)ref * ref;
            }
            double c = d / fmax(sqrt(n) * wn, 1e-8);
            if (fabs(c - cos[(size_t)l * F + i]) > worst_c) worst_c = fabs(c - cos[(size_t)l * F + i]);
        }
    }
    CHECK_MSG(worst_v == 0, "%s: value vector differs from the stored weights by %g", fam, worst_v);
    CHECK_MSG(worst_c <= 1e-6, "%s: cosine differs by %g", fam, worst_c);
    /* top-k: descending, and every other value is <= the k-th */
    int k = 10;
    int64_t top[10];
    xgd_topk(cos, (int64_t)L * F, k, top);
    int ok = 1;
    for (int j = 1; j < k; j++) ok &= cos[top[j - 1]] >= cos[top[j]];
    for (int64_t g = 0; g < (int64_t)L * F; g++) {
        int in = 0;
        for (int j = 0; j < k; j++) in |= top[j] == g;
        if (!in) ok &= cos[g] <= cos[top[k - 1]];
    }
    CHECK_MSG(ok, "%s: top-k is not the k largest in order", fam);
    /* projection: head row v · value vector (times Cohere's logit scale) */
    float *sc = xgd_malloc(sizeof(float) * V);
    int l = (int)(top[0] / F), i = (int)(top[0] % F);
    xgd_value_vector(m, l, i, v);
    xgd_vocab_project(m, v, sc);
    const xgd_wmat *E = xgd_model_head(m);
    float *row = xgd_malloc(sizeof(float) * H);
    double worst_p = 0;
    for (int t = 0; t < V; t++) {
        xgd_convert_to_f32(row, (const char *)E->data + (size_t)t * H * xgd_dtype_size(E->dtype), E->dtype, (size_t)H);
        double d = 0;
        for (int h = 0; h < H; h++) d += (double)row[h] * v[h];
        d *= m->hp.logit_scale;
        if (fabs(d - sc[t]) > worst_p) worst_p = fabs(d - sc[t]);
    }
    CHECK_MSG(worst_p <= 1e-4, "%s: projection differs by %g", fam, worst_p);
    free(row); free(sc); free(w); free(v); free(cos);
}

/* ---- neurons -------------------------------------------------------------------------------- */
typedef struct { float *buf; int T, F, layer; } post_rec;
static void rec_post(void *u, const xgd_hook_event *ev) {
    post_rec *p = u;
    if (ev->layer == p->layer) memcpy(p->buf, ev->x, sizeof(float) * (size_t)ev->B * ev->T * ev->D);
}

/* post_act of layer l over one plain forward of ids (T), with optional extra hooks first. */
static float *plain_post(xgd_model *m, const int32_t *ids, int T, int l, const xgd_hooks *extra, float *logits) {
    post_rec p = {xgd_malloc(sizeof(float) * (size_t)T * m->hp.inter), T, m->hp.inter, l};
    xgd_hooks hk = {0};
    if (extra) hk = *extra;
    xgd_hooks_add(&hk, "layer.*.mlp.post_act", rec_post, &p);
    xgd_state *s = xgd_state_new(m, 1, T);
    xgd_fwd f = {.ids = ids, .T = T, .hooks = &hk, .logits = logits, .all_logits = 1};
    CHECK(xgd_forward(s, &f) == 0);
    xgd_state_free(s);
    return p.buf;
}

static void test_neurons(xgd_model *m, const char *fam) {
    int F = m->hp.inter, V = m->hp.vocab;
    xgd_neuron nr[] = {{0, 3}, {1, 7}, {1, F - 1}, {0, 0}};
    int nn = 4, steps = 5;
    int32_t p0[] = {1, 5, 17, 3, 96, 0}, p1[] = {1, 42}, p2[] = {1, 8, 8, 61};
    const int32_t *pr[] = {p0, p1, p2};
    int lens[] = {6, 2, 4};
    double mb[4], m1[4], ms[4] = {0};
    int32_t gb[3 * 5], g1[5];
    xgd_record_opts o = {steps, 3, NULL};
    CHECK(xgd_neuron_means(m, pr, lens, 3, nr, nn, &o, mb, gb) == 0);
    /* each prompt alone, and the recorded values from a plain forward of prompt + generated tokens */
    double worst_pad = 0, worst_plain = 0;
    int same_gen = 1;
    for (int p = 0; p < 3; p++) {
        xgd_record_opts o1 = {steps, 1, NULL};
        CHECK(xgd_neuron_means(m, pr + p, lens + p, 1, nr, nn, &o1, m1, g1) == 0);
        for (int s = 0; s < steps; s++) same_gen &= g1[s] == gb[p * steps + s];
        int T = lens[p] + steps - 1;
        int32_t *ids = xgd_malloc(sizeof(int32_t) * T);
        memcpy(ids, pr[p], sizeof(int32_t) * lens[p]);
        for (int s = 0; s < steps - 1; s++) ids[lens[p] + s] = g1[s];
        float *post[2] = {plain_post(m, ids, T, 0, NULL, NULL), plain_post(m, ids, T, 1, NULL, NULL)};
        for (int k = 0; k < nn; k++) {
            double ref = 0;
            for (int s = 0; s < steps; s++) ref += post[nr[k].layer][(size_t)(lens[p] - 1 + s) * F + nr[k].neuron];
            ref /= steps;
            ms[k] += ref / 3;
            if (fabs(ref - m1[k]) > worst_plain) worst_plain = fabs(ref - m1[k]);
        }
        free(post[0]); free(post[1]); free(ids);
    }
    for (int k = 0; k < nn; k++) if (fabs(ms[k] - mb[k]) > worst_pad) worst_pad = fabs(ms[k] - mb[k]);
    CHECK_MSG(same_gen, "%s: left padding changed the greedy tokens", fam);
    CHECK_MSG(worst_plain <= 1e-5, "%s: recorded activations differ from the plain forward's hook by %g", fam, worst_plain);
    CHECK_MSG(worst_pad <= 1e-5, "%s: batched (left padded) means differ from one-by-one by %g", fam, worst_pad);

    /* interventions: +5 on (1,7) and (1,F-1) changes exactly those values of layer 1 by 5 */
    char spec[128];
    snprintf(spec, sizeof spec, "layer.1.mlp.post_act[7,%d]+=5", F - 1);
    xgd_hooks hk = {0}, hz = {0};
    xgd_intervention *iv = xgd_intervention_parse(spec, &hk), *iz = xgd_intervention_parse("layer.*.mlp.post_act[7,3]+=0", &hz);
    CHECK(iv && iz);
    int T = lens[0];
    float *lg0 = xgd_malloc(sizeof(float) * (size_t)T * V), *lgz = xgd_malloc(sizeof(float) * (size_t)T * V);
    float *before = plain_post(m, p0, T, 1, NULL, lg0), *after = plain_post(m, p0, T, 1, &hk, NULL);
    float *b0 = plain_post(m, p0, T, 0, NULL, NULL), *a0 = plain_post(m, p0, T, 0, &hk, NULL), *zero = plain_post(m, p0, T, 1, &hz, lgz);
    int exact = 1;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < F; i++) {
            float bv = before[t * F + i], av = after[t * F + i];
            exact &= (i == 7 || i == F - 1) ? av == bv + 5.0f : av == bv;
            exact &= a0[t * F + i] == b0[t * F + i];
            exact &= zero[t * F + i] == bv;
        }
    CHECK_MSG(exact, "%s: the intervention changed other values than the named neurons (or not by the offset)", fam);
    CHECK_MSG(!memcmp(lg0, lgz, sizeof(float) * (size_t)T * V), "%s: offset 0 is not bit for bit the plain forward", fam);
    /* through the recorder: offset 0 gives the same means bit for bit; +5 raises the named ones */
    double mz[4], m5[4];
    xgd_record_opts oz = {steps, 3, &hz}, o5 = {1, 3, &hk}, o0 = {1, 3, NULL};
    CHECK(xgd_neuron_means(m, pr, lens, 3, nr, nn, &oz, mz, NULL) == 0);
    CHECK(!memcmp(mz, mb, sizeof mz));
    CHECK(xgd_neuron_means(m, pr, lens, 3, nr, nn, &o0, m1, NULL) == 0);
    CHECK(xgd_neuron_means(m, pr, lens, 3, nr, nn, &o5, m5, NULL) == 0);
    CHECK_NEAR(m5[1] - m1[1], 5.0, 1e-5);
    CHECK_NEAR(m5[2] - m1[2], 5.0, 1e-5);
    CHECK(m5[0] == m1[0] && m5[3] == m1[3]);
    free(before); free(after); free(b0); free(a0); free(zero); free(lg0); free(lgz);
    xgd_intervention_free(iv);
    xgd_intervention_free(iz);
}

/* ---- retrieval ------------------------------------------------------------------------------ */
static void test_retrieval(void) {
    enum { N = 50, H = 24 };
    static float A[N * H], B[N * H];
    xgd_rng r;
    xgd_rng_init(&r, 9, 0);
    for (int i = 0; i < N * H; i++) { A[i] = xgd_rng_normal(&r); B[i] = A[i] + 0.05f * xgd_rng_normal(&r); }
    CHECK_NEAR(xgd_retrieval_acc(A, B, N, H, H), 1.0, 0);
    CHECK(xgd_paired_cos_mean(A, B, N, H, H) > 0.99);
    /* swap the candidates of 0 and 1, and 2 and 3: 4 of 50 found elsewhere, both directions */
    float tmp[H];
    for (int s = 0; s < 4; s += 2) {
        memcpy(tmp, B + s * H, sizeof tmp);
        memcpy(B + s * H, B + (s + 1) * H, sizeof tmp);
        memcpy(B + (s + 1) * H, tmp, sizeof tmp);
    }
    CHECK_NEAR(xgd_retrieval_acc(A, B, N, H, H), 46.0 / 50, 1e-12);
    CHECK_NEAR(xgd_retrieval_acc(B, A, N, H, H), 46.0 / 50, 1e-12);
    /* paired cosine: exact values on 2-d vectors, with a stride (rows of a wider table) */
    float P[] = {1, 0, 9, 1, 1, 9, 3, 4, 9}, Q[] = {0, 1, 9, 2, 2, 9, -3, -4, 9};
    CHECK_NEAR(xgd_paired_cos_mean(P, Q, 3, 2, 3), (0.0 + 1.0 - 1.0) / 3, 1e-12);
    /* a candidate that is close to every query (a hub) takes them all: accuracy 1/N */
    for (int i = 0; i < N * H; i++) B[i] = 0.01f * xgd_rng_normal(&r) + 1.0f;
    for (int i = 0; i < N * H; i++) A[i] = 1.0f + 0.01f * xgd_rng_normal(&r);
    for (int h = 0; h < H; h++) B[5 * H + h] = 1.0f;
    double acc = xgd_retrieval_acc(A, B, N, H, H);
    CHECK(acc <= 2.0 / N);
}

int main(void) {
    test_csv();
    test_probe();
    test_retrieval();
    for (size_t f = 0; f < sizeof configs / sizeof configs[0]; f++)
        for (int d = 0; d < 2; d++) {
            xgd_dtype dt = d ? XGD_BF16 : XGD_F32;
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/%s-%d", test_tmpdir("interp_models"), configs[f][0], d);
            xgd_model *m = make(configs[f][0], configs[f][1], dt, dir);
            if (!m) continue;
            test_pooling(m, configs[f][0]);
            test_vectors(m, configs[f][0]);
            test_neurons(m, configs[f][0]);
            xgd_model_free(m);
        }
    return test_done("interp");
}
