/* T5 v1.1 / mT5 forward (hf-spec.md §2.e). The tensors are described by the tables below; one
 * stack function runs both the encoder (bidirectional buckets, padding mask) and the decoder
 * (causal buckets, cross-attention to the encoder output). */
#include "model/t5.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "model/config.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tensors ------------------------------------------------------------------------------ */

enum { DM_NONE, DM_V, DM_D, DM_INNER, DM_FF, DM_NB, DM_NH, DM_COUNT };
enum { W_DEC = 1u, W_GATED = 2u, W_PLAIN = 4u };

/* Per block, names relative to the stack ("encoder." / "decoder." is the binder's prefix); the
 * second template index is the feed-forward sub-layer (1 in the encoder, 2 in the decoder). */
#define B_(f) offsetof(xgd_t5_block, f)
static const t5_tensor_spec T5_BLOCK[] = {
    {"block.%d.layer.0.layer_norm.weight", B_(ln_sa), T5W_VEC, DM_D, 0, 0},
    {"block.%d.layer.0.SelfAttention.q.weight", B_(q), T5W_MAT, DM_INNER, DM_D, 0},
    {"block.%d.layer.0.SelfAttention.k.weight", B_(k), T5W_MAT, DM_INNER, DM_D, 0},
    {"block.%d.layer.0.SelfAttention.v.weight", B_(v), T5W_MAT, DM_INNER, DM_D, 0},
    {"block.%d.layer.0.SelfAttention.o.weight", B_(o), T5W_MAT, DM_D, DM_INNER, 0},
    {"block.%d.layer.1.layer_norm.weight", B_(ln_ca), T5W_VEC, DM_D, 0, W_DEC},
    {"block.%d.layer.1.EncDecAttention.q.weight", B_(cq), T5W_MAT, DM_INNER, DM_D, W_DEC},
    {"block.%d.layer.1.EncDecAttention.k.weight", B_(ck), T5W_MAT, DM_INNER, DM_D, W_DEC},
    {"block.%d.layer.1.EncDecAttention.v.weight", B_(cv), T5W_MAT, DM_INNER, DM_D, W_DEC},
    {"block.%d.layer.1.EncDecAttention.o.weight", B_(co), T5W_MAT, DM_D, DM_INNER, W_DEC},
    {"block.%d.layer.%d.layer_norm.weight", B_(ln_ff), T5W_VEC, DM_D, 0, 0},
    {"block.%d.layer.%d.DenseReluDense.wi_0.weight", B_(wi0), T5W_MAT, DM_FF, DM_D, W_GATED},
    {"block.%d.layer.%d.DenseReluDense.wi_1.weight", B_(wi1), T5W_MAT, DM_FF, DM_D, W_GATED},
    {"block.%d.layer.%d.DenseReluDense.wi.weight", B_(wi0), T5W_MAT, DM_FF, DM_D, W_PLAIN},
    {"block.%d.layer.%d.DenseReluDense.wo.weight", B_(wo), T5W_MAT, DM_D, DM_FF, 0},
    {0},
};
#undef B_

/* Globals (no prefix). lm_head is bound separately: it is optional (tied T5 v1.0 files). */
#define G_(f) offsetof(xgd_t5, f)
static const t5_tensor_spec T5_GLOBALS[] = {
    {"shared.weight", G_(shared), T5W_MAT, DM_V, DM_D, 0},
    {"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", G_(enc_rel), T5W_VEC, DM_NB, DM_NH, 0},
    {"decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", G_(dec_rel), T5W_VEC, DM_NB, DM_NH, 0},
    {"encoder.final_layer_norm.weight", G_(enc_final), T5W_VEC, DM_D, 0, 0},
    {"decoder.final_layer_norm.weight", G_(dec_final), T5W_VEC, DM_D, 0, 0},
    {0},
};
static const t5_tensor_spec T5_HEAD[] = {{"lm_head.weight", G_(lm_head), T5W_MAT, DM_V, DM_D, 0}, {0}};
#undef G_

/* ---- config ----------------------------------------------------------------------------------- */

int xgd_t5_is_config(const json_t *cfg) {
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    return mt && (!strcmp(mt, "t5") || !strcmp(mt, "mt5"));
}

