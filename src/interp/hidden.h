/* Pooled hidden states of a frozen model, one vector per sequence and per selected hidden state,
 * for the probe (xgd probe) and the cross-lingual alignment measures (xgd retrieval).
 *
 * Hidden-state indices follow transformers' output_hidden_states: 0 = the embedding output,
 * l in 1..L-1 = the output of block l-1, L = the last block's output after the final norm (what
 * model.transformer(...)[0] returns). Sequences of one call are left padded into one batch; the
 * pad slots are masked, so each sequence's pooled vectors equal those of the sequence alone. */
#ifndef XGD_INTERP_HIDDEN_H
#define XGD_INTERP_HIDDEN_H
#include "model/runtime.h"
#include "tokenize/tokenizer.h"

typedef enum { XGD_POOL_AVG = 0, XGD_POOL_LAST = 1 } xgd_pooling;

/* Parse "avg"/"mean" or "last"; -1 otherwise. */
int xgd_pooling_parse(const char *s);

/* One forward over B sequences (seqs[b] has lens[b] >= 1 ids). out (B, nsel, H): for sequence b and
 * selected index sel[j], the mean over its tokens (AVG) or its last token (LAST). */
int xgd_pool_hidden(const xgd_model *m, const int32_t *const *seqs, const int *lens, int B,
                    const int *sel, int nsel, xgd_pooling pool, float *out);

/* Encode n texts (add_special as tok(text) does; truncated on the right to max_len > 0 tokens)
 * and pool them batch by batch: out (n, nsel, H) in input order. Texts are grouped by length,
 * at most `batch` per forward and about batch x 256 tokens; only one batch's activations are
 * held. A text that encodes to no tokens is an error naming its index. */
int xgd_pool_texts(const xgd_model *m, const xgd_tokenizer *tok, const char *const *texts, int64_t n, int batch,
                   int add_special, int max_len, const int *sel, int nsel, xgd_pooling pool, float *out);

#endif
