/* xgd inspect: family, shapes, parameter count, dtypes and memory of a checkpoint. Besides the
 * decoder families of the engine it describes the two other kinds of model the study loads: the
 * mT5 encoder-decoder of the perplexity metric and the XLM-R classifier of the offline scorer. */
#include "cli/args.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/pyjson.h"
#include "io/checkpoint.h"
#include "model/model.h"
#include "model/t5.h"
#include "model/xlmr.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void human(char *buf, size_t n, double bytes) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) { bytes /= 1024; i++; }
    snprintf(buf, n, "%.2f %s", bytes, u[i]);
}

/* What every kind of checkpoint shares: tensor dtypes, parameters, bytes. */
typedef struct {
    size_t count[XGD_DTYPE_COUNT];
    long long params, bytes;
} tensor_stats;

static tensor_stats stats_of(const xgd_ckpt *c) {
    tensor_stats s = {{0}, 0, 0};
    for (size_t i = 0; i < xgd_ckpt_count(c); i++) {
        const xgd_tensor *t = xgd_ckpt_at(c, i);
        s.count[t->dtype]++;
        s.params += xgd_tensor_numel(t);
        s.bytes += (long long)t->nbytes;
    }
    return s;
}

static void print_dtypes_json(const size_t *count) {
    printf("\"dtypes\": {");
    int first = 1;
    for (int t = 0; t < XGD_DTYPE_COUNT; t++)
        if (count[t]) { printf("%s\"%s\": %zu", first ? "" : ", ", xgd_dtype_st_name((xgd_dtype)t), count[t]); first = 0; }
    printf("}");
}

static void print_dtypes_text(const size_t *count) {
    printf("dtypes     ");
    for (int t = 0; t < XGD_DTYPE_COUNT; t++)
        if (count[t]) printf(" %s x%zu", xgd_dtype_st_name((xgd_dtype)t), count[t]);
    printf("\n");
}

/* The head of the JSON object: path, family, format (all escaped as Python's json.dumps does). */
static void json_head(const char *path, const char *family, const char *format) {
    printf("{\"path\": ");
    xgd_pyjson_str(stdout, path);
    printf(", \"family\": ");
    xgd_pyjson_str(stdout, family);
    printf(", \"format\": ");
    xgd_pyjson_str(stdout, format);
}

/* The text table's first and last lines for the encoder models. */
static void text_head(const char *path, const char *family, const char *role, const char *format) {
    printf("model       %s\nfamily      %s (%s)\nformat      %s\n", path, family, role, format);
}

static void text_tail(const tensor_stats *s) {
    char a[32];
    human(a, sizeof a, (double)s->bytes);
    printf("parameters  %lld (%.3f B)\n", s->params, (double)s->params / 1e9);
    print_dtypes_text(s->count);
    printf("memory      weights %s (memory-mapped, kept in their dtype)\n", a);
}

static int inspect_decoder(const char *arg, int as_json, long ctx) {
    xgd_model *m;
    if (xgd_model_load(&m, arg) != 0) return -1;
    const xgd_hparams *hp = &m->hp;
    tensor_stats s = stats_of(m->ckpt);
    double kv_per_token = 2.0 * hp->n_layer * hp->n_kv * hp->head_dim * 4;
    double act_per_token = 4.0 * (8.0 * hp->hidden + 3.0 * hp->inter);
    if (as_json) {
        json_head(m->path, m->fam->model_type, xgd_ckpt_format(m->ckpt));
        printf(", \"vocab_size\": %d, \"hidden_size\": %d, \"num_layers\": %d, \"num_heads\": %d, \"num_kv_heads\": %d, "
               "\"head_dim\": %d, \"intermediate_size\": %d, \"max_positions\": %d, \"tied_head\": %s, \"parameters\": %lld, "
               "\"weight_bytes\": %lld, ",
               hp->vocab, hp->hidden, hp->n_layer, hp->n_head, hp->n_kv, hp->head_dim, hp->inter, hp->max_pos,
               hp->tied ? "true" : "false", (long long)m->n_params, (long long)m->weight_bytes);
        print_dtypes_json(s.count);
        printf(", \"kv_cache_bytes_per_token\": %.0f, \"context\": %ld}\n", kv_per_token, ctx);
    } else {
        char a[32], b[32], c[32];
        human(a, sizeof a, (double)m->weight_bytes);
        human(b, sizeof b, kv_per_token * (double)ctx);
        human(c, sizeof c, act_per_token * (double)ctx);
        printf("model       %s\nfamily      %s (%s)\nformat      %s\n", m->path, m->fam->model_type, m->fam->architecture, xgd_ckpt_format(m->ckpt));
        printf("shape       vocab %d, hidden %d, layers %d, heads %d (kv %d, head dim %d), mlp %d, positions %d\n",
               hp->vocab, hp->hidden, hp->n_layer, hp->n_head, hp->n_kv, hp->head_dim, hp->inter, hp->max_pos);
        printf("head        %s%s\n", hp->tied ? "tied to the input embedding" : "separate lm_head",
               hp->logit_scale != 1.0f ? ", logits scaled" : "");
        printf("parameters  %lld (%.3f B)\n", (long long)m->n_params, (double)m->n_params / 1e9);
        print_dtypes_text(s.count);
        printf("memory      weights %s (memory-mapped, kept in their dtype); per sequence of %ld tokens: KV cache %s, activations %s\n", a, ctx, b, c);
    }
    xgd_model_free(m);
    return 0;
}

