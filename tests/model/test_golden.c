/* The engine against golden outputs of the real transformers (tests/golden, made once with
 * transformers 5.17 on tiny random checkpoints): logits and hidden states of one sequence and of
 * a left-padded batch (real positions only), the mean next-token loss, and greedy generation,
 * for gpt2, bloom (6 heads), llama (GQA), llama31 (llama3 rope, biases), cohere (tied, logit
 * scale), each in f32 and bf16, plus the same weights read from pytorch_model.bin and from 12
 * safetensors shards. Tolerance 1e-4 absolute on logits and hidden states. */
#include "test.h"
#include "base/err.h"
#include "base/npy.h"
#include "generate/generate.h"
#include "model/runtime.h"

#define TOL 1e-4

static int load_npy(const char *ref, const char *name, xgd_npy *a) {
    char path[4096];
    snprintf(path, sizeof path, "tests/golden/ref/%s/%s.npy", ref, name);
    if (xgd_npy_read(path, a) != 0) { CHECK_MSG(0, "%s", xgd_errmsg()); return -1; }
    return 0;
}

typedef struct { float *buf; int L, B, T, C; } hid;
static void rec(void *user, const xgd_hook_event *ev) {
    hid *h = user;
    int slot = ev->kind == XGD_HOOK_EMBED ? 0 : ev->kind == XGD_HOOK_FINAL_NORM ? h->L : ev->layer + 1;
    if (ev->kind == XGD_HOOK_RESID_POST && ev->layer == h->L - 1) return;
    memcpy(h->buf + (size_t)slot * h->B * h->T * h->C, ev->x, sizeof(float) * (size_t)h->B * h->T * h->C);
}

/* Forward B sequences; compare logits (B,T,V) and hidden (L+1,B,T,C) on rows where mask is 1. */
static void check_forward(const xgd_model *m, const char *ref, const char *what, const int32_t *ids, const uint8_t *mask, int B, int T) {
    int V = m->hp.vocab, C = m->hp.hidden, L = m->hp.n_layer;
    float *lg = xgd_malloc(sizeof(float) * (size_t)B * T * V);
    hid h = {xgd_calloc((size_t)(L + 1) * B * T * C, sizeof(float)), L, B, T, C};
    xgd_hooks hooks = {0};
    xgd_hooks_add(&hooks, "embed", rec, &h);
    xgd_hooks_add(&hooks, "layer.*.resid_post", rec, &h);
    xgd_hooks_add(&hooks, "final_norm", rec, &h);
    xgd_state *s = xgd_state_new(m, B, T);
    xgd_fwd f = {.ids = ids, .mask = mask, .T = T, .logits = lg, .all_logits = 1, .hooks = &hooks};
    CHECK_MSG(xgd_forward(s, &f) == 0, "%s", xgd_errmsg());
    char name[64];
    xgd_npy want_l, want_h;
    snprintf(name, sizeof name, "logits_%s", what);
    if (load_npy(ref, name, &want_l) == 0) {
        snprintf(name, sizeof name, "hidden_%s", what);
        if (load_npy(ref, name, &want_h) == 0) {
            double dl = 0, dh = 0;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++) {
                    if (mask && !mask[b * T + t]) continue;
                    size_t r = (size_t)b * T + t;
                    dl = fmax(dl, t_maxdiff(lg + r * V, (float *)want_l.data + r * V, V));
                    for (int k = 0; k <= L; k++)
                        dh = fmax(dh, t_maxdiff(h.buf + ((size_t)k * B * T + r) * C, (float *)want_h.data + ((size_t)k * B * T + r) * C, C));
                }
            CHECK_MSG(dl <= TOL, "%s %s: logits differ from transformers by %g", ref, what, dl);
            CHECK_MSG(dh <= TOL, "%s %s: hidden states differ from transformers by %g", ref, what, dh);
            if (!mask) { /* mean next-token loss */
                xgd_npy want_loss;
                if (load_npy(ref, "loss_single", &want_loss) == 0) {
                    double loss = 0;
                    for (int t = 0; t + 1 < T; t++) {
                        const float *z = lg + (size_t)t * V;
                        double mx = z[0], se = 0;
                        for (int v = 1; v < V; v++) mx = fmax(mx, z[v]);
                        for (int v = 0; v < V; v++) se += exp(z[v] - mx);
                        loss += mx + log(se) - z[ids[t + 1]];
                    }
                    CHECK_NEAR(loss / (T - 1), ((float *)want_loss.data)[0], 1e-5);
                    xgd_npy_free(&want_loss);
                }
            }
            xgd_npy_free(&want_h);
        }
        xgd_npy_free(&want_l);
    }
    xgd_state_free(s);
    free(lg);
    free(h.buf);
}