static int parse_config(const json_t *cfg, const char *cpath, xgd_t5_hparams *hp) {
    /* defaults are T5Config's */
    hp->vocab = (int)cfg_int(cfg, 32128, "vocab_size", NULL);
    hp->d_model = (int)cfg_int(cfg, 512, "d_model", "hidden_size", NULL);
    hp->d_kv = (int)cfg_int(cfg, 64, "d_kv", "head_dim", NULL);
    hp->d_ff = (int)cfg_int(cfg, 2048, "d_ff", NULL);
    hp->n_enc = (int)cfg_int(cfg, 6, "num_layers", "num_hidden_layers", NULL);
    hp->n_dec = (int)cfg_int(cfg, hp->n_enc, "num_decoder_layers", NULL);
    hp->n_head = (int)cfg_int(cfg, 8, "num_heads", "num_attention_heads", NULL);
    hp->buckets = (int)cfg_int(cfg, 32, "relative_attention_num_buckets", NULL);
    hp->max_dist = (int)cfg_int(cfg, 128, "relative_attention_max_distance", NULL);
    hp->eps = (float)cfg_num(cfg, 1e-6, "layer_norm_epsilon", NULL);
    hp->pad_id = (int)cfg_int(cfg, 0, "pad_token_id", NULL);
    hp->eos_id = (int)cfg_int(cfg, 1, "eos_token_id", NULL);
    hp->start_id = (int)cfg_int(cfg, hp->pad_id, "decoder_start_token_id", NULL);
    hp->inner = hp->n_head * hp->d_kv;
    /* transformers 4.x rescales iff the head is tied; 5.x saves the switch as scale_decoder_outputs */
    int tied = cfg_bool(cfg, 1, "tie_word_embeddings", NULL);
    hp->scale_out = cfg_bool(cfg, tied, "scale_decoder_outputs", NULL);
    const char *ff = xgd_json_str(cfg, "feed_forward_proj", "relu");
    hp->gated = strncmp(ff, "gated-", 6) == 0;
    const char *act = hp->gated ? ff + 6 : ff;
    /* T5Config maps "gated-gelu" to gelu_new (the tanh form), not the exact gelu */
    hp->act = hp->gated && !strcmp(act, "gelu") ? XGD_ACT_GELU_TANH : cfg_act(act);
    if (hp->act < 0) return xgd_fail("%s: feed_forward_proj '%s' is not supported", cpath, ff);
    if (hp->vocab < 1 || hp->d_model < 1 || hp->d_kv < 1 || hp->d_ff < 1 || hp->n_head < 1 || hp->n_enc < 1 ||
        hp->n_dec < 1 || hp->buckets < 2 || hp->max_dist < 2 || !(hp->eps > 0) || hp->d_model > (1 << 20) ||
        hp->vocab > (1 << 24) || hp->n_head > 4096 || hp->d_kv > 4096 || hp->d_ff > (1 << 22) ||
        hp->n_enc > 4096 || hp->n_dec > 4096)
        return xgd_fail("%s: unusable T5 shape numbers (d_model %d, d_kv %d, d_ff %d, heads %d, layers %d+%d, vocab %d)",
                        cpath, hp->d_model, hp->d_kv, hp->d_ff, hp->n_head, hp->n_enc, hp->n_dec, hp->vocab);
    if (hp->start_id < 0 || hp->start_id >= hp->vocab || hp->pad_id < 0 || hp->pad_id >= hp->vocab)
        return xgd_fail("%s: decoder_start_token_id / pad_token_id outside the vocabulary", cpath);
    return 0;
}

/* ---- load ------------------------------------------------------------------------------------- */

