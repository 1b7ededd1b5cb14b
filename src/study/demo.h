/* `xgd demo`: the paper's study in miniature, offline, from the project's own code and data
 * (study/demo_lang.h): pretrain a tiny GPT-2-family model on five synthetic languages (English
 * and four word-for-word mappings into other scripts, with parallel sentences), preference-tune it
 * with DPO on English pairs only, then sample continuations of parallel prompts in every language
 * before and after, score them with the lexicon scorer, and report per language whether the
 * English-only DPO lowered toxicity there too. Everything after pretraining is a study file
 * (OUT/study.json) run by `xgd run`'s code, with every analysis on: diversity, perplexity under
 * the base model, a probe trained on the DPO pairs, value vectors, the toxic neurons' activations
 * per language before and after, retrieval on the parallel prompts; then `xgd report`. The
 * pretrained model is cached under the output folder, and complete steps are skipped, so a second
 * run is fast; the seed fixes every random choice. */
#ifndef XGD_STUDY_DEMO_H
#define XGD_STUDY_DEMO_H
#include <stdint.h>

typedef struct {
    const char *out_dir;
    uint64_t seed;
    int quick;           /* fewer steps and prompts (for tests) */
} xgd_demo_opts;

int xgd_demo_run(const xgd_demo_opts *o);

#endif
