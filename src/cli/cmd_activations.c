/* xgd activations: mean activation of a group of neurons over greedy generation, per language,
 * for a base model and its DPO version (the paper's Figure 3; the seed's
 * collect_neuron_activations procedure, see interp/neurons.h). */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "generate/prompts.h"
#include "interp/neurons.h"
#include "base/strlist.h"
#include "interp/report.h"
#include "interp/svg.h"
#include "model/intervene.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The prompt file of one language in dir: --prompt_pattern, else the first that exists of
 * {lang}.jsonl, the parallel prompts' dpo_toxicity_pairwise_{lang}_200.jsonl, RTP-LX's
 * RTP_LX_{LANG}.json (zh: RTP_LX_ZH-Hans.json). */
static char *prompt_file(const char *dir, const char *pattern, const char *lang) {
    static const char *defaults[] = {"{lang}.jsonl", "dpo_toxicity_pairwise_{lang}_200.jsonl", "RTP_LX_{LANG}.json", NULL};
    const char *one[] = {pattern, NULL};
    const char **pats = pattern ? one : defaults;
    char tried[2048] = "";
    for (int i = 0; pats[i]; i++) {
        char *name = xgd_expand_lang(!strcmp(lang, "zh") && !strcmp(pats[i], "RTP_LX_{LANG}.json") ? "RTP_LX_ZH-Hans.json" : pats[i], lang);
        char *path = xgd_path_join(dir, name);
        free(name);
        if (xgd_is_file(path)) return path;
        size_t t = strlen(tried);
        snprintf(tried + t, sizeof tried - t, "%s%s", t ? ", " : "", path);
        free(path);
    }
    xgd_fail("no prompt file for language '%s' (tried %s); set --prompt_pattern", lang, tried);
    return NULL;
}

/* Run one model over every language: out (nlang, nn) per-neuron means. */
static int run_model(const char *model, const char *tokenizer, char **langs, int nl, const char *dir, const char *pattern,
                     const xgd_neuron *nr, int nn, int steps, int batch, int64_t max_prompts, int no_bos, const xgd_hooks *extra,
                     double *out) {
    xgd_model *m;
    if (xgd_model_load(&m, model) != 0) return -1;
    xgd_tokenizer *tok = xgd_tokenizer_load(tokenizer ? tokenizer : m->path);
    int rc = tok ? 0 : -1;
    int32_t bos = no_bos || !tok ? -1 : xgd_prompt_bos(tok, m);
    if (rc == 0 && !no_bos && bos < 0) rc = xgd_fail("%s: the tokenizer and config define no BOS token (use --no_bos)", model);
    for (int k = 0; k < nn && rc == 0; k++)
        if (nr[k].layer >= m->hp.n_layer || nr[k].neuron >= m->hp.inter)
            rc = xgd_fail("neuron (%d, %lld) is outside %s (%d layers, %d neurons)", nr[k].layer, (long long)nr[k].neuron, model, m->hp.n_layer, m->hp.inter);
    for (int li = 0; li < nl && rc == 0; li++) {
        char *path = prompt_file(dir, pattern, langs[li]);
        xgd_prompts pr = {0};
        if (!path || xgd_prompts_read(path, 0, &pr) != 0) { free(path); rc = -1; break; }
        int64_t np = max_prompts > 0 && max_prompts < pr.n ? max_prompts : pr.n;
        xgd_info("%s: %s, %lld prompts from %s", model, langs[li], (long long)np, path);
        int32_t **seqs;
        int *lens;
        rc = xgd_prompt_ids(tok, (const char *const *)pr.text, np, bos, m->hp.max_pos - steps, &seqs, &lens);
        if (rc == 0) {
            xgd_record_opts ro = {steps, batch, extra};
            rc = xgd_neuron_means(m, (const int32_t *const *)seqs, lens, np, nr, nn, &ro, out + (size_t)li * nn, NULL);
            if (rc != 0) xgd_err_context("%s", path);
            xgd_prompt_ids_free(seqs, lens, np);
        }
        xgd_prompts_free(&pr);
        free(path);
    }
    xgd_tokenizer_free(tok);
    xgd_model_free(m);
    return rc;
}

static double group_mean(const double *v, int nn) {
    double s = 0;
    for (int k = 0; k < nn; k++) s += v[k];
    return s / nn;
}

