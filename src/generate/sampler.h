/* Token sampling with vLLM's semantics (0.4-0.5, sampler.py): logits in f32, divided by the
 * temperature, then top-k, then top-p (nucleus), then min-p, then a draw. temperature < 1e-5 is
 * greedy (argmax, lowest id on ties, as torch.argmax).
 *
 *   top-k: keep the tokens whose logit is >= the k-th largest (ties at the boundary are kept).
 *   top-p: over what top-k kept, in descending probability, keep token j iff the probability mass
 *          strictly before it is < p (so the largest is always kept). Ties in probability are
 *          ordered by token id (lower id first), a deterministic choice where torch's sort is not.
 *   min-p: drop tokens with probability < min_p * max probability.
 * The draw is categorical over the renormalised probabilities, by inversion of one uniform from
 * the sample's own Philox stream (vLLM's exponential race has the same distribution); with top-p
 * alone the inversion walks the nucleus in the order above, so a draw depends only on the logits
 * and the uniform, not on how the sampler finds the nucleus. */
#ifndef XGD_GENERATE_SAMPLER_H
#define XGD_GENERATE_SAMPLER_H
#include <stdint.h>
#include "base/rng.h"

typedef struct {
    float temperature;   /* < 1e-5: greedy */
    float top_p;         /* 1 = off */
    int top_k;           /* <= 0 or >= V: off (vLLM's -1) */
    float min_p;         /* 0 = off */
} xgd_sampling;

/* Scratch for one row of V logits; reuse it across calls. */
typedef struct { float *p, *e; int32_t *idx; double *hist; uint32_t hist_lo; int V; } xgd_sampler_work;
void xgd_sampler_work_init(xgd_sampler_work *w, int V);
void xgd_sampler_work_free(xgd_sampler_work *w);

/* The filtered, renormalised distribution: probs (V) gets the probability of every token after
 * temperature, top-k, top-p and min-p (0 for the dropped ones). For tests and for inspection. */
void xgd_sampling_probs(const float *logits, int V, const xgd_sampling *sp, xgd_sampler_work *w, float *probs);
/* Draw one token id. */
int32_t xgd_sample(const float *logits, int V, const xgd_sampling *sp, xgd_sampler_work *w, xgd_rng *rng);

#endif
