/* config.json helpers shared by the family descriptions: aliases, v4/v5 spellings, token ids,
 * RoPE parameters. */
#ifndef XGD_MODEL_CONFIG_H
#define XGD_MODEL_CONFIG_H
#include "model/family.h"

/* First present integer among the keys (NULL-terminated), else def. */
int64_t cfg_int(const json_t *cfg, int64_t def, ...) __attribute__((sentinel));
double cfg_num(const json_t *cfg, double def, ...) __attribute__((sentinel));
int cfg_bool(const json_t *cfg, int def, ...) __attribute__((sentinel));
/* The keys every family shares: dtype (torch_dtype or dtype), tie_word_embeddings, token ids. */
void cfg_common(const json_t *cfg, xgd_hparams *hp);
/* RoPE: rope_parameters (v5) first, else rope_theta + rope_scaling (v4; "type" = "rope_type"). */
int cfg_rope(const json_t *cfg, xgd_hparams *hp);
/* Activation name ("gelu_new", "silu", ...) to XGD_ACT_*; -1 if unknown. */
int cfg_act(const char *name);
/* Check the shape numbers are usable (positive, heads divide hidden, ...). */
int cfg_validate(const xgd_hparams *hp, const char *model_type);
/* Write the shared keys (architectures, model_type, dtype spellings, token ids) into obj. */
void cfg_write_common(json_t *obj, const xgd_family *fam, const xgd_hparams *hp);
/* Write rope_theta + rope_scaling (v4 spelling, which v5 also reads). */
void cfg_write_rope(json_t *obj, const xgd_hparams *hp);

#endif
