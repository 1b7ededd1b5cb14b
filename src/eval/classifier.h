/* Offline toxicity scoring with a local Hugging Face sequence classifier of the XLM-RoBERTa family
 * (e.g. textdetox/xlmr-large-toxicity-classifier): the tokenizer and model of one folder, texts
 * scored in batches, the probability of the label named toxic (model/xlmr.h: id2label "toxic" in
 * any case, else "toxicity", else label 1).
 *
 * Tokenization is what transformers' text-classification pipeline does: tok(text) with the special
 * tokens, truncated (right) to the positions the model has (max_position_embeddings - pad - 1,
 * 512 for XLM-R), right-padded with the model's pad id within a batch.
 *
 *   xgd_classifier *c = xgd_classifier_open("path/or/org/name");
 *   double p[n]; xgd_classifier_score(c, texts, n, p);  ...  xgd_classifier_close(c);
 *
 * Wiring into `xgd score --backend classifier --model DIR` (src/eval/score.c, not done here): open
 * the classifier once in the scorer's open, call xgd_classifier_score on a batch of pending texts,
 * and write each as {"attributeScores": {"TOXICITY": {"summaryScore": {"value": p, "type":
 * "PROBABILITY"}}}, "xgd_backend": xgd_classifier_backend(c)} so the toxicity metric reads it. */
#ifndef XGD_EVAL_CLASSIFIER_H
#define XGD_EVAL_CLASSIFIER_H
#include <stddef.h>

typedef struct xgd_classifier xgd_classifier;

/* Load the model and the tokenizer of a folder (or a hub id in the local HF cache). NULL on error
 * (xgd_errmsg names the file). */
xgd_classifier *xgd_classifier_open(const char *path_or_id);
void xgd_classifier_close(xgd_classifier *c);
/* out_probs[i] = P(toxic | texts[i]) for n NUL-terminated UTF-8 texts. */
int xgd_classifier_score(xgd_classifier *c, const char *const *texts, size_t n, double *out_probs);
/* Texts per forward pass (default 16); results do not depend on it. */
void xgd_classifier_set_batch(xgd_classifier *c, int batch);
/* The id2label name of the label reported, and a backend string "classifier/<folder name>:<label>". */
const char *xgd_classifier_label(const xgd_classifier *c);
const char *xgd_classifier_backend(const xgd_classifier *c);

#endif
