/* Neuron activations during greedy generation, the seed's procedure (collect_neuron_activations):
 * each prompt gets BOS prepended; batches are left padded; for `steps` steps the batch runs
 * forward, the post-activation of each named MLP neuron is recorded at the LAST position, and the
 * argmax token is appended. So the records are the activation at the last prompt token (step 0)
 * and at generated tokens 1..steps-1; the last generated token is never fed back. A KV cache
 * replaces the seed's full re-forward at each step (the same values up to float rounding). */
#ifndef XGD_INTERP_NEURONS_H
#define XGD_INTERP_NEURONS_H
#include "model/runtime.h"
#include "tokenize/tokenizer.h"

typedef struct { int layer; int64_t neuron; } xgd_neuron;

/* Neurons from JSON: a list of {"layer": l, "neuron": i} objects or [l, i] pairs, or an object
 * holding such a list under "neurons", "kept" or "vectors" (the output of xgd vectors: "kept"
 * when it was filtered, else "vectors"). Checked against the model when m is non-NULL. */
int xgd_neurons_load(const char *path, const xgd_model *m, xgd_neuron **out, int *n);

typedef struct {
    int steps;                 /* records per prompt (20 in the seed) */
    int batch;                 /* prompts per batch (10 in the seed) */
    const xgd_hooks *extra;    /* hooks run before the recorder (interventions), or NULL */
} xgd_record_opts;

/* prompts[p] (lens[p] ids, BOS already prepended by the caller). mean (nn) = the mean over all
 * prompts and steps of each neuron's recorded activation. If gen is non-NULL it receives the
 * generated ids, (np, steps) (the argmax at each step). */
int xgd_neuron_means(const xgd_model *m, const int32_t *const *prompts, const int *lens, int64_t np,
                     const xgd_neuron *nr, int nn, const xgd_record_opts *o, double *mean, int32_t *gen);

/* Encode prompts as TransformerLens' to_tokens does with prepend_bos: bos (if >= 0) then the
 * text's ids without other special tokens, truncated on the right to max_len > 0. (*seqs)[p] and
 * *lens are malloc'ed; free with xgd_prompt_ids_free. */
int xgd_prompt_ids(const xgd_tokenizer *tok, const char *const *texts, int64_t n, int32_t bos, int max_len,
                   int32_t ***seqs, int **lens);
void xgd_prompt_ids_free(int32_t **seqs, int *lens, int64_t n);
/* The BOS id TransformerLens prepends: the tokenizer's, else the model config's; -1 if neither. */
int32_t xgd_prompt_bos(const xgd_tokenizer *tok, const xgd_model *m);

#endif
