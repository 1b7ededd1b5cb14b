/* xgd retrieval: how aligned a model's sentence representations are across languages, per
 * hidden state: the seed's paired cosine and true bilingual retrieval accuracy (interp/retrieval.h). */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "generate/prompts.h"
#include "interp/hidden.h"
#include "base/strlist.h"
#include "interp/report.h"
#include "interp/retrieval.h"
#include "interp/svg.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pooled (n, L+1, H) representations of a language's sentences. */
static int embed_lang(const xgd_model *m, const xgd_tokenizer *tok, const char *dir, const char *pattern, const char *lang,
                      int64_t max_n, int batch, int pool, int64_t *n, float **out) {
    char *name = xgd_expand_lang(pattern, lang), *path = xgd_path_join(dir, name);
    free(name);
    xgd_prompts pr = {0};
    int rc = xgd_prompts_read(path, 0, &pr);
    if (rc == 0) {
        *n = max_n > 0 && max_n < pr.n ? max_n : pr.n;
        int L = m->hp.n_layer, nsel = L + 1;
        int *sel = xgd_malloc(sizeof(int) * (size_t)nsel);
        for (int i = 0; i < nsel; i++) sel[i] = i;
        *out = xgd_malloc(sizeof(float) * (size_t)(*n ? *n : 1) * nsel * m->hp.hidden);
        xgd_info("%s: %lld sentences from %s", lang, (long long)*n, path);
        /* tok(texts, padding=True) as the seed: special tokens added, no truncation needed */
        rc = xgd_pool_texts(m, tok, (const char *const *)pr.text, *n, batch, 1, m->hp.max_pos, sel, nsel, (xgd_pooling)pool, *out);
        if (rc != 0) xgd_err_context("%s", path);
        free(sel);
    }
    xgd_prompts_free(&pr);
    free(path);
    return rc;
}

/* One row per hidden state, one column group per language. */
static void table(FILE *f, char **langs, int nl, int nh, const double *pc, const double *fw, const double *bw) {
    fprintf(f, "%-10s", "hidden");
    for (int li = 0; li < nl; li++) fprintf(f, " | %-6s %7s %7s %7s", langs[li], "cos", "acc->", "acc<-");
    fputc('\n', f);
    for (int h = 0; h <= nh; h++) {
        char lab[32];
        if (h == nh) snprintf(lab, sizeof lab, "mean");
        else if (h == 0) snprintf(lab, sizeof lab, "embed");
        else if (h == nh - 1) snprintf(lab, sizeof lab, "final_norm");
        else snprintf(lab, sizeof lab, "block %d", h - 1);
        fprintf(f, "%-10s", lab);
        for (int li = 0; li < nl; li++) {
            double a = 0, b = 0, c = 0;
            if (h < nh) { a = pc[li * nh + h]; b = fw[li * nh + h]; c = bw[li * nh + h]; }
            else for (int k = 0; k < nh; k++) { a += pc[li * nh + k] / nh; b += fw[li * nh + k] / nh; c += bw[li * nh + k] / nh; }
            fprintf(f, " | %-6s %7.4f %7.4f %7.4f", "", a, b, c);
        }
        fputc('\n', f);
    }
}

