/* xgd vectors: the MLP value vectors closest to a probe direction (the seed's
 * get_top_toxic_value_vectors), optionally kept only when they activate on generated text, and
 * their projection onto the vocabulary. */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "generate/prompts.h"
#include "interp/neurons.h"
#include "interp/probe.h"
#include "interp/report.h"
#include "interp/vectors.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Top k tokens of one row of vocabulary scores, as a JSON list. */
static json_t *top_tokens(const xgd_model *m, const xgd_tokenizer *tok, const float *scores, int k, int64_t *top) {
    xgd_topk(scores, m->hp.vocab, k, top);
    json_t *a = json_array();
    for (int j = 0; j < k && j < m->hp.vocab; j++) {
        json_t *o = json_object();
        int32_t id = (int32_t)top[j];
        json_object_set_new(o, "id", json_integer(id));
        char *s = tok && id < xgd_vocab_size(tok) ? xgd_decode(tok, &id, 1, 0, -1) : NULL;
        json_object_set_new(o, "text", s ? json_string(s) : json_null());
        free(s);
        json_object_set_new(o, "score", xgd_jreal(scores[top[j]]));
        json_array_append_new(a, o);
    }
    return a;
}

/* The table: rank, layer, neuron, cosine, mean activation, the first tokens of the projection. */
static void table(FILE *f, const json_t *vecs, int filtered) {
    fprintf(f, "%4s %6s %7s %8s %9s %4s  %s\n", "rank", "layer", "neuron", "cos", "mean_act", "kept", "top tokens");
    size_t i;
    json_t *e;
    json_array_foreach(vecs, i, e) {
        json_t *ma = json_object_get(e, "mean_act");
        fprintf(f, "%4lld %6lld %7lld %8.4f ", (long long)json_integer_value(json_object_get(e, "rank")),
                (long long)json_integer_value(json_object_get(e, "layer")), (long long)json_integer_value(json_object_get(e, "neuron")),
                json_real_value(json_object_get(e, "cos")));
        if (filtered && json_is_real(ma)) fprintf(f, "%9.5f %4s  ", json_real_value(ma), json_is_true(json_object_get(e, "kept")) ? "yes" : "no");
        else fprintf(f, "%9s %4s  ", "-", filtered ? "no" : "-");
        json_t *toks = json_object_get(e, "top_tokens");
        size_t j;
        json_t *t;
        json_array_foreach(toks, j, t) {
            if (j >= 8) { fputs(" ...", f); break; }
            const char *s = json_string_value(json_object_get(t, "text"));
            if (s) { fputs(j ? " " : "", f); fputc('\'', f); for (; *s; s++) fputs(*s == '\n' ? "\\n" : (char[2]){*s, 0}, f); fputc('\'', f); }
            else fprintf(f, "%s#%lld", j ? " " : "", (long long)json_integer_value(json_object_get(t, "id")));
        }
        fputc('\n', f);
    }
}

