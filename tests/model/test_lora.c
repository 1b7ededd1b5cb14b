/* LoRA against PEFT (golden fixtures made with peft 0.21 on tiny llama, cohere (tied), bloom and
 * gpt2 (Conv1D) models): the engine with a PEFT adapter loaded gives PeftModel's logits; merging
 * gives merge_and_unload()'s logits and weights; an adapter saved by xgd loads back to the same
 * values with PEFT's key names; a zero adapter changes nothing. */
#include "test.h"
#include "base/err.h"
#include "base/npy.h"
#include "io/checkpoint.h"
#include "model/lora.h"
#include "model/runtime.h"
#include "train/params.h"

static float *logits(const xgd_model *m, const int32_t *ids, const uint8_t *mask, int B, int T) {
    float *lg = xgd_malloc(sizeof(float) * (size_t)B * T * m->hp.vocab);
    xgd_state *s = xgd_state_new(m, B, T);
    xgd_fwd f = {.ids = ids, .mask = mask, .T = T, .logits = lg, .all_logits = 1};
    CHECK_MSG(xgd_forward(s, &f) == 0, "%s", xgd_errmsg());
    xgd_state_free(s);
    return lg;
}

static double diff_real(const float *a, const char *ref, const char *name, const uint8_t *mask, int B, int T, int V) {
    char path[4096];
    snprintf(path, sizeof path, "tests/golden/ref/%s/%s.npy", ref, name);
    xgd_npy w;
    if (xgd_npy_read(path, &w) != 0) { CHECK_MSG(0, "%s", xgd_errmsg()); return INFINITY; }
    double d = 0;
    for (int r = 0; r < B * T; r++)
        if (!mask || mask[r]) d = fmax(d, t_maxdiff(a + (size_t)r * V, (float *)w.data + (size_t)r * V, V));
    xgd_npy_free(&w);
    return d;
}