int cmd_retrieval(int argc, char **argv) {
    const char *model = NULL, *lang1 = "en", *lang2_s = NULL, *dir = NULL, *pattern = "dpo_toxicity_pairwise_{lang}_200.jsonl",
               *output = NULL, *tokenizer = NULL, *pooling = "avg";
    long batch = 10, max_n = 0;
    const opt_spec opts[] = {
        {"model", OPT_STR, &model, "MODEL", "checkpoint folder or hub id in the local HF cache"},
        {"lang1", OPT_STR, &lang1, "LANG", "the pivot language (default en)"},
        {"lang2", OPT_STR, &lang2_s, "LANG[,LANG...]", "the other language(s); all of them in one run"},
        {"aligned_text_dir", OPT_STR, &dir, "DIR", "folder with line-aligned JSONL files (line i is the same sentence in every language)"},
        {"pattern", OPT_STR, &pattern, "NAME", "file name with {lang} (default dpo_toxicity_pairwise_{lang}_200.jsonl)"},
        {"pooling", OPT_STR, &pooling, "avg|last", "sentence vector: mean over the tokens (the seed's) or the last token"},
        {"batch", OPT_INT, &batch, "N", "sentences per forward pass (default 10; results do not depend on it)"},
        {"max_sentences", OPT_INT, &max_n, "N", "use the first N aligned lines only (default all)"},
        {"tokenizer", OPT_STR, &tokenizer, "PATH", "tokenizer folder or file (default: the model folder)"},
        {"output", OPT_STR, &output, "DIR", "write retrieval.json, retrieval.txt, retrieval.svg (accuracy per layer) and retrieval_cos.svg there"},
        {0},
    };
    const cmd_spec spec = {"retrieval", "xgd retrieval --model MODEL --lang1 en --lang2 LANG[,LANG...] --aligned_text_dir DIR [--output DIR]",
        "For every hidden state (0 = embeddings, 1..L-1 = block outputs, L = after the final norm) and every language pair, two\n"
        "measures on mean-pooled sentence vectors: paired_cos_mean, the mean cosine of the aligned pairs (what the seed's\n"
        "retrieval scripts print as \"Retrieval acc\", averaged over the hidden states), and retrieval_acc, true top-1 bilingual\n"
        "retrieval (nearest neighbour by cosine among all candidates), lang1->lang2 and lang2->lang1. Sentences are pooled\n"
        "batch by batch (no cache files, memory bounded by the pooled vectors).", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "model", model) || args_require(&spec, "lang2", lang2_s) || args_require(&spec, "aligned_text_dir", dir)) return 2;
    int pool = xgd_pooling_parse(pooling);
    if (pool < 0 || batch < 1) { fprintf(stderr, "xgd retrieval: error: --pooling must be avg or last and --batch >= 1\n"); return 2; }
    int nl;
    char **langs = xgd_split_list(lang2_s, ",", &nl);
    if (nl == 0) { xgd_free_list(langs); fprintf(stderr, "xgd retrieval: error: --lang2 is empty\n"); return 2; }
    xgd_model *m = NULL;
    xgd_tokenizer *tok = NULL;
    float *E1 = NULL, *E2 = NULL;
    double *pc = NULL, *fw = NULL, *bw = NULL;
    json_t *root = NULL;
    int rc = -1;
    int64_t n1 = 0;
    if (xgd_model_load(&m, model) != 0) goto done;
    if (!(tok = xgd_tokenizer_load(tokenizer ? tokenizer : m->path))) goto done;
    int nh = m->hp.n_layer + 1, H = m->hp.hidden;
    if (embed_lang(m, tok, dir, pattern, lang1, max_n, (int)batch, pool, &n1, &E1) != 0) goto done;
    pc = xgd_malloc(sizeof(double) * (size_t)nl * nh);
    fw = xgd_malloc(sizeof(double) * (size_t)nl * nh);
    bw = xgd_malloc(sizeof(double) * (size_t)nl * nh);
    for (int li = 0; li < nl; li++) {
        int64_t n2;
        if (embed_lang(m, tok, dir, pattern, langs[li], max_n, (int)batch, pool, &n2, &E2) != 0) goto done;
        if (n2 != n1) { xgd_fail("%s has %lld sentences, %s has %lld: the files must be line-aligned", lang1, (long long)n1, langs[li], (long long)n2); goto done; }
        int64_t stride = (int64_t)nh * H;
        for (int h = 0; h < nh; h++) {
            pc[li * nh + h] = xgd_paired_cos_mean(E1 + (int64_t)h * H, E2 + (int64_t)h * H, n1, H, stride);
            fw[li * nh + h] = xgd_retrieval_acc(E1 + (int64_t)h * H, E2 + (int64_t)h * H, n1, H, stride);
            bw[li * nh + h] = xgd_retrieval_acc(E2 + (int64_t)h * H, E1 + (int64_t)h * H, n1, H, stride);
        }
        free(E2);
        E2 = NULL;
    }
    root = json_object();
    json_object_set_new(root, "model", json_string(m->path));
    json_object_set_new(root, "lang1", json_string(lang1));
    json_object_set_new(root, "sentences", json_integer(n1));
    json_object_set_new(root, "pooling", json_string(pool == XGD_POOL_AVG ? "avg" : "last"));
    json_object_set_new(root, "hidden_states", json_string("0 = embeddings, 1..L-1 = block outputs, L = after the final norm"));
    json_t *jl = json_object();
    for (int li = 0; li < nl; li++) {
        json_t *o = json_object(), *a = json_array(), *b = json_array(), *c = json_array();
        double sa = 0, sb = 0, sc = 0;
        for (int h = 0; h < nh; h++) {
            json_array_append_new(a, xgd_jreal(pc[li * nh + h]));
            json_array_append_new(b, xgd_jreal(fw[li * nh + h]));
            json_array_append_new(c, xgd_jreal(bw[li * nh + h]));
            sa += pc[li * nh + h] / nh; sb += fw[li * nh + h] / nh; sc += bw[li * nh + h] / nh;
        }
        json_object_set_new(o, "paired_cos_mean", a);
        json_object_set_new(o, "retrieval_acc", b);
        json_object_set_new(o, "retrieval_acc_reverse", c);
        /* the number the seed prints as "Retrieval acc": the paired cosine averaged over hidden states */
        json_object_set_new(o, "paired_cos_mean_avg", xgd_jreal(sa));
        json_object_set_new(o, "retrieval_acc_avg", xgd_jreal(sb));
        json_object_set_new(o, "retrieval_acc_reverse_avg", xgd_jreal(sc));
        json_object_set_new(jl, langs[li], o);
    }
    json_object_set_new(root, "languages", jl);
    table(stdout, langs, nl, nh, pc, fw, bw);
    rc = 0;
    if (output) {
        char *jp = xgd_path_join(output, "retrieval.json"), *tp = xgd_path_join(output, "retrieval.txt"),
             *sp = xgd_path_join(output, "retrieval.svg"), *cp = xgd_path_join(output, "retrieval_cos.svg");
        rc = xgd_mkdir_p(output);
        if (rc == 0) rc = xgd_json_write(jp, root);
        if (rc == 0) {
            xgd_atomic_file af;
            rc = xgd_atomic_open(&af, tp);
            if (rc == 0) { table(af.fp, langs, nl, nh, pc, fw, bw); rc = xgd_atomic_commit(&af); }
        }
        if (rc == 0) {
            char **cats = xgd_malloc(sizeof(char *) * (size_t)nh);
            for (int h = 0; h < nh; h++) { cats[h] = xgd_malloc(16); snprintf(cats[h], 16, "%d", h); }
            xgd_chart c = {"Top-1 retrieval accuracy with the pivot language, per hidden state", "retrieval_acc (lang1 -> lang2)",
                           "hidden state (0 = embeddings, L = final norm)", nh, (const char *const *)cats, nl, (const char *const *)langs, fw};
            rc = xgd_svg_lines(sp, &c);
            if (rc == 0) {
                c.title = "Mean cosine of aligned pairs (the seed's metric), per hidden state";
                c.ylabel = "paired_cos_mean";
                c.v = pc;
                rc = xgd_svg_lines(cp, &c);
            }
            for (int h = 0; h < nh; h++) free(cats[h]);
            free(cats);
        }
        free(jp); free(tp); free(sp); free(cp);
    }
done:
    json_decref(root);
    free(E1); free(E2); free(pc); free(fw); free(bw);
    xgd_free_list(langs);
    xgd_tokenizer_free(tok);
    xgd_model_free(m);
    return rc == 0 ? 0 : cli_error();
}
