/* MLP value vectors: the output-projection weights of one neuron, i.e. what neuron i of layer l
 * adds to the residual stream per unit of its activation (Geva et al.). For GPT-2's Conv1D c_proj,
 * stored (F, H), it is row i; for BLOOM/Llama/Cohere's nn.Linear down projection, stored (H, F),
 * column i. Weights may be f32, f16 or bf16; values here are f32. */
#ifndef XGD_INTERP_VECTORS_H
#define XGD_INTERP_VECTORS_H
#include "model/model.h"

/* Value vector of neuron i of layer l into v (H). */
void xgd_value_vector(const xgd_model *m, int l, int64_t i, float *v);

/* cos (F) = cosine of every value vector of layer l with w (H), as torch.cosine_similarity does:
 * dot / max(|a|·|w|, 1e-8). */
void xgd_value_cosines(const xgd_model *m, int l, const float *w, float *cos);

/* Indices of the k largest of x (n), in descending order (equal values: lower index first). */
void xgd_topk(const float *x, int64_t n, int k, int64_t *idx);

/* Vocabulary projection of a residual-stream direction v (H): scores (V) = head·v (raw head
 * weights: no final norm, no centering; Cohere's logit_scale applied as its logits do). */
void xgd_vocab_project(const xgd_model *m, const float *v, float *scores);
/* The same for n directions at once, v (n, H) -> scores (n, V): one pass over the head. */
void xgd_vocab_project_n(const xgd_model *m, const float *v, int64_t n, float *scores);

#endif