static void check_family(const char *fam) {
    char base[512], adir[512], ref[64], path[8192];
    snprintf(base, sizeof base, "tests/golden/models/%s", fam);
    snprintf(adir, sizeof adir, "tests/golden/lora/%s/adapter", fam);
    snprintf(ref, sizeof ref, "lora_%s", fam);
    xgd_model *m;
    if (xgd_model_load(&m, base) != 0) { CHECK_MSG(0, "%s", xgd_errmsg()); return; }
    int V = m->hp.vocab;
    xgd_npy single, ids, mask;
    snprintf(path, sizeof path, "tests/golden/ref/%s/single_ids.npy", ref);
    CHECK(xgd_npy_read(path, &single) == 0);
    snprintf(path, sizeof path, "tests/golden/ref/%s/input_ids.npy", ref);
    CHECK(xgd_npy_read(path, &ids) == 0);
    snprintf(path, sizeof path, "tests/golden/ref/%s/attention_mask.npy", ref);
    CHECK(xgd_npy_read(path, &mask) == 0);
    int T = (int)single.shape[1], B = (int)ids.shape[0];
    int32_t s32[64], b32[128];
    uint8_t m8[128];
    for (int t = 0; t < T; t++) s32[t] = (int32_t)((int64_t *)single.data)[t];
    for (int k = 0; k < B * T; k++) { b32[k] = (int32_t)((int64_t *)ids.data)[k]; m8[k] = (uint8_t)((int64_t *)mask.data)[k]; }
    float *base_lg = logits(m, s32, NULL, 1, T);

    xgd_adapter *a;
    if (xgd_adapter_load(&a, m, adir) != 0) { CHECK_MSG(0, "%s: %s", fam, xgd_errmsg()); xgd_model_free(m); return; }
    float *lg = logits(m, s32, NULL, 1, T);
    double d = diff_real(lg, ref, "logits_adapter_single", NULL, 1, T, V);
    CHECK_MSG(d <= 1e-4, "%s: adapter logits differ from PEFT by %g", fam, d);
    free(lg);
    lg = logits(m, b32, m8, B, T);
    d = diff_real(lg, ref, "logits_adapter_batch", m8, B, T, V);
    CHECK_MSG(d <= 1e-4, "%s: adapter batch logits differ from PEFT by %g", fam, d);
    free(lg);
    /* detached: the base model again */
    xgd_adapter_attach(a, 0);
    lg = logits(m, s32, NULL, 1, T);
    CHECK(t_maxdiff(lg, base_lg, (long)T * V) == 0.0);
    free(lg);
    xgd_adapter_attach(a, 1);

    /* save and reload: PEFT's keys, same values */
    const char *tmp = test_tmpdir("model_lora");
    snprintf(path, sizeof path, "%s/%s", tmp, fam);
    CHECK_MSG(xgd_adapter_save(a, m, path, base) == 0, "%s", xgd_errmsg());
    xgd_adapter_attach(a, 0);
    xgd_adapter *b;
    CHECK_MSG(xgd_adapter_load(&b, m, path) == 0, "%s", xgd_errmsg());
    CHECK(b && b->n == a->n && b->nparams == a->nparams);
    for (int i = 0; b && i < a->n && i < b->n; i++) {
        CHECK_STR(a->items[i].module, b->items[i].module);
        CHECK(memcmp(a->items[i].A, b->items[i].A, sizeof(float) * (size_t)(a->r * a->items[i].in)) == 0);
        CHECK(memcmp(a->items[i].B, b->items[i].B, sizeof(float) * (size_t)(a->items[i].out * a->r)) == 0);
    }
    /* the key set equals the one PEFT wrote */
    char p1[4096], p2[8192 + 64];
    snprintf(p1, sizeof p1, "%s/adapter_model.safetensors", adir);
    snprintf(p2, sizeof p2, "%s/adapter_model.safetensors", path);
    xgd_st_file *f1, *f2;
    if (xgd_st_open(&f1, p1) == 0 && xgd_st_open(&f2, p2) == 0) {
        CHECK_MSG(xgd_st_count(f1) == xgd_st_count(f2), "%s: %zu keys vs PEFT's %zu", fam, xgd_st_count(f2), xgd_st_count(f1));
        for (size_t i = 0; i < xgd_st_count(f1); i++) {
            int found = 0;
            for (size_t j = 0; j < xgd_st_count(f2); j++) found |= !strcmp(xgd_st_at(f1, i)->name, xgd_st_at(f2, j)->name);
            CHECK_MSG(found, "%s: key %s missing from the saved adapter", fam, xgd_st_at(f1, i)->name);
        }
        xgd_st_close(f1);
        xgd_st_close(f2);
    }
    xgd_adapter_free(b);

    /* merge into f32 weights: merge_and_unload's logits and weights */
    xgd_params p;
    xgd_params_init(&p, m);
    xgd_adapter_attach(a, 1);
    CHECK(xgd_adapter_merge(a) == 0);
    lg = logits(m, s32, NULL, 1, T);
    d = diff_real(lg, ref, "logits_merged_single", NULL, 1, T, V);
    CHECK_MSG(d <= 1e-4, "%s: merged logits differ from merge_and_unload by %g", fam, d);
    free(lg);
    snprintf(path, sizeof path, "tests/golden/lora/%s/merged", fam);
    xgd_ckpt *c;
    if (xgd_ckpt_open(&c, path) == 0) {
        double wd = 0;
        for (int i = 0; i < p.n_info; i++) {
            const xgd_tensor *t = xgd_ckpt_find(c, p.info[i].name);
            if (!t) { CHECK_MSG(0, "%s: merged file lacks %s", fam, p.info[i].name); continue; }
            float *w = xgd_malloc(sizeof(float) * (size_t)p.info[i].numel);
            void *tmpd = xgd_malloc(t->nbytes);
            memcpy(tmpd, t->data, t->nbytes);
            xgd_convert_to_f32(w, tmpd, t->dtype, (size_t)p.info[i].numel);
            wd = fmax(wd, t_maxdiff(w, p.data + p.info[i].offset, p.info[i].numel));
            free(w);
            free(tmpd);
        }
        CHECK_MSG(wd <= 1e-5, "%s: merged weights differ from merge_and_unload's by %g", fam, wd);
        xgd_ckpt_close(c);
    } else CHECK_MSG(0, "%s", xgd_errmsg());
    xgd_params_free(&p);
    xgd_adapter_free(a);
    free(base_lg);
    xgd_npy_free(&single); xgd_npy_free(&ids); xgd_npy_free(&mask);
    xgd_model_free(m);
}

int main(void) {
    FILE *f = fopen("tests/golden/manifest.json", "r");
    if (!f) { fprintf(stderr, "skip: tests/golden is absent\n"); return 77; }
    fclose(f);
    const char *fams[] = {"llama", "cohere", "bloom", "gpt2"};
    for (int i = 0; i < 4; i++) check_family(fams[i]);
    return test_done("model_lora");
}
