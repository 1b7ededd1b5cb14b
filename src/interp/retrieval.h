/* Cross-lingual alignment of sentence representations, per hidden state (xgd retrieval):
 *   paired_cos_mean: mean over aligned pairs i of cos(A_i, B_i); what the seed's
 *                    retrieval_acc_load.py prints as "Retrieval acc" (no search at all);
 *   retrieval_acc:   bilingual sentence retrieval, top-1: the fraction of i whose nearest
 *                    neighbour by cosine among all N candidates of the other language is i. */
#ifndef XGD_INTERP_RETRIEVAL_H
#define XGD_INTERP_RETRIEVAL_H
#include <stdint.h>

/* Row i of A and of B (stride floats apart, H used) are aligned. */
double xgd_paired_cos_mean(const float *A, const float *B, int64_t N, int H, int64_t stride);
/* Direction A -> B: for each A_i, argmax_j cos(A_i, B_j) == i (ties: the lowest j wins). */
double xgd_retrieval_acc(const float *A, const float *B, int64_t N, int H, int64_t stride);

#endif