/* The readable table: one row per language, then the per-neuron means averaged over languages. */
static void table(FILE *f, char **langs, int nl, const xgd_neuron *nr, int nn, const double *v, int nm) {
    fprintf(f, "%-8s %12s", "lang", "base");
    if (nm > 1) fprintf(f, " %12s %12s", "compare", "change");
    fputc('\n', f);
    double s0 = 0, s1 = 0;
    for (int li = 0; li < nl; li++) {
        double a = group_mean(v + (size_t)li * nn, nn), b = nm > 1 ? group_mean(v + ((size_t)nl + li) * nn, nn) : NAN;
        s0 += a;
        s1 += b;
        fprintf(f, "%-8s %12.6f", langs[li], a);
        if (nm > 1) fprintf(f, " %12.6f %+12.6f", b, b - a);
        fputc('\n', f);
    }
    fprintf(f, "%-8s %12.6f", "mean", s0 / nl);
    if (nm > 1) fprintf(f, " %12.6f %+12.6f", s1 / nl, (s1 - s0) / nl);
    fprintf(f, "\n\n%-6s %7s %12s", "layer", "neuron", "base");
    if (nm > 1) fprintf(f, " %12s", "compare");
    fprintf(f, "   (mean over languages)\n");
    for (int k = 0; k < nn; k++) {
        fprintf(f, "%-6d %7lld", nr[k].layer, (long long)nr[k].neuron);
        for (int mi = 0; mi < nm; mi++) {
            double s = 0;
            for (int li = 0; li < nl; li++) s += v[((size_t)mi * nl + li) * nn + k];
            fprintf(f, " %12.6f", s / nl);
        }
        fputc('\n', f);
    }
}

