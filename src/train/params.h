/* Trainable parameters: every tensor of a loaded model converted to f32 into ONE allocation (in
 * the family's tensor order), the model re-pointed at it, and a gradient buffer of the same
 * layout with views shaped like the model's own slots (so backward code addresses a gradient
 * exactly as forward code addresses its weight). */
#ifndef XGD_TRAIN_PARAMS_H
#define XGD_TRAIN_PARAMS_H
#include "model/model.h"

typedef struct {
    char *name;          /* canonical checkpoint name */
    int64_t offset, numel;
    int ndim;
    int64_t shape[2];    /* as stored in the checkpoint */
    int is_matrix;       /* SLOT_MAT: weight-decayed by AdamW's usual grouping; vectors are not */
} xgd_param_info;

typedef struct {
    xgd_model *m;
    float *data, *grad;  /* (n) each */
    int64_t n;
    xgd_globals gg;      /* gradient views of m->g (f32, same layouts) */
    xgd_layer *gl;       /* (n_layer) gradient views of m->layers */
    xgd_param_info *info;
    int n_info;
} xgd_params;

/* Move m's weights into f32 trainable storage. m must stay alive; m keeps using the new storage. */
int xgd_params_init(xgd_params *p, xgd_model *m);
void xgd_params_zero_grad(xgd_params *p);
void xgd_params_free(xgd_params *p);

#endif