int xgd_t5_load(xgd_t5 **out, const char *arg) {
    *out = NULL;
    char *dir = xgd_resolve_model(arg);
    if (!dir) return -1;
    xgd_t5 *m = xgd_calloc(1, sizeof *m);
    m->path = dir;
    char *cpath = xgd_path_join(dir, "config.json");
    int rc = -1;
    if (!xgd_is_file(cpath)) { xgd_fail("%s: no config.json in this folder", dir); goto done; }
    if (!(m->config = xgd_json_load(cpath))) goto done;
    if (!xgd_t5_is_config(m->config)) {
        const char *mt = json_string_value(json_object_get(m->config, "model_type"));
        xgd_fail("%s: model_type '%s' is not a T5/mT5 encoder-decoder", cpath, mt ? mt : "(none)");
        goto done;
    }
    if (parse_config(m->config, cpath, &m->hp) != 0) goto done;
    if (xgd_ckpt_open(&m->ckpt, dir) != 0) goto done;
    const xgd_t5_hparams *hp = &m->hp;
    int64_t dims[DM_COUNT] = {0, hp->vocab, hp->d_model, hp->inner, hp->d_ff, hp->buckets, hp->n_head};
    m->wb = (xgd_wbind){.ckpt = m->ckpt, .path = dir, .prefix = ""};
    if (xgd_wbind_table(&m->wb, T5_GLOBALS, m, dims, 0, 0, 0) != 0) goto done;
    /* hf-spec §2.e: the stored lm_head when present, else the shared embedding */
    if (xgd_wbind_has(&m->wb, "lm_head.weight")) {
        if (xgd_wbind_table(&m->wb, T5_HEAD, m, dims, 0, 0, 0) != 0) goto done;
    } else m->lm_head = m->shared;
    m->enc = xgd_calloc((size_t)hp->n_enc, sizeof *m->enc);
    m->dec = xgd_calloc((size_t)hp->n_dec, sizeof *m->dec);
    unsigned ff = hp->gated ? W_GATED : W_PLAIN;
    m->wb.prefix = "encoder.";
    for (int l = 0; l < hp->n_enc; l++)
        if (xgd_wbind_table(&m->wb, T5_BLOCK, &m->enc[l], dims, ff, l, 1) != 0) goto done;
    m->wb.prefix = "decoder.";
    for (int l = 0; l < hp->n_dec; l++)
        if (xgd_wbind_table(&m->wb, T5_BLOCK, &m->dec[l], dims, ff | W_DEC, l, 2) != 0) goto done;
    m->wb.prefix = "";
    rc = 0;
done:
    free(cpath);
    if (rc) { xgd_t5_free(m); return -1; }
    *out = m;
    return 0;
}

void xgd_t5_free(xgd_t5 *m) {
    if (!m) return;
    xgd_wbind_free(&m->wb);
    free(m->enc);
    free(m->dec);
    if (m->ckpt) xgd_ckpt_close(m->ckpt);
    json_decref(m->config);
    free(m->path);
    free(m);
}

/* ---- forward ---------------------------------------------------------------------------------- */

/* position_bias (nH, Tq, Tk)[h,i,j] = table[bucket(j - i)][h]; computed once per stack. */
static float *position_bias(const xgd_t5 *m, const float *table, int Tq, int Tk, int bidirectional) {
    int nH = m->hp.n_head;
    float *pb = xgd_malloc(sizeof(float) * (size_t)nH * Tq * Tk);
    for (int i = 0; i < Tq; i++)
        for (int j = 0; j < Tk; j++) {
            int b = xgd_t5_bucket(j - i, bidirectional, m->hp.buckets, m->hp.max_dist);
            for (int h = 0; h < nH; h++) pb[((size_t)h * Tq + i) * Tk + j] = table[(size_t)b * nH + h];
        }
    return pb;
}

static int check_ids(const xgd_t5 *m, const int32_t *ids, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->hp.vocab)
            return xgd_fail("%s: token id %d at position %lld is outside the vocabulary (%d)", what, ids[i], (long long)i, m->hp.vocab);
    return 0;
}

/* Scratch of one stack pass. */
typedef struct { float *h, *q, *k, *v, *att, *ao, *gate, *up; } t5_scratch;

static t5_scratch scratch_new(const xgd_t5 *m, int64_t N, int64_t Nk) {
    const xgd_t5_hparams *hp = &m->hp;
    int64_t kv = (N > Nk ? N : Nk) * hp->inner;
    t5_scratch s = {
        xgd_malloc(sizeof(float) * (size_t)(N * hp->d_model)), xgd_malloc(sizeof(float) * (size_t)(N * hp->inner)),
        xgd_malloc(sizeof(float) * (size_t)kv), xgd_malloc(sizeof(float) * (size_t)kv),
        xgd_malloc(sizeof(float) * (size_t)(N * hp->inner)), xgd_malloc(sizeof(float) * (size_t)(N * hp->d_model)),
        xgd_malloc(sizeof(float) * (size_t)(N * hp->d_ff)), xgd_malloc(sizeof(float) * (size_t)(N * hp->d_ff)),
    };
    return s;
}