int cmd_activations(int argc, char **argv) {
    const char *model = NULL, *compare = NULL, *neurons = NULL, *prompt_dir = NULL, *langs_s = NULL, *pattern = NULL,
               *output = NULL, *tokenizer = NULL, *intervene = NULL;
    long steps = 20, batch = 10, max_prompts = 0;
    int no_bos = 0;
    const opt_spec opts[] = {
        {"model", OPT_STR, &model, "MODEL", "the base model (checkpoint folder or hub id)"},
        {"compare", OPT_STR, &compare, "MODEL2", "the model to compare with (the DPO model); optional"},
        {"neurons", OPT_STR, &neurons, "FILE", "JSON list of {\"layer\": l, \"neuron\": i} (or [l, i]), or xgd vectors' vectors.json (its kept list)"},
        {"prompt_dir", OPT_STR, &prompt_dir, "DIR", "folder with one JSONL prompt file per language (\"Prompt\" or \"prompt\" field)"},
        {"langs", OPT_STR, &langs_s, "ar,cs,...", "languages, comma separated"},
        {"prompt_pattern", OPT_STR, &pattern, "NAME", "file name in DIR with {lang} or {LANG} (default: the first that exists of {lang}.jsonl, dpo_toxicity_pairwise_{lang}_200.jsonl, RTP_LX_{LANG}.json)"},
        {"steps", OPT_INT, &steps, "N", "greedy steps per prompt (default 20): records at the last prompt token and at generated tokens 1..N-1"},
        {"batch", OPT_INT, &batch, "N", "prompts per batch, left padded (default 10, as the seed)"},
        {"max_prompts", OPT_INT, &max_prompts, "N", "use only the first N prompts of each language (default all)"},
        {"no_bos", OPT_FLAG, &no_bos, NULL, "do not prepend BOS (TransformerLens' to_tokens prepends it; the seed's default)"},
        {"tokenizer", OPT_STR, &tokenizer, "PATH", "tokenizer folder or file (default: each model's folder)"},
        {"intervene", OPT_STR, &intervene, "SPEC", "edit neurons in both models at every position before recording, e.g. 'layer.14.mlp.post_act[5723]+=5' (as xgd generate --intervene)"},
        {"output", OPT_STR, &output, "DIR", "write activations.json, activations.txt and activations.svg (bars per language, before/after) there"},
        {0},
    };
    const cmd_spec spec = {"activations",
        "xgd activations --model MODEL [--compare MODEL2] --neurons FILE --prompt_dir DIR --langs ar,cs,... [--steps 20] [--output DIR]",
        "Mean post-activation (layer.N.mlp.post_act) of the given neurons over greedy generation, per language, for a base model\n"
        "and a model to compare (the DPO model), as the seed's collect_neuron_activations does: BOS prepended, batches of 10\n"
        "prompts left padded, at each of N steps the activation at the last position is recorded and the argmax appended\n"
        "(a KV cache replaces the full re-forward). Per neuron: the mean over prompts x steps; per group: the unweighted mean of\n"
        "the neuron means. The seed read one table with a column per language; here each language has its own prompt file.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "model", model) || args_require(&spec, "neurons", neurons) || args_require(&spec, "prompt_dir", prompt_dir) ||
        args_require(&spec, "langs", langs_s)) return 2;
    if (steps < 1 || batch < 1) { fprintf(stderr, "xgd activations: error: --steps and --batch must be >= 1\n"); return 2; }
    int nl, nn, nm = compare ? 2 : 1, rc = -1;
    char **langs = xgd_split_list(langs_s, ",", &nl);
    if (nl == 0) { xgd_free_list(langs); fprintf(stderr, "xgd activations: error: --langs is empty\n"); return 2; }
    xgd_neuron *nr = NULL;
    double *v = NULL;
    xgd_hooks ivh = {0};
    xgd_intervention *iv = NULL;
    json_t *root = NULL;
    if (xgd_neurons_load(neurons, NULL, &nr, &nn) != 0) goto done;
    if (intervene && !(iv = xgd_intervention_parse(intervene, &ivh))) goto done;
    v = xgd_malloc(sizeof(double) * (size_t)nm * nl * nn); /* (model, lang, neuron) */
    const char *models[2] = {model, compare};
    for (int mi = 0; mi < nm; mi++)
        if (run_model(models[mi], tokenizer, langs, nl, prompt_dir, pattern, nr, nn, (int)steps, (int)batch, max_prompts, no_bos,
                      iv ? &ivh : NULL, v + (size_t)mi * nl * nn) != 0) goto done;
    if (iv && xgd_intervention_out_of_range(iv) > 0) { xgd_fail("--intervene names neurons outside the hook's width"); goto done; }
    root = json_object();
    json_object_set_new(root, "model", json_string(model));
    if (compare) json_object_set_new(root, "compare", json_string(compare));
    json_object_set_new(root, "steps", json_integer(steps));
    json_object_set_new(root, "bos_prepended", json_boolean(!no_bos));
    if (intervene) json_object_set_new(root, "intervene", json_string(intervene));
    json_t *jn = json_array();
    for (int k = 0; k < nn; k++) json_array_append_new(jn, json_pack("{sisI}", "layer", nr[k].layer, "neuron", (json_int_t)nr[k].neuron));
    json_object_set_new(root, "neurons", jn);
    static const char *keys[2] = {"base", "compare"};
    json_t *group = json_object(), *per = json_object();
    double mean_over[2] = {0, 0};
    for (int li = 0; li < nl; li++) {
        json_t *g = json_object(), *p = json_object();
        for (int mi = 0; mi < nm; mi++) {
            const double *row = v + ((size_t)mi * nl + li) * nn;
            double gm = group_mean(row, nn);
            mean_over[mi] += gm / nl;
            json_object_set_new(g, keys[mi], xgd_jreal(gm));
            json_t *a = json_array();
            for (int k = 0; k < nn; k++) json_array_append_new(a, xgd_jreal(row[k]));
            json_object_set_new(p, keys[mi], a);
        }
        json_object_set_new(group, langs[li], g);
        json_object_set_new(per, langs[li], p);
    }
    json_object_set_new(root, "per_language", group);
    json_t *mo = json_object();
    for (int mi = 0; mi < nm; mi++) json_object_set_new(mo, keys[mi], xgd_jreal(mean_over[mi]));
    json_object_set_new(root, "mean_over_languages", mo);
    json_object_set_new(root, "per_neuron", per);
    table(stdout, langs, nl, nr, nn, v, nm);
    rc = 0;
    if (output) {
        char *jp = xgd_path_join(output, "activations.json"), *tp = xgd_path_join(output, "activations.txt"), *sp = xgd_path_join(output, "activations.svg");
        rc = xgd_mkdir_p(output);
        if (rc == 0) rc = xgd_json_write(jp, root);
        if (rc == 0) {
            xgd_atomic_file af;
            rc = xgd_atomic_open(&af, tp);
            if (rc == 0) { table(af.fp, langs, nl, nr, nn, v, nm); rc = xgd_atomic_commit(&af); }
        }
        if (rc == 0) {
            double *gv = xgd_malloc(sizeof(double) * (size_t)nm * nl);
            for (int mi = 0; mi < nm; mi++)
                for (int li = 0; li < nl; li++) gv[mi * nl + li] = group_mean(v + ((size_t)mi * nl + li) * nn, nn);
            const char *series[2] = {"before (base)", "after (compare)"};
            xgd_chart c = {"Mean activation of the neuron group per language", "mean activation", "language",
                           nl, (const char *const *)langs, nm, series, gv};
            rc = xgd_svg_bars(sp, &c);
            free(gv);
        }
        free(jp); free(tp); free(sp);
    }
done:
    json_decref(root);
    xgd_intervention_free(iv);
    free(v);
    free(nr);
    xgd_free_list(langs);
    return rc == 0 ? 0 : cli_error();
}
