/* Random checkpoints in Hugging Face format, for tests and benchmarks: config.json (complete, as
 * transformers writes it), generation_config.json and model.safetensors. */
#ifndef XGD_MODEL_INIT_H
#define XGD_MODEL_INIT_H
#include <stdint.h>
#include "model/family.h"

/* user_cfg: hyperparameters in config.json spelling (missing keys take the family defaults).
 * Every parameter is random so that tests see each one: matrices N(0, std), norm weights
 * 1 + N(0, std), biases N(0, std), std = initializer_range (default 0.02). Each tensor draws from
 * its own RNG stream (seed, tensor index), so the same call writes the same bytes. */
int xgd_init_checkpoint(const xgd_family *fam, const json_t *user_cfg, xgd_dtype dtype, uint64_t seed, const char *out_dir);

#endif