static int inspect_t5(const char *arg, int as_json) {
    xgd_t5 *m;
    if (xgd_t5_load(&m, arg) != 0) return -1;
    const xgd_t5_hparams *hp = &m->hp;
    tensor_stats s = stats_of(m->ckpt);
    const char *mt = json_string_value(json_object_get(m->config, "model_type"));
    const char *ff = hp->gated ? "gated-gelu" : "relu";
    if (as_json) {
        json_head(m->path, mt ? mt : "t5", xgd_ckpt_format(m->ckpt));
        printf(", \"vocab_size\": %d, \"d_model\": %d, \"d_ff\": %d, \"d_kv\": %d, \"num_heads\": %d, \"encoder_layers\": %d, "
               "\"decoder_layers\": %d, \"relative_attention_num_buckets\": %d, \"feed_forward_proj\": \"%s\", "
               "\"parameters\": %lld, \"weight_bytes\": %lld, ",
               hp->vocab, hp->d_model, hp->d_ff, hp->d_kv, hp->n_head, hp->n_enc, hp->n_dec, hp->buckets, ff, s.params, s.bytes);
        print_dtypes_json(s.count);
        printf("}\n");
    } else {
        text_head(m->path, mt ? mt : "t5", "encoder-decoder: xgd metrics perplexity --eval_model_id", xgd_ckpt_format(m->ckpt));
        printf("shape       vocab %d, d_model %d, encoder layers %d, decoder layers %d, heads %d (d_kv %d), d_ff %d (%s), buckets %d\n",
               hp->vocab, hp->d_model, hp->n_enc, hp->n_dec, hp->n_head, hp->d_kv, hp->d_ff, ff, hp->buckets);
        printf("head        %s\n", m->lm_head.data == m->shared.data ? "tied to the shared embedding" : "separate lm_head");
        text_tail(&s);
    }
    xgd_t5_free(m);
    return 0;
}

static int inspect_xlmr(const char *arg, int as_json) {
    xgd_xlmr *m;
    if (xgd_xlmr_load(&m, arg) != 0) return -1;
    tensor_stats s = stats_of(m->ckpt);
    const char *mt = json_string_value(json_object_get(m->config, "model_type"));
    int toxic = xgd_xlmr_toxic_label(m);
    if (as_json) {
        json_head(m->path, mt ? mt : "xlm-roberta", xgd_ckpt_format(m->ckpt));
        printf(", \"vocab_size\": %d, \"hidden_size\": %d, \"num_layers\": %d, \"num_heads\": %d, \"intermediate_size\": %d, "
               "\"max_positions\": %d, \"labels\": [", m->vocab, m->hidden, m->n_layer, m->n_head, m->inter, m->max_pos);
        for (int i = 0; i < m->n_labels; i++) { if (i) printf(", "); xgd_pyjson_str(stdout, m->labels[i]); }
        printf("], \"toxic_label\": %d, \"parameters\": %lld, \"weight_bytes\": %lld, ", toxic, s.params, s.bytes);
        print_dtypes_json(s.count);
        printf("}\n");
    } else {
        text_head(m->path, mt ? mt : "xlm-roberta", "sequence classifier: xgd score --backend classifier", xgd_ckpt_format(m->ckpt));
        printf("shape       vocab %d, hidden %d, layers %d, heads %d, mlp %d, positions %d\n",
               m->vocab, m->hidden, m->n_layer, m->n_head, m->inter, m->max_pos);
        printf("labels     ");
        for (int i = 0; i < m->n_labels; i++) printf(" %d=%s%s", i, m->labels[i], i == toxic ? " (scored as toxic)" : "");
        printf("\n");
        text_tail(&s);
    }
    xgd_xlmr_free(m);
    return 0;
}

/* Which loader a folder needs, from its config.json's model_type (the decoder loader reports
 * anything else, with the families it knows). */
static int kind_of(const char *arg) {
    char *dir = xgd_resolve_model(arg);
    if (!dir) return -1;
    char *cpath = xgd_path_join(dir, "config.json");
    json_t *cfg = xgd_is_file(cpath) ? xgd_json_load(cpath) : NULL;
    int kind = cfg && xgd_t5_is_config(cfg) ? 1 : cfg && xgd_xlmr_is_config(cfg) ? 2 : 0;
    json_decref(cfg);
    free(cpath);
    free(dir);
    return kind;
}

int cmd_inspect(int argc, char **argv) {
    int as_json = 0;
    long ctx = 2048;
    const opt_spec opts[] = {
        {"json", OPT_FLAG, &as_json, NULL, "print one JSON object instead of the table"},
        {"context", OPT_INT, &ctx, "T", "tokens per sequence for the KV-cache estimate (default 2048; decoders only)"},
        {0},
    };
    const cmd_spec spec = {"inspect", "xgd inspect MODEL [--json] [--context T]",
        "Loads MODEL (a folder or a hub id in the local Hugging Face cache), checks every tensor against\n"
        "its config, and prints the family, shapes, parameter count, dtypes and the memory needed.\n"
        "Decoders (gpt2/mGPT, bloom, llama, cohere), the mT5/T5 encoder-decoder used by the perplexity metric\n"
        "and XLM-R sequence classifiers used by the offline scorer are recognised from config.json.", opts, 1, 1};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    int kind = kind_of(pos[0]);
    int rc = kind < 0 ? -1 : kind == 1 ? inspect_t5(pos[0], as_json) : kind == 2 ? inspect_xlmr(pos[0], as_json)
                                                                                   : inspect_decoder(pos[0], as_json, ctx);
    return rc == 0 ? 0 : cli_error();
}
