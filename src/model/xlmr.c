/* XLM-RoBERTa classifier forward (see xlmr.h). Tensors described by the tables below; stored with
 * the "roberta." prefix by *ForSequenceClassification.save_pretrained, bare in base-model files. */
#include "model/xlmr.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "model/config.h"
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { DX_NONE, DX_V, DX_H, DX_I, DX_P, DX_TYPE, DX_LABELS, DX_COUNT };
enum { XW_ENCODER = 1u };   /* tensors under the "roberta." prefix */

#define L_(f) offsetof(xgd_xlmr_layer, f)
static const t5_tensor_spec XLMR_LAYER[] = {
    {"encoder.layer.%d.attention.self.query.weight", L_(q), T5W_MAT, DX_H, DX_H, 0},
    {"encoder.layer.%d.attention.self.query.bias", L_(q_b), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.attention.self.key.weight", L_(k), T5W_MAT, DX_H, DX_H, 0},
    {"encoder.layer.%d.attention.self.key.bias", L_(k_b), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.attention.self.value.weight", L_(v), T5W_MAT, DX_H, DX_H, 0},
    {"encoder.layer.%d.attention.self.value.bias", L_(v_b), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.attention.output.dense.weight", L_(o), T5W_MAT, DX_H, DX_H, 0},
    {"encoder.layer.%d.attention.output.dense.bias", L_(o_b), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.attention.output.LayerNorm.weight", L_(ln1_w), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.attention.output.LayerNorm.bias", L_(ln1_b), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.intermediate.dense.weight", L_(up), T5W_MAT, DX_I, DX_H, 0},
    {"encoder.layer.%d.intermediate.dense.bias", L_(up_b), T5W_VEC, DX_I, 0, 0},
    {"encoder.layer.%d.output.dense.weight", L_(down), T5W_MAT, DX_H, DX_I, 0},
    {"encoder.layer.%d.output.dense.bias", L_(down_b), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.output.LayerNorm.weight", L_(ln2_w), T5W_VEC, DX_H, 0, 0},
    {"encoder.layer.%d.output.LayerNorm.bias", L_(ln2_b), T5W_VEC, DX_H, 0, 0},
    {0},
};
#undef L_

#define G_(f) offsetof(xgd_xlmr, f)
static const t5_tensor_spec XLMR_EMBED[] = {
    {"embeddings.word_embeddings.weight", G_(word), T5W_MAT, DX_V, DX_H, 0},
    {"embeddings.position_embeddings.weight", G_(pos), T5W_MAT, DX_P, DX_H, 0},
    {"embeddings.token_type_embeddings.weight", G_(type), T5W_MAT, DX_TYPE, DX_H, 0},
    {"embeddings.LayerNorm.weight", G_(emb_ln_w), T5W_VEC, DX_H, 0, 0},
    {"embeddings.LayerNorm.bias", G_(emb_ln_b), T5W_VEC, DX_H, 0, 0},
    {0},
};
/* the head lives outside the base model: never prefixed */
static const t5_tensor_spec XLMR_HEAD[] = {
    {"classifier.dense.weight", G_(cls_dense), T5W_MAT, DX_H, DX_H, 0},
    {"classifier.dense.bias", G_(cls_dense_b), T5W_VEC, DX_H, 0, 0},
    {"classifier.out_proj.weight", G_(cls_out), T5W_MAT, DX_LABELS, DX_H, 0},
    {"classifier.out_proj.bias", G_(cls_out_b), T5W_VEC, DX_LABELS, 0, 0},
    {0},
};
#undef G_

int xgd_xlmr_is_config(const json_t *cfg) {
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    return mt && (!strcmp(mt, "xlm-roberta") || !strcmp(mt, "roberta"));
}

/* id2label {"0": name, ...} into m->labels; the count decides num_labels (transformers' rule). */
static int parse_labels(xgd_xlmr *m, const char *cpath) {
    json_t *id2 = json_object_get(m->config, "id2label");
    m->n_labels = (int)cfg_int(m->config, id2 && json_is_object(id2) ? (int64_t)json_object_size(id2) : 2,
                               "num_labels", NULL);
    if (id2 && json_is_object(id2)) m->n_labels = (int)json_object_size(id2);
    if (m->n_labels < 1 || m->n_labels > 100000) return xgd_fail("%s: unusable number of labels %d", cpath, m->n_labels);
    m->labels = xgd_calloc((size_t)m->n_labels, sizeof(char *));
    for (int i = 0; i < m->n_labels; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        const char *name = id2 ? json_string_value(json_object_get(id2, key)) : NULL;
        if (id2 && json_is_object(id2) && !name)
            return xgd_fail("%s: id2label has no string entry for label %d", cpath, i);
        if (name) m->labels[i] = xgd_strdup(name);
        else {
            char def[32];
            snprintf(def, sizeof def, "LABEL_%d", i);
            m->labels[i] = xgd_strdup(def);
        }
    }
    return 0;
}

static int parse_config(xgd_xlmr *m, const char *cpath) {
    const json_t *c = m->config;
    m->vocab = (int)cfg_int(c, 250002, "vocab_size", NULL);
    m->hidden = (int)cfg_int(c, 768, "hidden_size", NULL);
    m->n_layer = (int)cfg_int(c, 12, "num_hidden_layers", NULL);
    m->n_head = (int)cfg_int(c, 12, "num_attention_heads", NULL);
    m->inter = (int)cfg_int(c, 3072, "intermediate_size", NULL);
    m->max_pos = (int)cfg_int(c, 514, "max_position_embeddings", NULL);
    m->n_type = (int)cfg_int(c, 1, "type_vocab_size", NULL);
    m->pad_id = (int)cfg_int(c, 1, "pad_token_id", NULL);
    m->eps = (float)cfg_num(c, 1e-12, "layer_norm_eps", NULL);
    const char *act = xgd_json_str(c, "hidden_act", "gelu");
    m->act = cfg_act(act);
    if (m->act < 0) return xgd_fail("%s: hidden_act '%s' is not supported", cpath, act);
    const char *pe = xgd_json_str(c, "position_embedding_type", "absolute");
    if (strcmp(pe, "absolute") != 0) return xgd_fail("%s: position_embedding_type '%s' is not supported", cpath, pe);
    if (m->vocab < 1 || m->hidden < 1 || m->n_layer < 1 || m->n_head < 1 || m->hidden % m->n_head || m->inter < 1 ||
        m->max_pos < 1 || m->n_type < 1 || !(m->eps > 0) || m->hidden > (1 << 20) || m->vocab > (1 << 24) ||
        m->n_layer > 4096 || m->inter > (1 << 22) || m->max_pos > (1 << 24))
        return xgd_fail("%s: unusable XLM-R shape numbers (hidden %d, heads %d, layers %d, intermediate %d)", cpath,
                        m->hidden, m->n_head, m->n_layer, m->inter);
    if (m->pad_id < 0 || m->pad_id >= m->vocab) return xgd_fail("%s: pad_token_id %d outside the vocabulary", cpath, m->pad_id);
    const char *pt = xgd_json_str(c, "problem_type", "");
    if (parse_labels(m, cpath)) return -1;
    m->multi_label = !strcmp(pt, "multi_label_classification") || m->n_labels == 1;
    return 0;
}

int xgd_xlmr_load(xgd_xlmr **out, const char *arg) {
    *out = NULL;
    char *dir = xgd_resolve_model(arg);
    if (!dir) return -1;
    xgd_xlmr *m = xgd_calloc(1, sizeof *m);
    m->path = dir;
    char *cpath = xgd_path_join(dir, "config.json");
    int rc = -1;
    if (!xgd_is_file(cpath)) { xgd_fail("%s: no config.json in this folder", dir); goto done; }
    if (!(m->config = xgd_json_load(cpath))) goto done;
    if (!xgd_xlmr_is_config(m->config)) {
        const char *mt = json_string_value(json_object_get(m->config, "model_type"));
        xgd_fail("%s: model_type '%s' is not an XLM-RoBERTa classifier", cpath, mt ? mt : "(none)");
        goto done;
    }
    if (parse_config(m, cpath) != 0) goto done;
    if (xgd_ckpt_open(&m->ckpt, dir) != 0) goto done;
    int64_t dims[DX_COUNT] = {0, m->vocab, m->hidden, m->inter, m->max_pos, m->n_type, m->n_labels};
    m->wb = (xgd_wbind){.ckpt = m->ckpt, .path = dir, .prefix = "roberta."};
    if (xgd_wbind_table(&m->wb, XLMR_EMBED, m, dims, 0, 0, 0) != 0) goto done;
    m->layers = xgd_calloc((size_t)m->n_layer, sizeof *m->layers);
    for (int l = 0; l < m->n_layer; l++)
        if (xgd_wbind_table(&m->wb, XLMR_LAYER, &m->layers[l], dims, 0, l, 0) != 0) goto done;
    m->wb.prefix = "";
    if (xgd_wbind_table(&m->wb, XLMR_HEAD, m, dims, 0, 0, 0) != 0) {
        xgd_err_context("not a sequence classifier (no classification head)");
        goto done;
    }
    rc = 0;
done:
    free(cpath);
    if (rc) { xgd_xlmr_free(m); return -1; }
    *out = m;
    return 0;
}

void xgd_xlmr_free(xgd_xlmr *m) {
    if (!m) return;
    xgd_wbind_free(&m->wb);
    for (int i = 0; m->labels && i < m->n_labels; i++) free(m->labels[i]);
    free(m->labels);
    free(m->layers);
    if (m->ckpt) xgd_ckpt_close(m->ckpt);
    json_decref(m->config);
    free(m->path);
    free(m);
}

/* Embeddings: word + position + token type 0, then LayerNorm. x (N, H); tmp (N, H). */
static int embed(const xgd_xlmr *m, float *x, float *tmp, const int32_t *ids, int B, int T) {
    int64_t N = (int64_t)B * T, H = m->hidden;
    int32_t *pos = xgd_malloc(sizeof(int32_t) * (size_t)N), *zero = xgd_calloc((size_t)N, sizeof(int32_t));
    int rc = 0;
    for (int b = 0; b < B && !rc; b++) {
        int32_t seen = 0;   /* create_position_ids_from_input_ids: pads keep padding_idx */
        for (int t = 0; t < T; t++) {
            int32_t id = ids[(size_t)b * T + t];
            if (id < 0 || id >= m->vocab) {
                rc = xgd_fail("xlm-r input: token id %d at (%d, %d) is outside the vocabulary (%d)", id, b, t, m->vocab);
                break;
            }
            int32_t p = id != m->pad_id ? m->pad_id + ++seen : m->pad_id;
            if (p >= m->max_pos) {
                rc = xgd_fail("xlm-r input: sequence %d is longer than max_position_embeddings allows (%d tokens)",
                              b, m->max_pos - m->pad_id - 1);
                break;
            }
            pos[(size_t)b * T + t] = p;
        }
    }
    if (!rc) {
        xgd_embedding(x, ids, N, &m->word);
        xgd_embedding(tmp, pos, N, &m->pos);
        xgd_add_inplace(x, tmp, N * H);
        xgd_embedding(tmp, zero, N, &m->type);
        xgd_add_inplace(x, tmp, N * H);
        xgd_layernorm(x, NULL, NULL, x, m->emb_ln_w, m->emb_ln_b, N, H, m->eps);
    }
    free(pos);
    free(zero);
    return rc;
}

int xgd_xlmr_forward(const xgd_xlmr *m, const int32_t *ids, const uint8_t *mask, int B, int T,
                     float *logits, float *hidden) {
    if (B < 1 || T < 1) return xgd_fail("xlm-r: empty input (B=%d, T=%d)", B, T);
    int64_t N = (int64_t)B * T, H = m->hidden, I = m->inter;
    float *x = xgd_malloc(sizeof(float) * (size_t)(N * H)), *tmp = xgd_malloc(sizeof(float) * (size_t)(N * H));
    float *q = xgd_malloc(sizeof(float) * (size_t)(N * H)), *k = xgd_malloc(sizeof(float) * (size_t)(N * H));
    float *v = xgd_malloc(sizeof(float) * (size_t)(N * H)), *att = xgd_malloc(sizeof(float) * (size_t)(N * H));
    float *f = xgd_malloc(sizeof(float) * (size_t)(N * I));
    int rc = embed(m, x, tmp, ids, B, T);
    if (!rc && hidden) memcpy(hidden, x, sizeof(float) * (size_t)(N * H));
    int hd = (int)H / m->n_head;
    for (int l = 0; !rc && l < m->n_layer; l++) {
        const xgd_xlmr_layer *L = &m->layers[l];
        xgd_linear(q, x, N, &L->q, L->q_b);
        xgd_linear(k, x, N, &L->k, L->k_b);
        xgd_linear(v, x, N, &L->v, L->v_b);
        xgd_attn a = {.B = B, .Tq = T, .Tk = T, .nH = m->n_head, .nKV = m->n_head, .hd = hd,
                      .scale = (float)(1.0 / sqrt((double)hd)), .key_mask = mask};
        xgd_attention(att, NULL, q, k, v, &a);
        xgd_linear(tmp, att, N, &L->o, L->o_b);
        xgd_add_inplace(x, tmp, N * H);                  /* post-LN: norm after the residual add */
        xgd_layernorm(x, NULL, NULL, x, L->ln1_w, L->ln1_b, N, H, m->eps);
        xgd_linear(f, x, N, &L->up, L->up_b);
        xgd_act(m->act, f, f, N * I);
        xgd_linear(tmp, f, N, &L->down, L->down_b);
        xgd_add_inplace(x, tmp, N * H);
        xgd_layernorm(x, NULL, NULL, x, L->ln2_w, L->ln2_b, N, H, m->eps);
        if (hidden) memcpy(hidden + (size_t)(l + 1) * N * H, x, sizeof(float) * (size_t)(N * H));
    }
    if (!rc && logits) {
        /* RobertaClassificationHead on the first token of each sequence */
        for (int b = 0; b < B; b++) memcpy(q + (size_t)b * H, x + (size_t)b * T * H, sizeof(float) * (size_t)H);
        xgd_linear(k, q, B, &m->cls_dense, m->cls_dense_b);
        for (int64_t i = 0; i < (int64_t)B * H; i++) k[i] = tanhf(k[i]);
        xgd_linear(logits, k, B, &m->cls_out, m->cls_out_b);
    }
    free(x); free(tmp); free(q); free(k); free(v); free(att); free(f);
    return rc;
}

void xgd_xlmr_probs(const xgd_xlmr *m, const float *logits, int B, float *probs) {
    int64_t n = (int64_t)B * m->n_labels;
    memcpy(probs, logits, sizeof(float) * (size_t)n);
    if (m->multi_label)
        for (int64_t i = 0; i < n; i++) probs[i] = 1.0f / (1.0f + expf(-probs[i]));
    else xgd_softmax_rows(probs, B, m->n_labels);
}

static int name_is(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return !*a && !*b;
}

int xgd_xlmr_toxic_label(const xgd_xlmr *m) {
    for (int i = 0; i < m->n_labels; i++) if (name_is(m->labels[i], "toxic")) return i;
    for (int i = 0; i < m->n_labels; i++) if (name_is(m->labels[i], "toxicity")) return i;
    return m->n_labels > 1 ? 1 : 0;
}
