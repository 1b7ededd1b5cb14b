/* Named hook points where activations can be read, recorded or edited during a forward pass.
 * Names: "embed", "layer.N.attn_out", "layer.N.mlp.pre_act", "layer.N.mlp.post_act" (the MLP
 * neurons: act(fc) for GPT-2/BLOOM, silu(gate)*up for Llama/Cohere), "layer.N.resid_post",
 * "final_norm", "logits". "layer.*.X" matches every layer. A hook sees the rows of the current
 * call, (B,T,D) contiguous, and may modify them in place (interventions). */
#ifndef XGD_MODEL_HOOKS_H
#define XGD_MODEL_HOOKS_H
#include <stdint.h>

typedef enum {
    XGD_HOOK_EMBED, XGD_HOOK_ATTN_OUT, XGD_HOOK_MLP_PRE, XGD_HOOK_MLP_POST, XGD_HOOK_RESID_POST,
    XGD_HOOK_FINAL_NORM, XGD_HOOK_LOGITS, XGD_HOOK_KINDS
} xgd_hook_kind;

typedef struct {
    xgd_hook_kind kind;
    int layer;                 /* -1 for embed/final_norm/logits */
    float *x;                  /* (B, T, D), editable */
    int B, T, D;
    int past;                  /* tokens already in the cache before this call */
    const uint8_t *mask;       /* (B, T) mask of this call's tokens, or NULL (all real) */
} xgd_hook_event;

typedef void (*xgd_hook_fn)(void *user, const xgd_hook_event *ev);

#define XGD_MAX_HOOKS 64
typedef struct {
    struct { xgd_hook_kind kind; int layer; xgd_hook_fn fn; void *user; } items[XGD_MAX_HOOKS];
    int n;
} xgd_hooks;

/* Parse a hook name into kind and layer (-1 = all layers for "layer.*"). */
int xgd_hook_parse(const char *name, xgd_hook_kind *kind, int *layer);
/* Format the name of a hook point into buf. */
const char *xgd_hook_name(char *buf, int n, xgd_hook_kind kind, int layer);
/* Register fn at a named point. */
int xgd_hooks_add(xgd_hooks *h, const char *name, xgd_hook_fn fn, void *user);
/* Whether any hook listens at (kind, layer). */
int xgd_hooks_any(const xgd_hooks *h, xgd_hook_kind kind, int layer);
/* Call every hook registered at (kind, layer). */
void xgd_hooks_fire(const xgd_hooks *h, const xgd_hook_event *ev);

#endif
