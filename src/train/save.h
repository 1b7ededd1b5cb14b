/* Writing trained weights as a Hugging Face checkpoint folder (config.json from the base with the
 * dtype patched, model.safetensors or shards, generation_config.json and tokenizer files copied
 * from the base), and the trainer's resumable state (optimizer moments as safetensors). */
#ifndef XGD_TRAIN_SAVE_H
#define XGD_TRAIN_SAVE_H
#include "train/optim.h"
#include "train/params.h"

/* dtype: XGD_F32, XGD_BF16 or XGD_F16 for the stored weights. */
int xgd_save_hf_folder(const xgd_params *p, const char *base_dir, const char *out_dir, xgd_dtype dtype);
/* Read weights saved by xgd_save_hf_folder (or any checkpoint of the same model) back into p. */
int xgd_load_params(xgd_params *p, const char *dir);
/* Optimizer moments: <dir>/optimizer.safetensors. */
int xgd_save_optim(const xgd_optim *o, const char *dir);
int xgd_load_optim(xgd_optim *o, const char *dir);
/* Copy every tokenizer and generation file present in src into dst. */
int xgd_copy_side_files(const char *src, const char *dst);

#endif