static void scratch_free(t5_scratch *s) {
    free(s->h); free(s->q); free(s->k); free(s->v); free(s->att); free(s->ao); free(s->gate); free(s->up);
}

/* x (B*Tq, D) += o( attention(q·h, k, v) ), h = the normed x (in s->h); k, v (B, Tk, inner) with
 * kv_bstride floats between sequences (0 = packed; a cache of capacity Tmax passes Tmax*inner). */
static void attend_kv(const xgd_t5 *m, t5_scratch *s, float *x, const float *k, const float *v, int64_t kv_bstride,
                      int B, int Tq, int Tk, const xgd_wmat *q, const xgd_wmat *o, const uint8_t *kmask,
                      const float *pos_bias, int causal, int q_offset) {
    int64_t N = (int64_t)B * Tq;
    xgd_linear(s->q, s->h, N, q, NULL);
    /* T5 folds 1/sqrt(d_kv) into the initialisation: scores are plain q·k */
    xgd_attn a = {.B = B, .Tq = Tq, .Tk = Tk, .nH = m->hp.n_head, .nKV = m->hp.n_head, .hd = m->hp.d_kv,
                  .kv_bstride = kv_bstride, .scale = 1.0f, .causal = causal, .q_offset = q_offset,
                  .key_mask = kmask, .pos_bias = pos_bias};
    xgd_attention(s->att, NULL, s->q, k, v, &a);
    xgd_linear(s->ao, s->att, N, o, NULL);
    xgd_add_inplace(x, s->ao, N * m->hp.d_model);
}

/* The same with keys and values projected from kv_in (B*Tk, D). */
static void attend(const xgd_t5 *m, t5_scratch *s, float *x, const float *kv_in, int B, int Tq, int Tk,
                   const xgd_wmat *q, const xgd_wmat *k, const xgd_wmat *v, const xgd_wmat *o,
                   const uint8_t *kmask, const float *pos_bias, int causal) {
    int64_t Nk = (int64_t)B * Tk;
    xgd_linear(s->k, kv_in, Nk, k, NULL);
    xgd_linear(s->v, kv_in, Nk, v, NULL);
    attend_kv(m, s, x, s->k, s->v, 0, B, Tq, Tk, q, o, kmask, pos_bias, causal, 0);
}

/* x (N, D) += wo( act(wi0·h) [* wi1·h] ), h = RMS(x). */
static void feed_forward(const xgd_t5 *m, t5_scratch *s, float *x, const xgd_t5_block *bl, int64_t N) {
    const xgd_t5_hparams *hp = &m->hp;
    xgd_rmsnorm(s->h, NULL, x, bl->ln_ff, N, hp->d_model, hp->eps);
    xgd_linear(s->gate, s->h, N, &bl->wi0, NULL);
    if (hp->gated) {
        xgd_linear(s->up, s->h, N, &bl->wi1, NULL);
        xgd_gated(hp->act, s->gate, s->gate, s->up, N * hp->d_ff);
    } else xgd_act(hp->act, s->gate, s->gate, N * hp->d_ff);
    xgd_linear(s->ao, s->gate, N, &bl->wo, NULL);
    xgd_add_inplace(x, s->ao, N * hp->d_model);
}

/* One stack over x (B, T, D) in place, ending with the final norm. enc != NULL makes it the decoder. */
static void run_stack(const xgd_t5 *m, float *x, int B, int T, const uint8_t *mask, const xgd_t5_block *blocks,
                      int n_layer, const float *rel, const float *final_w, const float *enc, const uint8_t *enc_mask,
                      int Te, float *hidden) {
    const xgd_t5_hparams *hp = &m->hp;
    int64_t N = (int64_t)B * T, D = hp->d_model;
    int is_dec = enc != NULL;
    float *pb = position_bias(m, rel, T, T, !is_dec);
    t5_scratch s = scratch_new(m, N, is_dec ? (int64_t)B * Te : N);
    if (hidden) memcpy(hidden, x, sizeof(float) * (size_t)(N * D));
    for (int l = 0; l < n_layer; l++) {
        const xgd_t5_block *bl = &blocks[l];
        xgd_rmsnorm(s.h, NULL, x, bl->ln_sa, N, D, hp->eps);
        attend(m, &s, x, s.h, B, T, T, &bl->q, &bl->k, &bl->v, &bl->o, mask, pb, is_dec);
        if (is_dec) { /* cross-attention: queries from the decoder, keys/values from the encoder, no bias */
            xgd_rmsnorm(s.h, NULL, x, bl->ln_ca, N, D, hp->eps);
            attend(m, &s, x, enc, B, T, Te, &bl->cq, &bl->ck, &bl->cv, &bl->co, enc_mask, NULL, 0);
        }
        feed_forward(m, &s, x, bl, N);
        if (hidden && l + 1 < n_layer) memcpy(hidden + (size_t)(l + 1) * N * D, x, sizeof(float) * (size_t)(N * D));
    }
    xgd_rmsnorm(x, NULL, x, final_w, N, D, hp->eps);
    if (hidden) memcpy(hidden + (size_t)n_layer * N * D, x, sizeof(float) * (size_t)(N * D));
    scratch_free(&s);
    free(pb);
}