int cmd_vectors(int argc, char **argv) {
    const char *model = NULL, *probe = NULL, *prompts_fp = NULL, *output = NULL, *tokenizer = NULL;
    long topk = 100, steps = 20, project = 30, batch = 10, max_prompts = 0;
    int no_bos = 0;
    const opt_spec opts[] = {
        {"model", OPT_STR, &model, "MODEL", "checkpoint folder or hub id in the local HF cache"},
        {"probe", OPT_STR, &probe, "FILE", "probe direction: best-probe.npy from xgd probe, or the seed's english-probe.pt (torch zip)"},
        {"topk", OPT_INT, &topk, "K", "value vectors with the highest cosine similarity to the probe (default 100)"},
        {"prompts", OPT_STR, &prompts_fp, "FILE", "JSONL prompts (\"Prompt\" or \"prompt\"): keep only vectors whose neuron's mean activation over greedy steps is > 0 (the paper: English RTP-LX)"},
        {"steps", OPT_INT, &steps, "N", "greedy steps per prompt for the filter (default 20; records at the last prompt token and 19 generated ones)"},
        {"batch", OPT_INT, &batch, "N", "prompts per batch for the filter (default 10, left padded)"},
        {"max_prompts", OPT_INT, &max_prompts, "N", "use only the first N prompts (default all)"},
        {"no_bos", OPT_FLAG, &no_bos, NULL, "do not prepend BOS to the prompts (TransformerLens prepends it)"},
        {"project", OPT_INT, &project, "K", "top tokens of each kept vector's vocabulary projection (default 30)"},
        {"tokenizer", OPT_STR, &tokenizer, "PATH", "tokenizer folder or file (default: the model folder)"},
        {"output", OPT_STR, &output, "DIR", "write vectors.json and vectors.txt there (the table also goes to stdout)"},
        {0},
    };
    const cmd_spec spec = {"vectors", "xgd vectors --model MODEL --probe FILE [--topk 100] [--prompts FILE --steps 20] [--project 30] [--output DIR]",
        "Cosine similarity of every MLP value vector (the output-projection weights of one neuron: GPT-2 c_proj rows, BLOOM/Llama/\n"
        "Cohere down-projection columns) with the probe, over all layers; the top K in descending order. With --prompts, the mean\n"
        "post-activation of each of those neurons over greedily generated tokens (xgd activations' procedure) and the kept ones\n"
        "(mean > 0; the paper keeps 36 of 100 for mGPT). Each kept vector is projected onto the vocabulary (raw head weights, no\n"
        "final norm) and its top tokens decoded.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "model", model) || args_require(&spec, "probe", probe)) return 2;
    if (topk < 1 || steps < 1 || project < 0 || batch < 1) { fprintf(stderr, "xgd vectors: error: --topk, --steps, --batch must be >= 1, --project >= 0\n"); return 2; }
    xgd_model *m = NULL;
    xgd_tokenizer *tok = NULL;
    float *w = NULL, *cos = NULL, *v = NULL, *scores = NULL;
    int64_t *top = NULL, *ptop = NULL;
    double *mean = NULL;
    xgd_neuron *nr = NULL;
    json_t *root = NULL;
    xgd_prompts pr = {0};
    int H = 0, rc = -1;
    if (xgd_probe_load(probe, &w, &H) != 0) return cli_error();
    if (xgd_model_load(&m, model) != 0) goto done;
    if (H != m->hp.hidden) { xgd_fail("%s has %d values, the model's hidden size is %d", probe, H, m->hp.hidden); goto done; }
    tok = xgd_tokenizer_load(tokenizer ? tokenizer : m->path);
    if (!tok) {
        if (prompts_fp || tokenizer) goto done;
        xgd_warn("no tokenizer (%s): the projection lists token ids only", xgd_errmsg());
    }
    int L = m->hp.n_layer;
    int64_t F = m->hp.inter, G = (int64_t)L * F;
    if (topk > G) topk = G;
    cos = xgd_malloc(sizeof(float) * (size_t)G);
    for (int l = 0; l < L; l++) xgd_value_cosines(m, l, w, cos + (int64_t)l * F);
    top = xgd_malloc(sizeof(int64_t) * (size_t)topk);
    xgd_topk(cos, G, (int)topk, top);
    nr = xgd_malloc(sizeof(xgd_neuron) * (size_t)topk);
    for (long k = 0; k < topk; k++) nr[k] = (xgd_neuron){(int)(top[k] / F), top[k] % F};
    if (prompts_fp) {
        if (xgd_prompts_read(prompts_fp, 0, &pr) != 0) goto done;
        int64_t np = max_prompts > 0 && max_prompts < pr.n ? max_prompts : pr.n;
        int32_t **seqs;
        int *lens;
        int32_t bos = no_bos ? -1 : xgd_prompt_bos(tok, m);
        if (!no_bos && bos < 0) { xgd_fail("the tokenizer and config define no BOS token (use --no_bos)"); goto done; }
        if (xgd_prompt_ids(tok, (const char *const *)pr.text, np, bos, m->hp.max_pos - (int)steps, &seqs, &lens) != 0) goto done;
        mean = xgd_malloc(sizeof(double) * (size_t)topk);
        xgd_record_opts ro = {(int)steps, (int)batch, NULL};
        int e = xgd_neuron_means(m, (const int32_t *const *)seqs, lens, np, nr, (int)topk, &ro, mean, NULL);
        xgd_prompt_ids_free(seqs, lens, np);
        if (e != 0) goto done;
    }
    /* the kept vectors projected together: one pass over the head instead of one per vector */
    int64_t nk = 0, V = m->hp.vocab;
    for (long k = 0; k < topk; k++) nk += !mean || mean[k] > 0;
    if (project > 0 && nk > 0) {
        v = xgd_malloc(sizeof(float) * (size_t)nk * (size_t)H);
        scores = xgd_malloc(sizeof(float) * (size_t)nk * (size_t)V);
        for (long k = 0, j = 0; k < topk; k++)
            if (!mean || mean[k] > 0) xgd_value_vector(m, nr[k].layer, nr[k].neuron, v + (size_t)(j++) * H);
        xgd_vocab_project_n(m, v, nk, scores);
    }
    ptop = xgd_malloc(sizeof(int64_t) * (size_t)(project ? project : 1));
    root = json_object();
    json_object_set_new(root, "model", json_string(m->path));
    json_object_set_new(root, "probe", json_string(probe));
    json_object_set_new(root, "topk", json_integer(topk));
    if (prompts_fp) {
        json_object_set_new(root, "prompts", json_string(prompts_fp));
        json_object_set_new(root, "steps", json_integer(steps));
    }
    json_t *vecs = json_array(), *kept = json_array();
    for (long k = 0, j = 0; k < topk; k++) {
        json_t *o = json_object();
        int keep = !mean || mean[k] > 0;
        json_object_set_new(o, "rank", json_integer(k + 1));
        json_object_set_new(o, "layer", json_integer(nr[k].layer));
        json_object_set_new(o, "neuron", json_integer(nr[k].neuron));
        json_object_set_new(o, "cos", xgd_jreal(cos[top[k]]));
        if (mean) {
            json_object_set_new(o, "mean_act", xgd_jreal(mean[k]));
            json_object_set_new(o, "kept", json_boolean(keep));
        }
        if (keep && project > 0) json_object_set_new(o, "top_tokens", top_tokens(m, tok, scores + (size_t)(j++) * V, (int)project, ptop));
        if (keep) json_array_append_new(kept, json_pack("{sisI}", "layer", nr[k].layer, "neuron", (json_int_t)nr[k].neuron));
        json_array_append_new(vecs, o);
    }
    json_object_set_new(root, "vectors", vecs);
    if (mean) json_object_set_new(root, "kept", kept);
    else json_decref(kept);
    table(stdout, vecs, mean != NULL);
    if (mean) printf("kept %zu of %ld (mean activation > 0)\n", json_array_size(json_object_get(root, "kept")), topk);
    rc = 0;
    if (output) {
        char *jp = xgd_path_join(output, "vectors.json"), *tp = xgd_path_join(output, "vectors.txt");
        rc = xgd_mkdir_p(output);
        if (rc == 0) rc = xgd_json_write(jp, root);
        if (rc == 0) {
            xgd_atomic_file af;
            rc = xgd_atomic_open(&af, tp);
            if (rc == 0) { table(af.fp, vecs, mean != NULL); rc = xgd_atomic_commit(&af); }
        }
        free(jp);
        free(tp);
    }
done:
    json_decref(root);
    xgd_prompts_free(&pr);
    free(w); free(cos); free(v); free(scores); free(top); free(ptop); free(mean); free(nr);
    xgd_tokenizer_free(tok);
    xgd_model_free(m);
    return rc == 0 ? 0 : cli_error();
}
