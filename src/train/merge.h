/* Merging a PEFT LoRA adapter into its base and writing the checkpoint folder (merge_peft.py). */
#ifndef XGD_TRAIN_MERGE_H
#define XGD_TRAIN_MERGE_H
#include "base/dtype.h"

/* dtype: the stored dtype of the output, or XGD_DTYPE_COUNT for the base's own. *n_merged gets
 * the number of adapted modules. */
int xgd_merge_adapter(const char *base, const char *adapter_dir, const char *out_dir, xgd_dtype dtype, int *n_merged);

#endif