int xgd_t5_encode(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int T, float *enc, float *hidden) {
    if (B < 1 || T < 1) return xgd_fail("t5 encoder: empty input (B=%d, T=%d)", B, T);
    if (check_ids(m, ids, (int64_t)B * T, "t5 encoder input")) return -1;
    xgd_embedding(enc, ids, (int64_t)B * T, &m->shared);   /* no embedding scaling in T5 */
    run_stack(m, enc, B, T, mask, m->enc, m->hp.n_enc, m->enc_rel, m->enc_final, NULL, NULL, 0, hidden);
    return 0;
}

/* The decoder's output (B*Td, D) after the final norm and the optional d_model^-0.5 rescale: the
 * input of the head. Malloc'ed; NULL on error. */
static float *decoder_out(const xgd_t5 *m, const float *enc, const uint8_t *enc_mask, int B, int Te,
                          const int32_t *dec_ids, int Td, float *hidden) {
    if (B < 1 || Td < 1 || Te < 1) { xgd_fail("t5 decoder: empty input (B=%d, Td=%d, Te=%d)", B, Td, Te); return NULL; }
    if (check_ids(m, dec_ids, (int64_t)B * Td, "t5 decoder input")) return NULL;
    int64_t N = (int64_t)B * Td;
    float *y = xgd_malloc(sizeof(float) * (size_t)(N * m->hp.d_model));
    xgd_embedding(y, dec_ids, N, &m->shared);
    run_stack(m, y, B, Td, NULL, m->dec, m->hp.n_dec, m->dec_rel, m->dec_final, enc, enc_mask, Te, hidden);
    if (m->hp.scale_out) xgd_scale(y, (float)(1.0 / sqrt((double)m->hp.d_model)), N * m->hp.d_model);
    return y;
}

int xgd_t5_decode(const xgd_t5 *m, const float *enc, const uint8_t *enc_mask, int B, int Te,
                  const int32_t *dec_ids, int Td, float *logits, float *hidden) {
    float *y = decoder_out(m, enc, enc_mask, B, Te, dec_ids, Td, hidden);
    if (!y) return -1;
    if (logits) xgd_linear(logits, y, (int64_t)B * Td, &m->lm_head, NULL);
    free(y);
    return 0;
}

void xgd_t5_shift_right(const xgd_t5 *m, const int32_t *labels, int B, int T, int32_t *dec) {
    for (int b = 0; b < B; b++) {
        dec[(size_t)b * T] = m->hp.start_id;
        for (int t = 1; t < T; t++) {
            int32_t v = labels[(size_t)b * T + t - 1];
            dec[(size_t)b * T + t] = v == -100 ? m->hp.pad_id : v;
        }
    }
}

/* lp (B*Tl) = log p(labels[i]) at every decoder position of model(ids, labels=labels) (0 where the
 * label is -100). The head runs over chunks of rows so a 250k vocabulary never needs B*Tl*V floats
 * at once; logits_out (B*Tl, V), when non-NULL, receives them all. */
