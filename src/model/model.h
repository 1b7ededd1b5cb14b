/* A loaded decoder-only model: its family description, hyperparameters, and weights bound from a
 * checkpoint (matrices stay memory-mapped in their stored dtype; small vectors are converted to
 * f32 into one allocation). */
#ifndef XGD_MODEL_MODEL_H
#define XGD_MODEL_MODEL_H
#include "io/checkpoint.h"
#include "model/family.h"

typedef struct xgd_model {
    const xgd_family *fam;
    xgd_hparams hp;
    char *path;                /* resolved checkpoint folder */
    json_t *config;            /* config.json as read */
    xgd_ckpt *ckpt;
    xgd_globals g;
    xgd_layer *layers;         /* (n_layer) */
    float *vecs;               /* every SLOT_VEC tensor, converted to f32, in one allocation */
    float *inv_freq;           /* RoPE (head_dim/2) */
    float *alibi;              /* ALiBi slopes (n_head) */
    void **owned;              /* aligned copies of matrices that were misaligned in the file */
    int n_owned;
    int64_t n_params;          /* parameters bound (tied head counted once) */
    int64_t weight_bytes;      /* bytes of the bound tensors as stored */
} xgd_model;

/* Load from a folder, a hub id in the local HF cache, or a folder with a config.json beside the
 * weights. Errors name the file and tensor. */
int xgd_model_load(xgd_model **out, const char *path_or_id);
void xgd_model_free(xgd_model *m);
/* The output head (lm_head, or the tied input embedding). */
const xgd_wmat *xgd_model_head(const xgd_model *m);
/* Read config.json of a folder and find its family; errors name the file and list known types. */
int xgd_read_config(const char *dir, json_t **cfg, const xgd_family **fam, xgd_hparams *hp);

#endif
