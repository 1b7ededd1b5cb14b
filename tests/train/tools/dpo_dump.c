/* Test tool: one DPO batch through the C implementation, for tests/train/test_dpo_objective.py.
 *   dpo_dump POLICY REF PAIRS.jsonl OUT_DIR LOSS BETA SMOOTHING MAX_LEN MAX_PROMPT
 * Tokenises the pairs with POLICY's tokenizer (TRL tokenize_row), computes reference log-probs with
 * REF and policy log-probs with POLICY, the loss and metrics, and the gradient of the loss; writes
 * OUT_DIR/batch.json (tokenised rows, log-probs, metrics) and OUT_DIR/grad/<name>.npy. */
#include "base/err.h"
#include "base/fs.h"
#include "base/npy.h"
#include "train/dpo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_ids(FILE *f, const char *key, const int32_t *v, int n) {
    fprintf(f, "\"%s\": [", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", v[i]);
    fprintf(f, "]");
}

int main(int argc, char **argv) {
    if (argc != 10) { fprintf(stderr, "usage: dpo_dump POLICY REF PAIRS OUT LOSS BETA SMOOTHING MAX_LEN MAX_PROMPT\n"); return 2; }
    xgd_model *pm, *rm;
    xgd_tokenizer *tok;
    xgd_dpo_set set;
    xgd_dpo_cfg cfg = {0};
    if (xgd_model_load(&pm, argv[1]) || xgd_model_load(&rm, argv[2]) || !(tok = xgd_tokenizer_load(argv[1])) ||
        xgd_dpo_read(argv[3], 0, 0, &set) || xgd_dpo_loss_parse(argv[5], &cfg.loss)) {
        fprintf(stderr, "dpo_dump: %s\n", xgd_errmsg());
        return 1;
    }
    cfg.beta = (float)atof(argv[6]);
    cfg.label_smoothing = (float)atof(argv[7]);
    cfg.pad_id = xgd_eos_id(tok);
    xgd_dpo_tok_opts o = {atoi(argv[8]), atoi(argv[9]), 0, xgd_bos_id(tok), xgd_eos_id(tok)};
    int B = (int)set.n;
    xgd_dpo_tok *toks = xgd_calloc((size_t)B, sizeof(xgd_dpo_tok));
    const xgd_dpo_tok **pairs = xgd_malloc(sizeof(*pairs) * (size_t)B);
    for (int i = 0; i < B; i++) {
        if (xgd_dpo_tokenize(tok, &set.rows[i], &o, &toks[i]) != 0) { fprintf(stderr, "dpo_dump: %s\n", xgd_errmsg()); return 1; }
        pairs[i] = &toks[i];
    }
    xgd_dpo_batch b;
    xgd_dpo_batch_build(&b, pairs, B, &cfg);
    double *lc = xgd_malloc(sizeof(double) * (size_t)B), *lr = xgd_malloc(sizeof(double) * (size_t)B);
    double *rc = xgd_malloc(sizeof(double) * (size_t)B), *rr = xgd_malloc(sizeof(double) * (size_t)B);
    double *dc = xgd_malloc(sizeof(double) * (size_t)B), *dr = xgd_malloc(sizeof(double) * (size_t)B), lgc, lgr;
    xgd_params rp, pp;
    xgd_params_init(&rp, rm);
    xgd_params_init(&pp, pm);
    xgd_tgraph *rg = xgd_tgraph_new(rm, &rp, 2 * B, b.L), *pg = xgd_tgraph_new(pm, &pp, 2 * B, b.L);
    xgd_dpo_metrics m;
    if (xgd_dpo_logps(rg, &b, &cfg, rc, rr, NULL, NULL) || xgd_dpo_logps(pg, &b, &cfg, lc, lr, &lgc, &lgr)) {
        fprintf(stderr, "dpo_dump: %s\n", xgd_errmsg());
        return 1;
    }
    xgd_dpo_objective(&cfg, B, lc, lr, rc, rr, &m, dc, dr);
    xgd_dpo_backward(pg, &b, &cfg, dc, dr, 1.0);
    char path[8192];
    snprintf(path, sizeof path, "%s/grad", argv[4]);
    xgd_mkdir_p(path);
    snprintf(path, sizeof path, "%s/batch.json", argv[4]);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"rows\": [");
    for (int i = 0; i < B; i++) {
        fprintf(f, "%s{", i ? ", " : "");
        print_ids(f, "chosen_input_ids", toks[i].c_ids, toks[i].c_len); fprintf(f, ", ");
        print_ids(f, "chosen_labels", toks[i].c_labels, toks[i].c_len); fprintf(f, ", ");
        print_ids(f, "rejected_input_ids", toks[i].r_ids, toks[i].r_len); fprintf(f, ", ");
        print_ids(f, "rejected_labels", toks[i].r_labels, toks[i].r_len);
        fprintf(f, ", \"policy_chosen_logps\": %.17g, \"policy_rejected_logps\": %.17g, \"reference_chosen_logps\": %.17g, "
                   "\"reference_rejected_logps\": %.17g}", lc[i], lr[i], rc[i], rr[i]);
    }
    fprintf(f, "], \"pad_id\": %d, \"metrics\": {\"loss\": %.17g, \"rewards/chosen\": %.17g, \"rewards/rejected\": %.17g, "
               "\"rewards/accuracies\": %.17g, \"rewards/margins\": %.17g, \"logps/chosen\": %.17g, \"logps/rejected\": %.17g, "
               "\"logits/chosen\": %.17g, \"logits/rejected\": %.17g}}\n",
            cfg.pad_id, m.loss, m.reward_chosen, m.reward_rejected, m.accuracy, m.margin, m.logp_chosen, m.logp_rejected, lgc, lgr);
    fclose(f);
    for (int i = 0; i < pp.n_info; i++) {
        snprintf(path, sizeof path, "%s/grad/%s.npy", argv[4], pp.info[i].name);
        xgd_npy_write(path, XGD_F32, pp.grad + pp.info[i].offset, pp.info[i].ndim, pp.info[i].shape);
    }
    xgd_tgraph_free(rg);
    xgd_tgraph_free(pg);
    xgd_params_free(&rp);
    xgd_params_free(&pp);
    xgd_dpo_batch_free(&b);
    for (int i = 0; i < B; i++) xgd_dpo_tok_free(&toks[i]);
    free(toks); free(pairs); free(lc); free(lr); free(rc); free(rr); free(dc); free(dr);
    xgd_dpo_set_free(&set);
    xgd_tokenizer_free(tok);
    xgd_model_free(pm);
    xgd_model_free(rm);
    return 0;
}
