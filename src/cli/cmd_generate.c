/* xgd generate: N sampled continuations per prompt, vLLM's sampling semantics, the seed's files. */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/strlist.h"
#include "base/log.h"
#include "generate/detok.h"
#include "generate/generate.h"
#include "generate/output.h"
#include "generate/run.h"
#include "model/intervene.h"
#include "model/lora.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char **v; int n; } strlist;

static void push(strlist *l, const char *s) {
    l->v = xgd_realloc(l->v, sizeof(char *) * (size_t)(l->n + 1));
    l->v[l->n++] = xgd_strdup(s);
}

/* --prompt_file: a file, a folder (its *.json and *.jsonl files, sorted), or a comma-separated list. */
static int prompt_files(const char *arg, strlist *out) {
    int n, rc = 0;
    char **items = xgd_split_list(arg, ",", &n);
    for (int k = 0; k < n && rc == 0; k++) {
        const char *tok = items[k];
        if (xgd_is_dir(tok)) {
            static const char *const sfx[] = {".json", ".jsonl", NULL};
            char **found;
            size_t nf;
            rc = xgd_list_files(tok, sfx, &found, &nf);
            for (size_t i = 0; rc == 0 && i < nf; i++) push(out, found[i]);
            if (rc == 0) xgd_free_files(found, nf);
        } else if (xgd_is_file(tok)) push(out, tok);
        else rc = xgd_fail("%s: no such prompt file or folder", tok);
    }
    xgd_free_list(items);
    if (rc != 0) return -1;
    if (out->n == 0) return xgd_fail("--prompt_file %s: no prompt files found", arg);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *prompt_file = NULL, *model = NULL, *output_dir = NULL, *tokenizer = NULL, *intervene = NULL, *adapter = NULL;
    long N = 25, top_k = -1, max_tokens = 20, seed = 0, group = 0, limit = 0;
    double temperature = 0.9, top_p = 0.8, min_p = 0.0;
    int overwrite = 0, skip_bad = 0;
    const opt_spec opts[] = {
        {"prompt_file", OPT_STR, &prompt_file, "FILE|DIR|F1,F2", "prompt JSONL file(s) (\"Prompt\" or \"prompt\" per line); a folder means its *.json/*.jsonl files"},
        {"model", OPT_STR, &model, "MODEL", "checkpoint folder or hub id in the local HF cache"},
        {"output_dir", OPT_STR, &output_dir, "DIR", "writes DIR/<model name>/output-<prompt file stem, lower case>.json"},
        {"N", OPT_INT, &N, "25", "samples per prompt"},
        {"temperature", OPT_FLOAT, &temperature, "0.9", "softmax temperature; < 1e-5 is greedy"},
        {"top_p", OPT_FLOAT, &top_p, "0.8", "nucleus: keep the smallest set of top tokens whose mass reaches p (1 = off)"},
        {"top_k", OPT_INT, &top_k, "-1", "keep the k most likely tokens (-1 = off)"},
        {"min_p", OPT_FLOAT, &min_p, "0", "drop tokens below min_p times the top probability (0 = off)"},
        {"max_tokens", OPT_INT, &max_tokens, "20", "new tokens per sample (fewer if EOS comes first)"},
        {"seed", OPT_INT, &seed, "0", "random seed; sample k of prompt p has its own stream, so runs are reproducible"},
        {"tokenizer", OPT_STR, &tokenizer, "PATH", "tokenizer folder or file (default: the model folder)"},
        {"adapter", OPT_STR, &adapter, "DIR", "apply a PEFT LoRA adapter folder (unmerged)"},
        {"group", OPT_INT, &group, "G", "prompts decoded together (default: about 400 sequences per batch)"},
        {"intervene", OPT_STR, &intervene, "SPEC", "edit neurons at every position, e.g. 'layer.19.mlp.post_act[1234,77]+=5' or '...=0'; edits separated by commas"},
        {"limit", OPT_INT, &limit, "K", "only the first K prompts of each file"},
        {"overwrite", OPT_FLAG, &overwrite, NULL, "discard an existing output file instead of resuming it"},
        {"skip_bad_lines", OPT_FLAG, &skip_bad, NULL, "skip malformed prompt lines with a warning (default: stop with file:line)"},
        {0},
    };
    const cmd_spec spec = {"generate",
        "xgd generate --prompt_file FILE --model MODEL --output_dir DIR [--N 25] [--temperature 0.9] [--top_p 0.8] [--top_k K] [--max_tokens 20] [--seed S]",
        "Samples N continuations of every prompt with vLLM's semantics (temperature, then top-k, then top-p;\n"
        "prompts encoded with special tokens; text detokenized as vLLM does) and writes the seed pipeline's\n"
        "files: one line {\"prompt\": ..., \"generated_text\": ...} per sample, N per prompt, in input order.\n"
        "An interrupted run resumes where it stopped, without duplicating or losing lines.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "prompt_file", prompt_file) || args_require(&spec, "model", model) ||
        args_require(&spec, "output_dir", output_dir)) return 2;
    if (N < 1 || max_tokens < 0 || temperature < 0 || top_p <= 0 || top_p > 1 || min_p < 0 || min_p > 1) {
        fprintf(stderr, "xgd generate: error: need N >= 1, max_tokens >= 0, temperature >= 0, 0 < top_p <= 1, 0 <= min_p <= 1\n");
        return 2;
    }
    strlist files = {0};
    if (prompt_files(prompt_file, &files) != 0) return cli_error();
    xgd_model *m = NULL;
    xgd_tokenizer *tok = NULL;
    xgd_hooks hooks = {0};
    xgd_intervention *iv = NULL;
    xgd_adapter *lora = NULL;
    int rc = xgd_model_load(&m, model);
    if (rc == 0 && adapter) rc = xgd_adapter_load(&lora, m, adapter);
    if (rc == 0 && !(tok = xgd_tokenizer_load(tokenizer ? tokenizer : m->path))) rc = -1;
    if (rc == 0 && intervene && !(iv = xgd_intervention_parse(intervene, &hooks))) rc = -1;
    int32_t stops[16];
    xgd_gen_file_opts c = {.m = m, .tok = tok, .overwrite = overwrite, .skip_bad = skip_bad, .limit = limit};
    if (rc == 0) {
        c.o = (xgd_gen_opts){.N = (int)N, .max_tokens = (int)max_tokens, .seed = (uint64_t)seed,
                             .sp = {(float)temperature, (float)top_p, (int)top_k, (float)min_p},
                             .stop_ids = stops, .n_stop = xgd_gen_stop_ids(m, tok, stops),
                             .group = (int)group,
                             .hooks = intervene ? &hooks : NULL};
        xgd_progress bar;
        xgd_progress_start(&bar, "generate", 0, "prompts");
        for (int i = 0; i < files.n && rc == 0; i++) {
            char *out = xgd_gen_output_path(output_dir, model, files.v[i]);
            xgd_gen_file_stats st;
            rc = xgd_generate_file(&c, files.v[i], out, &bar, &st);
            if (rc == 0)
                printf("{\"prompt_file\": \"%s\", \"output\": \"%s\", \"prompts\": %lld, \"samples\": %d, \"resumed_after\": %lld, \"skipped_lines\": %ld}\n",
                       files.v[i], out, (long long)st.prompts, c.o.N, (long long)st.resumed_after, st.skipped_lines);
            free(out);
        }
        xgd_progress_end(&bar);
        if (rc == 0 && iv && xgd_intervention_out_of_range(iv))
            xgd_warn("--intervene: %ld edits named a neuron index beyond its hook's size and were ignored", xgd_intervention_out_of_range(iv));
    }
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    xgd_intervention_free(iv);
    xgd_adapter_free(lora);
    xgd_tokenizer_free(tok);
    xgd_model_free(m);
    return rc == 0 ? 0 : cli_error();
}
