/* Interventions on named neurons during a forward pass (generation, activations):
 *   SPEC  := EDIT ("," EDIT)*
 *   EDIT  := HOOK "[" INDEX ("," INDEX)* "]" OP VALUE      e.g. layer.19.mlp.post_act[1234]+=5
 *   OP    := "+=" (add VALUE) | "=" (set to VALUE)
 * HOOK is any hook name (hooks.h) with a layer number or *. Each edit applies at every position
 * of every sequence. "+=0" leaves the values bit for bit unchanged. */
#ifndef XGD_MODEL_INTERVENE_H
#define XGD_MODEL_INTERVENE_H
#include "model/hooks.h"

typedef struct xgd_intervention xgd_intervention;

/* Parse SPEC and register its hooks into h. Returns NULL on a malformed spec (message says where). */
xgd_intervention *xgd_intervention_parse(const char *spec, xgd_hooks *h);
void xgd_intervention_free(xgd_intervention *iv);
/* Indices must be < D of their hook point; checked when the hook fires and counted here. */
long xgd_intervention_out_of_range(const xgd_intervention *iv);

#endif
