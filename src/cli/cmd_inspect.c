/* xgd inspect: family, shapes, parameter count, dtypes and memory of a checkpoint. */
#include "cli/args.h"
#include "model/model.h"
#include <stdio.h>
#include <string.h>

static void human(char *buf, size_t n, double bytes) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) { bytes /= 1024; i++; }
    snprintf(buf, n, "%.2f %s", bytes, u[i]);
}

int cmd_inspect(int argc, char **argv) {
    int as_json = 0;
    long ctx = 2048;
    const opt_spec opts[] = {
        {"json", OPT_FLAG, &as_json, NULL, "print one JSON object instead of the table"},
        {"context", OPT_INT, &ctx, "T", "tokens per sequence for the KV-cache estimate (default 2048)"},
        {0},
    };
    const cmd_spec spec = {"inspect", "xgd inspect MODEL [--json] [--context T]",
        "Loads MODEL (a folder or a hub id in the local Hugging Face cache), checks every tensor against\n"
        "its config, and prints the family, shapes, parameter count, dtypes and the memory needed.", opts, 1, 1};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    xgd_model *m;
    if (xgd_model_load(&m, pos[0]) != 0) return cli_error();
    const xgd_hparams *hp = &m->hp;
    /* dtypes of the stored tensors */
    size_t count[XGD_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < xgd_ckpt_count(m->ckpt); i++) count[xgd_ckpt_at(m->ckpt, i)->dtype]++;
    double kv_per_token = 2.0 * hp->n_layer * hp->n_kv * hp->head_dim * 4;
    double act_per_token = 4.0 * (8.0 * hp->hidden + 3.0 * hp->inter);
    if (as_json) {
        printf("{\"path\": \"%s\", \"family\": \"%s\", \"format\": \"%s\", \"vocab_size\": %d, \"hidden_size\": %d, "
               "\"num_layers\": %d, \"num_heads\": %d, \"num_kv_heads\": %d, \"head_dim\": %d, \"intermediate_size\": %d, "
               "\"max_positions\": %d, \"tied_head\": %s, \"parameters\": %lld, \"weight_bytes\": %lld, \"dtypes\": {",
               m->path, m->fam->model_type, xgd_ckpt_format(m->ckpt), hp->vocab, hp->hidden, hp->n_layer, hp->n_head,
               hp->n_kv, hp->head_dim, hp->inter, hp->max_pos, hp->tied ? "true" : "false",
               (long long)m->n_params, (long long)m->weight_bytes);
        int first = 1;
        for (int t = 0; t < XGD_DTYPE_COUNT; t++)
            if (count[t]) { printf("%s\"%s\": %zu", first ? "" : ", ", xgd_dtype_st_name((xgd_dtype)t), count[t]); first = 0; }
        printf("}, \"kv_cache_bytes_per_token\": %.0f, \"context\": %ld}\n", kv_per_token, ctx);
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
        printf("parameters  %lld (%.3f B)\ndtypes     ", (long long)m->n_params, (double)m->n_params / 1e9);
        for (int t = 0; t < XGD_DTYPE_COUNT; t++)
            if (count[t]) printf(" %s x%zu", xgd_dtype_st_name((xgd_dtype)t), count[t]);
        printf("\nmemory      weights %s (memory-mapped, kept in their dtype); per sequence of %ld tokens: KV cache %s, activations %s\n", a, ctx, b, c);
    }
    xgd_model_free(m);
    return 0;
}
