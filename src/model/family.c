/* Family registry, symbolic dimensions, and the config keys shared by Llama and Cohere. */
#include "model/family_llama_like.h"
#include <stdio.h>
#include <string.h>

static const xgd_family *const g_families[] = {&xgd_family_gpt2, &xgd_family_bloom, &xgd_family_llama, &xgd_family_cohere};
#define N_FAMILIES (sizeof g_families / sizeof g_families[0])

const xgd_family *xgd_family_find(const char *model_type) {
    for (size_t i = 0; model_type && i < N_FAMILIES; i++)
        if (!strcmp(g_families[i]->model_type, model_type)) return g_families[i];
    return NULL;
}

const xgd_family *xgd_family_from_config(const json_t *cfg) {
    const xgd_family *f = xgd_family_find(json_string_value(json_object_get(cfg, "model_type")));
    if (f) return f;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(cfg, "architectures"), i, a)
        for (size_t k = 0; k < N_FAMILIES; k++)
            if (json_is_string(a) && !strcmp(json_string_value(a), g_families[k]->architecture)) return g_families[k];
    return NULL;
}

const char *xgd_family_names(void) { return "gpt2 (mGPT), bloom, llama (Llama-2/3/3.1), cohere (Aya-23)"; }

int64_t xgd_dim_value(const xgd_hparams *hp, xgd_dim d) {
    switch (d) {
    case DIM_V: return hp->vocab;
    case DIM_H: return hp->hidden;
    case DIM_3H: return 3 * (int64_t)hp->hidden;
    case DIM_F: return hp->inter;
    case DIM_QD: return (int64_t)hp->n_head * hp->head_dim;
    case DIM_KVD: return (int64_t)hp->n_kv * hp->head_dim;
    case DIM_QKVD: return (int64_t)(hp->n_head + 2 * hp->n_kv) * hp->head_dim;
    case DIM_POS: return hp->max_pos;
    case DIM_HD: return hp->head_dim;
    case DIM_NH: return hp->n_head;
    case DIM_NKV: return hp->n_kv;
    default: return 0;
    }
}

int xgd_spec_applies(const xgd_tensor_spec *s, const xgd_hparams *hp) {
    switch (s->when) {
    case WHEN_ATTN_BIAS: return hp->attn_bias;
    case WHEN_MLP_BIAS: return hp->mlp_bias;
    case WHEN_QK_NORM: return hp->qk_norm;
    case WHEN_UNTIED: return !hp->tied;
    default: return 1;
    }
}

int llama_like_parse_shapes(const json_t *c, xgd_hparams *hp) {
    hp->vocab = (int)cfg_int(c, hp->vocab, "vocab_size", NULL);
    hp->hidden = (int)cfg_int(c, hp->hidden, "hidden_size", NULL);
    hp->inter = (int)cfg_int(c, hp->inter, "intermediate_size", NULL);
    hp->n_layer = (int)cfg_int(c, hp->n_layer, "num_hidden_layers", NULL);
    hp->n_head = (int)cfg_int(c, hp->n_head, "num_attention_heads", NULL);
    hp->n_kv = (int)cfg_int(c, hp->n_head, "num_key_value_heads", NULL);
    hp->head_dim = (int)cfg_int(c, hp->n_head ? hp->hidden / hp->n_head : 0, "head_dim", NULL);
    hp->max_pos = (int)cfg_int(c, hp->max_pos, "max_position_embeddings", NULL);
    const char *act = json_string_value(json_object_get(c, "hidden_act"));
    if (act) hp->act = cfg_act(act);
    cfg_common(c, hp);
    return cfg_rope(c, hp);
}

void llama_like_write_shapes(json_t *o, const xgd_hparams *hp) {
    json_object_set_new(o, "hidden_size", json_integer(hp->hidden));
    json_object_set_new(o, "intermediate_size", json_integer(hp->inter));
    json_object_set_new(o, "num_hidden_layers", json_integer(hp->n_layer));
    json_object_set_new(o, "num_attention_heads", json_integer(hp->n_head));
    json_object_set_new(o, "num_key_value_heads", json_integer(hp->n_kv));
    json_object_set_new(o, "head_dim", json_integer(hp->head_dim));
    json_object_set_new(o, "max_position_embeddings", json_integer(hp->max_pos));
    json_object_set_new(o, "hidden_act", json_string("silu"));
    json_object_set_new(o, "initializer_range", json_real(0.02));
    cfg_write_rope(o, hp);
}

int xgd_family_foreach(const xgd_family *fam, const xgd_hparams *hp, xgd_globals *g, xgd_layer *layers,
                       xgd_tensor_visit fn, void *user) {
    char name[256];
    int rc;
    for (const xgd_tensor_spec *s = fam->globals; s->name; s++)
        if (xgd_spec_applies(s, hp) && (rc = fn(s, s->name, (char *)g + s->slot, 0, user)) != 0) return rc;
    for (int l = 0; l < hp->n_layer; l++)
        for (const xgd_tensor_spec *s = fam->layer; s->name; s++) {
            if (!xgd_spec_applies(s, hp)) continue;
            snprintf(name, sizeof name, s->name, l);
            if ((rc = fn(s, name, (char *)&layers[l] + s->slot, 1, user)) != 0) return rc;
        }
    return 0;
}
