/* Batched generation: the samples of a prompt do not depend on how prompts are grouped (shared
 * prefill + batched decode equals one prompt at a time), greedy decoding equals the argmax of a
 * full forward pass over prompt + generated tokens, and stop ids end a sample. Top-p 0.8 at
 * temperature 0.9 (the study's setting) takes the sampler's histogram path. */
#include "test.h"
#include "base/err.h"
#include "generate/generate.h"
#include "model/init.h"
#include "model/intervene.h"

static xgd_model *tiny(const char *family, const char *cfg_text, const char *dir) {
    json_error_t e;
    json_t *cfg = json_loads(cfg_text, 0, &e);
    CHECK(xgd_init_checkpoint(xgd_family_find(family), cfg, XGD_BF16, 11, dir) == 0);
    json_decref(cfg);
    xgd_model *m = NULL;
    CHECK_MSG(xgd_model_load(&m, dir) == 0, "%s", xgd_errmsg());
    return m;
}

static const int32_t P0[] = {3, 14, 15, 92}, P1[] = {65, 35}, P2[] = {89, 79, 32, 38, 46, 26, 43};
static const int32_t *const PROMPTS[] = {P0, P1, P2};
static const int LENS[] = {4, 2, 7};

static void run(const xgd_model *m, const xgd_gen_opts *o, int group, int32_t *ids, int *len) {
    int N = o->N, M = o->max_tokens;
    for (int p0 = 0; p0 < 3; p0 += group) {
        int g = 3 - p0 < group ? 3 - p0 : group;
        xgd_gen_out out = {ids + (size_t)p0 * N * M, len + p0 * N};
        CHECK_MSG(xgd_generate_group(m, PROMPTS + p0, LENS + p0, g, p0, o, &out) == 0, "%s", xgd_errmsg());
    }
}

static void test_grouping(const xgd_model *m, const char *name) {
    xgd_gen_opts o = {.N = 5, .max_tokens = 6, .sp = {0.9f, 0.8f, -1, 0}, .seed = 1234};
    int32_t a[3 * 5 * 6], b[3 * 5 * 6];
    int la[15], lb[15];
    run(m, &o, 3, a, la);
    for (int group = 1; group <= 2; group++) {   /* 3 = {0,1,2}; 2 = {0,1},{2}; 1 = {0},{1},{2} */
        run(m, &o, group, b, lb);
        CHECK_MSG(memcmp(la, lb, sizeof la) == 0 && memcmp(a, b, sizeof a) == 0, "%s: group %d changed the samples", name, group);
    }
    /* the default group: about 400 rows per decode step, at least one prompt */
    CHECK(xgd_gen_group(m, 25, 20) == 16 && xgd_gen_group(m, 5, 20) == 80 && xgd_gen_group(m, 500, 20) == 1);
    /* the samples of one prompt differ from each other (independent streams) */
    int differ = 0;
    for (int k = 1; k < 5; k++) differ |= memcmp(a, a + k * 6, 6 * sizeof(int32_t)) != 0;
    CHECK(differ);
    /* an intervention of +0 leaves every sample unchanged; a large one changes them */
    xgd_hooks h = {0};
    xgd_intervention *iv = xgd_intervention_parse("layer.0.mlp.post_act[0,1,2]+=0", &h);
    CHECK(iv != NULL);
    o.hooks = &h;
    run(m, &o, 3, b, lb);
    CHECK(memcmp(a, b, sizeof a) == 0);
    xgd_intervention_free(iv);
    xgd_hooks h2 = {0};
    iv = xgd_intervention_parse("layer.*.mlp.post_act[0,1,2,3,4,5]=40", &h2);
    o.hooks = &h2;
    run(m, &o, 3, b, lb);
    CHECK_MSG(memcmp(a, b, sizeof a) != 0, "%s: setting neurons to 40 changed nothing", name);
    xgd_intervention_free(iv);
}

static void test_greedy(xgd_model *m, const char *name) {
    xgd_gen_opts o = {.N = 2, .max_tokens = 7, .sp = {0.0f, 1.0f, -1, 0}, .seed = 1};
    int32_t ids[3 * 2 * 7];
    int len[6];
    run(m, &o, 3, ids, len);
    int V = m->hp.vocab;
    for (int p = 0; p < 3; p++) {
        CHECK(len[2 * p] == 7 && memcmp(ids + 2 * p * 7, ids + (2 * p + 1) * 7, 7 * sizeof(int32_t)) == 0);
        int T = LENS[p] + 7;
        int32_t seq[16];
        memcpy(seq, PROMPTS[p], sizeof(int32_t) * (size_t)LENS[p]);
        memcpy(seq + LENS[p], ids + 2 * p * 7, 7 * sizeof(int32_t));
        float *lg = xgd_malloc(sizeof(float) * (size_t)T * (size_t)V);
        xgd_state *s = xgd_state_new(m, 1, T);
        xgd_fwd f = {.ids = seq, .T = T, .logits = lg, .all_logits = 1};
        CHECK(xgd_forward(s, &f) == 0);
        for (int t = LENS[p] - 1; t < T - 1; t++) {
            int best = 0;
            for (int v = 1; v < V; v++) if (lg[(size_t)t * V + v] > lg[(size_t)t * V + best]) best = v;
            CHECK_MSG(best == seq[t + 1], "%s: greedy token %d at %d is not the argmax %d", name, seq[t + 1], t, best);
        }
        xgd_state_free(s);
        free(lg);
    }
    /* a stop id ends the sample before it is emitted */
    int32_t stop = ids[2];
    o.stop_ids = &stop;
    o.n_stop = 1;
    run(m, &o, 3, ids, len);
    CHECK(len[0] == 2);
}

int main(void) {
    const char *tmp = test_tmpdir("generate");
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/llama", tmp);
    xgd_model *m = tiny("llama", "{\"vocab_size\": 101, \"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 2,"
                        " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"initializer_range\": 0.3}", dir);
    if (m) { test_grouping(m, "llama"); test_greedy(m, "llama"); xgd_model_free(m); }
    snprintf(dir, sizeof dir, "%s/gpt2", tmp);
    m = tiny("gpt2", "{\"vocab_size\": 101, \"n_embd\": 32, \"n_layer\": 2, \"n_head\": 4, \"n_positions\": 64, \"initializer_range\": 0.3}", dir);
    if (m) { test_grouping(m, "gpt2"); test_greedy(m, "gpt2"); xgd_model_free(m); }
    return test_done("generate");
}
