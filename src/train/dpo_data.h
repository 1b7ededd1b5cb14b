/* DPO data: preference pairs read from every *.jsonl of a folder (sorted by name, a deliberate
 * fix of the seed's unsorted glob), in the toxicity_pairwise layout (prompt_text /
 * unpert_gen_text = chosen / pert_gen_text = rejected) or the prompt / chosen / rejected layout;
 * the seed's character-length filter; a seeded eval split; and TRL 0.8.6's tokenisation of each
 * pair (tokenize_row), which decides the label masks. */
#ifndef XGD_TRAIN_DPO_DATA_H
#define XGD_TRAIN_DPO_DATA_H
#include <stdint.h>
#include "tokenize/tokenizer.h"

typedef struct { char *prompt, *chosen, *rejected; char *file; long line; } xgd_dpo_pair;

typedef struct {
    xgd_dpo_pair *rows;
    int64_t n;
    int64_t read, filtered;     /* rows read, rows dropped by the length filter */
} xgd_dpo_set;

/* Read every *.jsonl in dir (or one file). A malformed row is an error naming file:line, or with
 * skip_bad a warning. Rows with len(prompt)+len(answer) > max_chars code points for either answer
 * are dropped (the seed's filter, 256; <= 0 disables it). */
int xgd_dpo_read(const char *dir, int max_chars, int skip_bad, xgd_dpo_set *out);
void xgd_dpo_set_free(xgd_dpo_set *s);
/* Split into train and eval: n_eval = ceil(frac * n) rows chosen by a seeded shuffle (datasets'
 * train_test_split uses numpy's PCG64 permutation, which is not reproduced: same sizes, another
 * random choice). Row pointers are shared with s (do not free the halves' strings). */
void xgd_dpo_split(const xgd_dpo_set *s, double frac, uint64_t seed, xgd_dpo_set *train, xgd_dpo_set *eval);

/* One tokenised pair, TRL 0.8.6 tokenize_row (pipeline-spec §1.2): BOS + prompt + answer + EOS,
 * prompt tokens taken from the joint tokenisation, keep_end / keep_start truncation, labels -100
 * over the prompt. */
typedef struct {
    int32_t *c_ids, *c_labels, *r_ids, *r_labels;
    int c_len, r_len, prompt_len;
} xgd_dpo_tok;

typedef struct { int max_length, max_prompt_length, keep_start; int32_t bos, eos; } xgd_dpo_tok_opts;

int xgd_dpo_tokenize(const xgd_tokenizer *t, const xgd_dpo_pair *p, const xgd_dpo_tok_opts *o, xgd_dpo_tok *out);
void xgd_dpo_tok_free(xgd_dpo_tok *x);

#endif
