#include "model/hooks.h"
#include "base/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_layer_names[] = {
    [XGD_HOOK_ATTN_OUT] = "attn_out", [XGD_HOOK_MLP_PRE] = "mlp.pre_act",
    [XGD_HOOK_MLP_POST] = "mlp.post_act", [XGD_HOOK_RESID_POST] = "resid_post",
};

int xgd_hook_parse(const char *name, xgd_hook_kind *kind, int *layer) {
    *layer = -1;
    if (!strcmp(name, "embed")) { *kind = XGD_HOOK_EMBED; return 0; }
    if (!strcmp(name, "final_norm")) { *kind = XGD_HOOK_FINAL_NORM; return 0; }
    if (!strcmp(name, "logits")) { *kind = XGD_HOOK_LOGITS; return 0; }
    if (strncmp(name, "layer.", 6) == 0) {
        const char *p = name + 6;
        char *end = (char *)p;
        if (*p == '*') end = (char *)p + 1;
        else {
            long v = strtol(p, &end, 10);
            if (end == p || v < 0) goto bad;
            *layer = (int)v;
        }
        if (*end != '.') goto bad;
        for (int k = XGD_HOOK_ATTN_OUT; k <= XGD_HOOK_RESID_POST; k++)
            if (!strcmp(end + 1, g_layer_names[k])) { *kind = (xgd_hook_kind)k; return 0; }
    }
bad:
    return xgd_fail("unknown hook point '%s' (known: embed, layer.N.attn_out, layer.N.mlp.pre_act, "
                    "layer.N.mlp.post_act, layer.N.resid_post, final_norm, logits; N may be *)", name);
}

const char *xgd_hook_name(char *buf, int n, xgd_hook_kind kind, int layer) {
    switch (kind) {
    case XGD_HOOK_EMBED: snprintf(buf, (size_t)n, "embed"); break;
    case XGD_HOOK_FINAL_NORM: snprintf(buf, (size_t)n, "final_norm"); break;
    case XGD_HOOK_LOGITS: snprintf(buf, (size_t)n, "logits"); break;
    default: snprintf(buf, (size_t)n, "layer.%d.%s", layer, g_layer_names[kind]); break;
    }
    return buf;
}

int xgd_hooks_add(xgd_hooks *h, const char *name, xgd_hook_fn fn, void *user) {
    xgd_hook_kind kind;
    int layer;
    if (xgd_hook_parse(name, &kind, &layer) != 0) return -1;
    if (h->n >= XGD_MAX_HOOKS) return xgd_fail("too many hooks (at most %d)", XGD_MAX_HOOKS);
    h->items[h->n].kind = kind;
    h->items[h->n].layer = layer;
    h->items[h->n].fn = fn;
    h->items[h->n].user = user;
    h->n++;
    return 0;
}

int xgd_hooks_any(const xgd_hooks *h, xgd_hook_kind kind, int layer) {
    for (int i = 0; h && i < h->n; i++)
        if (h->items[i].kind == kind && (h->items[i].layer < 0 || h->items[i].layer == layer)) return 1;
    return 0;
}

void xgd_hooks_fire(const xgd_hooks *h, const xgd_hook_event *ev) {
    for (int i = 0; h && i < h->n; i++)
        if (h->items[i].kind == ev->kind && (h->items[i].layer < 0 || h->items[i].layer == ev->layer))
            h->items[i].fn(h->items[i].user, ev);
}
