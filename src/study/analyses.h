/* The study's analysis steps after generation (pipeline-spec §5, §6), each an `xgd` command run
 * through study/step.h, each opt-in by its key in the study file:
 *   diversity    xgd metrics diversity on the base and the tuned model's generations
 *   perplexity   xgd metrics perplexity (the seed's mT5 copy metric, or --corrected under a causal LM)
 *   probe        xgd probe (train_fp named, or the DPO pairs: chosen = 0, rejected = 1), or a given file
 *   vectors      xgd vectors: value vectors closest to the probe, kept filter, vocabulary projection
 *   activations  xgd activations: the vectors' neurons per language, base vs tuned (Figure 3)
 *   retrieval    xgd retrieval per hidden state on parallel texts named by the study
 * A step whose key is absent is recorded as "not configured (...)", so the report can say so. */
#ifndef XGD_STUDY_ANALYSES_H
#define XGD_STUDY_ANALYSES_H
#include "study/step.h"

typedef struct {
    const json_t *study;
    const char *out;              /* the study's output folder */
    const char *base, *tuned;     /* model folders (or hub ids) */
    const char *gen_base, *gen_tuned; /* generation folders */
    char **prompt_files;          /* the evaluation prompt files, one per language */
    int n_prompt_files;
    int N;                        /* generations per prompt */
} xgd_analyses;

int xgd_study_analyses(xgd_steps *s, const xgd_analyses *a);

#endif
