/* Running a model: a state holds the KV cache of B sequences (capacity Tmax tokens each) and the
 * scratch activations; xgd_forward appends T tokens to every sequence and returns logits.
 *
 * Padding is on the left (as generation batches are): a 0 in the mask marks a pad slot, which
 * no query attends to. Position ids default to the generate() convention, cumsum(mask)-1 per
 * sequence (pad slots get 1), so a left-padded batch computes what each sequence computes alone. */
#ifndef XGD_MODEL_RUNTIME_H
#define XGD_MODEL_RUNTIME_H
#include "model/hooks.h"
#include "model/model.h"

typedef struct xgd_state {
    const xgd_model *m;
    int B, Tmax;
    int past;                  /* tokens already cached per sequence */
    float *kv;                 /* (n_layer, 2, B, Tmax, nKV, hd) */
    uint8_t *mask;             /* (B, Tmax) 1 = real token */
    int32_t *kpos;             /* (B, Tmax) position id of each cached token */
    int32_t *seen;             /* (B) real tokens so far */
    float *scratch;            /* activations for the current call, one allocation */
    int64_t scratch_rows;
} xgd_state;

xgd_state *xgd_state_new(const xgd_model *m, int B, int Tmax);
void xgd_state_reset(xgd_state *s);
void xgd_state_free(xgd_state *s);
/* Copy the cache of sequence src of state from into sequence dst of s (sharing a prefilled
 * prompt). Both states belong to the same model; s must hold at least from->past tokens. */
void xgd_state_copy_from(xgd_state *s, int dst, const xgd_state *from, int src);

typedef struct {
    const int32_t *ids;        /* (B, T) */
    const uint8_t *mask;       /* (B, T) 1 = real, 0 = pad; NULL = all real */
    const int32_t *pos;        /* (B, T) explicit position ids, or NULL for the default */
    int T;
    float *logits;             /* (B, T, V) if all_logits, else (B, V) at the last position; may be NULL */
    int all_logits;
    const xgd_hooks *hooks;    /* may be NULL */
} xgd_fwd;

/* Append T tokens to each of the B sequences of s. Errors: token id out of range, position past
 * the model's table, cache capacity exceeded. */
int xgd_forward(xgd_state *s, const xgd_fwd *f);

#endif
