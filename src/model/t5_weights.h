/* Binding checkpoint tensors to the encoder models that live outside the decoder-only runtime
 * (T5/mT5 in t5.c, XLM-RoBERTa in xlmr.c). Each of those describes its tensors in a table
 * (t5_tensor_spec: name template, slot, stored shape); this binder checks a tensor against the
 * shape config.json implies and binds it: matrices stay memory-mapped in their stored dtype (an
 * aligned copy when the file misaligns them), small vectors are converted to f32. */
#ifndef XGD_MODEL_T5_WEIGHTS_H
#define XGD_MODEL_T5_WEIGHTS_H
#include <stddef.h>
#include "io/checkpoint.h"
#include "ops/ops.h"

typedef struct {
    xgd_ckpt *ckpt;
    const char *path;          /* folder, for messages */
    const char *prefix;        /* optional base-model prefix ("roberta."), tried first; "" = none */
    void **owned;              /* aligned copies and converted vectors, freed together */
    int n_owned;
    int64_t n_params;
} xgd_wbind;

/* One tensor of a table. The name is a printf template taking the block index then the sub-layer
 * index (either may be unused). Dimensions are indices into the caller's dims[] array (0 = none:
 * dims[0] is never read). */
enum { T5W_MAT, T5W_VEC };
typedef struct {
    const char *name;
    size_t slot;               /* offsetof(...) into the caller's block or globals struct */
    int kind;                  /* T5W_MAT / T5W_VEC */
    int d0, d1;                /* stored shape as dims indices; d1 = 0 for a 1-D vector */
    unsigned when;             /* bit mask matched against the caller's condition bits; 0 = always */
} t5_tensor_spec;

/* Bind every spec of table (terminated by {0}) whose `when` bits are all in `cond`, into base
 * (a block or globals struct). Names are formatted with (block, sub). */
int xgd_wbind_table(xgd_wbind *b, const t5_tensor_spec *table, void *base, const int64_t *dims,
                    unsigned cond, int block, int sub);
/* Whether a tensor exists under name (with or without the prefix). */
int xgd_wbind_has(const xgd_wbind *b, const char *name);
void xgd_wbind_free(xgd_wbind *b);

#endif