#define HEAD_ROWS 64
static int label_logprobs(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te,
                          const int32_t *labels, int Tl, float *lp, float *logits_out) {
    int64_t N = (int64_t)B * Tl, V = m->hp.vocab, D = m->hp.d_model;
    for (int64_t i = 0; i < N; i++)
        if (labels[i] != -100 && (labels[i] < 0 || labels[i] >= V))
            return xgd_fail("t5 labels: id %d at position %lld is outside the vocabulary (%lld) and not -100",
                            labels[i], (long long)i, (long long)V);
    float *enc = xgd_malloc(sizeof(float) * (size_t)B * Te * D);
    int32_t *dec = xgd_malloc(sizeof(int32_t) * (size_t)N);
    float *y = NULL;
    int rc = xgd_t5_encode(m, ids, mask, B, Te, enc, NULL);
    if (!rc) {
        xgd_t5_shift_right(m, labels, B, Tl, dec);
        if (!(y = decoder_out(m, enc, mask, B, Te, dec, Tl, NULL))) rc = -1;
    }
    if (!rc) {
        float *chunk = logits_out ? NULL : xgd_malloc(sizeof(float) * (size_t)((N < HEAD_ROWS ? N : HEAD_ROWS) * V));
        for (int64_t r = 0; r < N; r += HEAD_ROWS) {
            int64_t n = N - r < HEAD_ROWS ? N - r : HEAD_ROWS;
            float *z = logits_out ? logits_out + r * V : chunk;
            xgd_linear(z, y + r * D, n, &m->lm_head, NULL);
            /* no shift: decoder position t predicts labels[t]; -100 rows are skipped by the gather */
            xgd_logprob_gather(lp + r, NULL, z, labels + r, n, V);
        }
        free(chunk);
    }
    free(enc); free(dec); free(y);
    return rc;
}

int xgd_t5_loss(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te,
                const int32_t *labels, int Tl, double *loss, float *logits_out) {
    int64_t N = (int64_t)B * Tl;
    float *lp = xgd_malloc(sizeof(float) * (size_t)N);
    int rc = label_logprobs(m, ids, mask, B, Te, labels, Tl, lp, logits_out);
    if (!rc) {
        double sum = 0;
        int64_t count = 0;
        for (int64_t i = 0; i < N; i++)
            if (labels[i] >= 0) { sum -= lp[i]; count++; }
        *loss = count ? sum / (double)count : NAN;
    }
    free(lp);
    return rc;
}

int xgd_t5_loss_rows(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te,
                     const int32_t *labels, int Tl, double *loss) {
    float *lp = xgd_malloc(sizeof(float) * (size_t)B * Tl);
    int rc = label_logprobs(m, ids, mask, B, Te, labels, Tl, lp, NULL);
    for (int b = 0; !rc && b < B; b++) {
        double sum = 0;
        int64_t count = 0;
        for (int t = 0; t < Tl; t++)
            if (labels[(size_t)b * Tl + t] >= 0) { sum -= lp[(size_t)b * Tl + t]; count++; }
        loss[b] = count ? sum / (double)count : NAN;
    }
    free(lp);
    return rc;
}

/* Greedy decoding with caches: the cross-attention keys/values of every decoder block are
 * projected from the encoder output once, and each step appends its token's self-attention
 * keys/values to a per-block cache (B, Tmax, inner), so a step costs one token per sequence. */
typedef struct {
    float *ck, *cv;     /* (n_dec, B, Te, inner) cross-attention keys and values */
    float *sk, *sv;     /* (n_dec, B, Tmax, inner) self-attention cache */
    int Tmax;
} t5_cache;

