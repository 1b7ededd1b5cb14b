/* Conditional perplexity of generations (pipeline-spec.md §5.3, XD:xg/eval/metric_perplexity.py).
 *
 * The seed's metric (default), under an mT5 / T5 v1.1 encoder-decoder (google/mt5-xl):
 *   F = tok(prompt + generated_text), P = tok(prompt), both ending in </s>;
 *   meanCE(X) = model(input_ids=X, labels=X).loss: the encoder reads X and the decoder copies it
 *               ([start] + X[:-1] in, X out), mean over the |X| labels;
 *   ppl = exp((meanCE(F)*(|F|-1) - meanCE(P)*(|P|-1)) / (|F| - |P|))     (the (L-1) quirk kept)
 * computed in float32 as the seed's torch tensors are (|F| == |P| gives inf/nan). Generations that
 * are blank after Python's str.strip() are skipped; values >= 1e4 (and inf/nan) are dropped.
 * It is a copy-task likelihood, not the probability of the continuation given the prompt.
 *
 * The corrected metric (`corrected`): the mean negative log-likelihood of the continuation tokens
 * under a causal LM given the prompt, ppl = exp(-(1/|C|) sum_{t in C} log p(F[t] | F[:t])), with
 * F = tok(prompt + generated_text) and C the positions of F after the longest common prefix of F
 * and tok(prompt) (trailing special tokens such as </s> removed from both; position 0 never
 * counts, it has no context). The same blank skip and < 1e4 filter apply, so the two variants
 * keep comparable populations.
 *
 * xgd_ppl_file batches: the seed's copy losses run as right-padded encoder-decoder batches (each
 * F and each distinct consecutive P once), the corrected log-probs as left-padded causal batches;
 * both give each sequence what it gets alone (tests/model/test_t5.c checks the per-row losses). */
#ifndef XGD_EVAL_PERPLEXITY_H
#define XGD_EVAL_PERPLEXITY_H
#include <stddef.h>

typedef struct xgd_ppl xgd_ppl;

/* Open the evaluation model (folder or hub id in the local HF cache) and its tokenizer (or the
 * tokenizer given). Seed mode needs a T5/mT5 model, corrected mode a causal LM. */
xgd_ppl *xgd_ppl_open(const char *model, const char *tokenizer, int corrected);
void xgd_ppl_close(xgd_ppl *p);
/* The resolved model folder. */
const char *xgd_ppl_model_path(const xgd_ppl *p);

/* Perplexity of one continuation (texts of the given byte lengths). Inf/NaN are results, not
 * errors (they are filtered); -1 only on real errors (tokenizer, ids). */
int xgd_ppl_one(xgd_ppl *p, const char *prompt, size_t plen, const char *gen, size_t glen, float *ppl);
/* The seed's formula on the two mean losses, in float32 arithmetic. */
float xgd_ppl_seed_formula(float mean_f, size_t nf, float mean_p, size_t np);
/* Python's `not s.strip()`: every code point is whitespace by str.isspace(). */
int xgd_ppl_blank(const char *s, size_t len);
/* np.percentile(a, 100 q, method="midpoint") over an ascending array: the mean of the two
 * neighbours of position q(n-1). NaN when n == 0. */
double xgd_percentile_midpoint(const double *sorted, size_t n, double q);

typedef struct {
    size_t n_lines, n_blank, n_kept, n_dropped; /* n_lines etc. are 0 when resumed from a values file */
    int resumed;                                /* the values file existed: read back, not recomputed */
    double median, q1, q3, mean;                /* NaN when nothing was kept */
} xgd_ppl_result;

/* One generation file (JSONL {"prompt", "generated_text"} lines): the kept values (float32, file
 * order) are written atomically to values_path as .npy; when values_path already exists the file
 * is not recomputed and the saved values are summarised (the seed's skip of <stem>_ppl.pt). */
int xgd_ppl_file(xgd_ppl *p, const char *path, const char *values_path, double max_ppl, xgd_ppl_result *r);
/* Summary statistics of kept values (unrounded), and the seed's rounding to 2 decimals (numpy's). */
void xgd_ppl_stats(const float *v, size_t n, xgd_ppl_result *r);
void xgd_ppl_round(xgd_ppl_result *r);

#endif