/* Greedy generation of 8 tokens (eos 2 stops), as generate(do_sample=False). */
static void check_generate(const xgd_model *m, const char *ref) {
    xgd_npy ids, mask, gen;
    if (load_npy(ref, "input_ids", &ids) || load_npy(ref, "attention_mask", &mask) || load_npy(ref, "gen_batch", &gen)) return;
    int B = (int)ids.shape[0], T = (int)ids.shape[1];
    int32_t prompts[2][16];
    int lens[2] = {0, 0};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            if (((int64_t *)mask.data)[b * T + t]) prompts[b][lens[b]++] = (int32_t)((int64_t *)ids.data)[b * T + t];
    const int32_t *pp[2] = {prompts[0], prompts[1]};
    int32_t stop = 2, out_ids[2 * 8];
    int out_len[2];
    xgd_gen_opts o = {.N = 1, .max_tokens = 8, .sp = {0.0f, 1.0f, -1, 0}, .stop_ids = &stop, .n_stop = 1};
    xgd_gen_out out = {out_ids, out_len};
    CHECK_MSG(xgd_generate_group(m, pp, lens, B, 0, &o, &out) == 0, "%s", xgd_errmsg());
    int G = (int)gen.shape[1];
    for (int b = 0; b < B; b++) {
        const int64_t *want = (int64_t *)gen.data + (size_t)b * G + T;
        int same = 1;
        for (int k = 0; k < out_len[b]; k++) same &= out_ids[b * 8 + k] == want[k];
        if (out_len[b] < 8) same &= want[out_len[b]] == 2;   /* stopped at the EOS transformers emitted */
        CHECK_MSG(same, "%s: greedy generation of batch item %d differs from transformers", ref, b);
    }
    xgd_npy_free(&ids); xgd_npy_free(&mask); xgd_npy_free(&gen);
}

static void check_model(const char *model_dir, const char *ref) {
    char path[4096];
    snprintf(path, sizeof path, "tests/golden/models/%s", model_dir);
    xgd_model *m = NULL;
    if (xgd_model_load(&m, path) != 0) { CHECK_MSG(0, "%s: %s", model_dir, xgd_errmsg()); return; }
    xgd_npy single, ids, mask;
    if (load_npy(ref, "single_ids", &single) == 0) {
        int T = (int)single.shape[1];
        int32_t s32[64];
        for (int t = 0; t < T; t++) s32[t] = (int32_t)((int64_t *)single.data)[t];
        check_forward(m, ref, "single", s32, NULL, 1, T);
        xgd_npy_free(&single);
    }
    if (load_npy(ref, "input_ids", &ids) == 0 && load_npy(ref, "attention_mask", &mask) == 0) {
        int B = (int)ids.shape[0], T = (int)ids.shape[1];
        int32_t i32[128];
        uint8_t m8[128];
        for (int k = 0; k < B * T; k++) { i32[k] = (int32_t)((int64_t *)ids.data)[k]; m8[k] = (uint8_t)((int64_t *)mask.data)[k]; }
        check_forward(m, ref, "batch", i32, m8, B, T);
        xgd_npy_free(&ids);
        xgd_npy_free(&mask);
    }
    check_generate(m, ref);
    xgd_model_free(m);
}

int main(void) {
    FILE *f = fopen("tests/golden/manifest.json", "r");
    if (!f) { fprintf(stderr, "skip: tests/golden is absent\n"); return 77; }
    fclose(f);
    static const char *names[] = {"gpt2", "bloom", "llama", "llama31", "cohere"};
    char bf[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        check_model(names[i], names[i]);
        snprintf(bf, sizeof bf, "%s_bf16", names[i]);
        check_model(bf, bf);
    }
    check_model("gpt2_bin", "gpt2");          /* pytorch_model.bin, same weights */
    check_model("llama_sharded", "llama");    /* 12 safetensors shards */
    return test_done("model_golden");
}