/* One decoder step at position pos for tok (B): logits (B, V). */
static void decode_step(const xgd_t5 *m, const t5_cache *c, t5_scratch *s, const uint8_t *enc_mask, int B, int Te,
                        const int32_t *tok, int pos, float *logits) {
    const xgd_t5_hparams *hp = &m->hp;
    int64_t D = hp->d_model, I = hp->inner, Tm = c->Tmax;
    int nH = hp->n_head, Tk = pos + 1;
    float *x = xgd_malloc(sizeof(float) * (size_t)(B * D));
    float *pb = xgd_malloc(sizeof(float) * (size_t)nH * (size_t)Tk);
    for (int j = 0; j < Tk; j++) {   /* (nH, 1, Tk): the query is at pos */
        int b = xgd_t5_bucket(j - pos, 0, hp->buckets, hp->max_dist);
        for (int h = 0; h < nH; h++) pb[(size_t)h * Tk + j] = m->dec_rel[(size_t)b * nH + h];
    }
    xgd_embedding(x, tok, B, &m->shared);
    for (int l = 0; l < hp->n_dec; l++) {
        const xgd_t5_block *bl = &m->dec[l];
        float *sk = c->sk + (size_t)l * B * Tm * I, *sv = c->sv + (size_t)l * B * Tm * I;
        xgd_rmsnorm(s->h, NULL, x, bl->ln_sa, B, D, hp->eps);
        xgd_linear(s->k, s->h, B, &bl->k, NULL);
        xgd_linear(s->v, s->h, B, &bl->v, NULL);
        for (int b = 0; b < B; b++) {
            memcpy(sk + ((size_t)b * Tm + pos) * I, s->k + (size_t)b * I, sizeof(float) * (size_t)I);
            memcpy(sv + ((size_t)b * Tm + pos) * I, s->v + (size_t)b * I, sizeof(float) * (size_t)I);
        }
        attend_kv(m, s, x, sk, sv, Tm * I, B, 1, Tk, &bl->q, &bl->o, NULL, pb, 1, pos);
        xgd_rmsnorm(s->h, NULL, x, bl->ln_ca, B, D, hp->eps);
        attend_kv(m, s, x, c->ck + (size_t)l * B * Te * I, c->cv + (size_t)l * B * Te * I, 0, B, 1, Te,
                  &bl->cq, &bl->co, enc_mask, NULL, 0, 0);
        feed_forward(m, s, x, bl, B);
    }
    xgd_rmsnorm(x, NULL, x, m->dec_final, B, D, hp->eps);
    if (hp->scale_out) xgd_scale(x, (float)(1.0 / sqrt((double)D)), B * D);
    xgd_linear(logits, x, B, &m->lm_head, NULL);
    free(x);
    free(pb);
}

int xgd_t5_greedy(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te, int n,
                  int32_t *out, float *step_logits) {
    const xgd_t5_hparams *hp = &m->hp;
    int64_t V = hp->vocab, W = 1 + (int64_t)n, D = hp->d_model, I = hp->inner;
    if (n < 1) return xgd_fail("t5 greedy: max_new_tokens must be >= 1");
    float *enc = xgd_malloc(sizeof(float) * (size_t)B * Te * D);
    for (int64_t i = 0; i < B * W; i++) out[i] = hp->pad_id;
    for (int b = 0; b < B; b++) out[(size_t)b * W] = hp->start_id;
    if (xgd_t5_encode(m, ids, mask, B, Te, enc, NULL) != 0) { free(enc); return -1; }
    size_t cross = (size_t)hp->n_dec * B * Te * I, self = (size_t)hp->n_dec * B * W * I;
    t5_cache c = {xgd_malloc(sizeof(float) * cross), xgd_malloc(sizeof(float) * cross),
                  xgd_malloc(sizeof(float) * self), xgd_malloc(sizeof(float) * self), (int)W};
    for (int l = 0; l < hp->n_dec; l++) {
        xgd_linear(c.ck + (size_t)l * B * Te * I, enc, (int64_t)B * Te, &m->dec[l].ck, NULL);
        xgd_linear(c.cv + (size_t)l * B * Te * I, enc, (int64_t)B * Te, &m->dec[l].cv, NULL);
    }
    t5_scratch s = scratch_new(m, B, B);
    float *logits = xgd_malloc(sizeof(float) * (size_t)(B * V));
    int32_t *tok = xgd_malloc(sizeof(int32_t) * (size_t)B);
    uint8_t *done = xgd_calloc((size_t)B, 1);
    int steps = 0;
    for (int st = 0; st < n; st++) {
        for (int b = 0; b < B; b++) tok[b] = out[(size_t)b * W + st];
        decode_step(m, &c, &s, mask, B, Te, tok, st, logits);
        int all_done = 1;
        for (int b = 0; b < B; b++) {
            const float *z = logits + (size_t)b * V;
            if (step_logits) memcpy(step_logits + ((size_t)st * B + b) * V, z, sizeof(float) * (size_t)V);
            int32_t best = 0;   /* first maximum, as torch.argmax */
            for (int64_t v = 1; v < V; v++) if (z[v] > z[best]) best = (int32_t)v;
            int32_t t = done[b] ? hp->pad_id : best;   /* finished rows continue with pad */
            out[(size_t)b * W + st + 1] = t;
            if (t == hp->eos_id) done[b] = 1;
            all_done &= done[b];
        }
        steps = st + 1;
        if (all_done) break;
    }
    scratch_free(&s);
    free(c.ck); free(c.cv); free(c.sk); free(c.sv);
    free(enc); free(logits); free(tok); free(done);
    return steps;
}
