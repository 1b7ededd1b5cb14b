/* The one decoder runtime. Every family runs through this code; the description (family.h)
 * picks the norm, the QKV layout, the position scheme, the MLP kind and the residual wiring. */
#include "model/runtime.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Activations of one call, carved from one allocation. N = B*T rows. */
typedef struct {
    float *x;      /* (N, H)    residual stream */
    float *h;      /* (N, H)    normed input of attention (and of the MLP when parallel) */
    float *h2;     /* (N, H)    normed input of the MLP (sequential) */
    float *qkv;    /* (N, 3H)   fused projection (GPT-2, BLOOM) */
    float *q;      /* (N, nH*hd) */
    float *k, *v;  /* (N, nKV*hd) */
    float *att;    /* (N, nH*hd) attention context */
    float *ao;     /* (N, H)    attention output (after o-proj) */
    float *pre;    /* (N, F)    MLP pre-activation (GPT-2/BLOOM: fc; Llama/Cohere: gate) */
    float *up;     /* (N, F)    gated MLP up projection */
    float *post;   /* (N, F)    MLP post-activation (the neurons) */
    float *mo;     /* (N, H)    MLP output */
} acts;

static int64_t acts_floats(const xgd_hparams *hp, int64_t N) {
    int64_t H = hp->hidden, F = hp->inter, QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_kv * hp->head_dim;
    int64_t a = 5 * H + 3 * H + 2 * QD + 2 * KVD + 3 * F;
    return N * a + 16 * 8; /* + alignment slack */
}

static void acts_carve(acts *a, float *base, const xgd_hparams *hp, int64_t N) {
    int64_t H = hp->hidden, F = hp->inter, QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_kv * hp->head_dim;
    float *p = base;
#define TAKE(f, n) do { a->f = p; p += ((N * (n)) + 15) & ~(int64_t)15; } while (0)
    TAKE(x, H); TAKE(h, H); TAKE(h2, H); TAKE(qkv, 3 * H); TAKE(q, QD); TAKE(k, KVD); TAKE(v, KVD);
    TAKE(att, QD); TAKE(ao, H); TAKE(pre, F); TAKE(up, F); TAKE(post, F); TAKE(mo, H);
#undef TAKE
}

static void norm(const xgd_model *m, float *y, const float *x, const float *w, const float *b, int64_t N) {
    if (m->fam->norm == NORM_RMSNORM) xgd_rmsnorm(y, NULL, x, w, N, m->hp.hidden, m->hp.norm_eps);
    else xgd_layernorm(y, NULL, NULL, x, w, b, N, m->hp.hidden, m->hp.norm_eps);
}

/* Split a fused projection (N, 3H) into q, k, v (N, nH, hd). GPT-2 lays the features out as
 * [Q | K | V] blocks; BLOOM as (nH, 3, hd), i.e. per head q, k, v interleaved. */
static void split_qkv(xgd_qkv_kind kind, const float *qkv, float *q, float *k, float *v, int64_t N, int nH, int hd) {
    int64_t H = (int64_t)nH * hd;
    for (int64_t n = 0; n < N; n++) {
        const float *r = qkv + n * 3 * H;
        if (kind == QKV_BLOCKS) {
            memcpy(q + n * H, r, sizeof(float) * (size_t)H);
            memcpy(k + n * H, r + H, sizeof(float) * (size_t)H);
            memcpy(v + n * H, r + 2 * H, sizeof(float) * (size_t)H);
        } else {
            for (int h = 0; h < nH; h++) {
                memcpy(q + n * H + (int64_t)h * hd, r + (int64_t)h * 3 * hd, sizeof(float) * (size_t)hd);
                memcpy(k + n * H + (int64_t)h * hd, r + (int64_t)h * 3 * hd + hd, sizeof(float) * (size_t)hd);
                memcpy(v + n * H + (int64_t)h * hd, r + (int64_t)h * 3 * hd + 2 * hd, sizeof(float) * (size_t)hd);
            }
        }
    }
}

/* Cohere use_qk_norm: a LayerNorm (no bias) over each head's hd features, one weight row per head. */
static void head_norm(float *x, const float *w, int64_t N, int nheads, int hd, float eps) {
    for (int64_t n = 0; n < N; n++)
        for (int h = 0; h < nheads; h++) {
            float *r = x + (n * nheads + h) * hd;
            xgd_layernorm(r, NULL, NULL, r, w + (int64_t)h * hd, NULL, 1, hd, eps);
        }
}

static void fire(const xgd_fwd *f, xgd_hook_kind kind, int layer, float *x, int B, int T, int D, int past) {
    if (!f->hooks || !xgd_hooks_any(f->hooks, kind, layer)) return;
    xgd_hook_event ev = {kind, layer, x, B, T, D, past, f->mask};
    xgd_hooks_fire(f->hooks, &ev);
}

/* Self-attention of one layer: h (N,H) -> a->ao (N,H). Appends this call's k, v to the cache. */
static void attention(xgd_state *s, int l, acts *a, const xgd_fwd *f, const int32_t *pos,
                      const uint8_t *kmask, const int32_t *kpos) {
    const xgd_model *m = s->m;
    const xgd_hparams *hp = &m->hp;
    const xgd_layer *L = &m->layers[l];
    int B = s->B, T = f->T, nH = hp->n_head, nKV = hp->n_kv, hd = hp->head_dim;
    int64_t N = (int64_t)B * T, KVD = (int64_t)nKV * hd;
    if (m->fam->qkv == QKV_SEPARATE) {
        xgd_linear(a->q, a->h, N, &L->q, L->q_b);
        xgd_linear(a->k, a->h, N, &L->k, L->k_b);
        xgd_linear(a->v, a->h, N, &L->v, L->v_b);
    } else {
        xgd_linear(a->qkv, a->h, N, &L->qkv, L->qkv_b);
        split_qkv(m->fam->qkv, a->qkv, a->q, a->k, a->v, N, nH, hd);
    }
    if (hp->qk_norm) {
        head_norm(a->q, L->q_norm, N, nH, hd, hp->norm_eps);
        head_norm(a->k, L->k_norm, N, nKV, hd, hp->norm_eps);
    }
    if (m->fam->pos == POS_ROPE || m->fam->pos == POS_ROPE_INTERLEAVED) {
        int inter = m->fam->pos == POS_ROPE_INTERLEAVED;
        xgd_rope(a->q, pos, N, nH, hd, m->inv_freq, inter);
        xgd_rope(a->k, pos, N, nKV, hd, m->inv_freq, inter);
    }
    /* append k, v to the cache: layer l, slot (b, past + t) */
    int64_t bstride = (int64_t)s->Tmax * KVD;
    float *kc = s->kv + (int64_t)l * 2 * B * bstride, *vc = kc + (int64_t)B * bstride;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int64_t n = (int64_t)b * T + t, slot = (int64_t)b * bstride + (int64_t)(s->past + t) * KVD;
            memcpy(kc + slot, a->k + n * KVD, sizeof(float) * (size_t)KVD);
            memcpy(vc + slot, a->v + n * KVD, sizeof(float) * (size_t)KVD);
        }
    float scale = 1.0f;
    if (m->fam->pos != POS_LEARNED || hp->scale_attn_weights) scale = 1.0f / sqrtf((float)hd);
    if (hp->scale_attn_by_layer) scale /= (float)(l + 1);
    xgd_attn at = {
        .B = B, .Tq = T, .Tk = s->past + T, .nH = nH, .nKV = nKV, .hd = hd, .kv_bstride = bstride,
        .scale = scale, .causal = 1, .q_offset = s->past, .key_mask = kmask,
        .alibi = m->fam->pos == POS_ALIBI ? m->alibi : NULL, .key_pos = kpos, .pos_bias = NULL,
    };
    xgd_attention(a->att, NULL, a->q, kc, vc, &at);
    xgd_linear(a->ao, a->att, N, &L->o, L->o_b);
}

/* MLP of one layer: in (N,H) -> a->mo (N,H), with the neuron hooks. */
static void mlp(const xgd_state *s, int l, acts *a, const float *in, const xgd_fwd *f) {
    const xgd_model *m = s->m;
    const xgd_layer *L = &m->layers[l];
    int64_t N = (int64_t)s->B * f->T, F = m->hp.inter;
    if (m->fam->gated_mlp) {
        xgd_linear(a->pre, in, N, &L->gate, L->gate_b);
        xgd_linear(a->up, in, N, &L->up, L->up_b);
        fire(f, XGD_HOOK_MLP_PRE, l, a->pre, s->B, f->T, (int)F, s->past);
        xgd_gated(m->hp.act, a->post, a->pre, a->up, N * F);
    } else {
        xgd_linear(a->pre, in, N, &L->up, L->up_b);
        fire(f, XGD_HOOK_MLP_PRE, l, a->pre, s->B, f->T, (int)F, s->past);
        xgd_act(m->hp.act, a->post, a->pre, N * F);
    }
    fire(f, XGD_HOOK_MLP_POST, l, a->post, s->B, f->T, (int)F, s->past);
    xgd_linear(a->mo, a->post, N, &L->down, L->down_b);
}

/* One block: the residual wiring differs per family. */
static void block(xgd_state *s, int l, acts *a, const xgd_fwd *f, const int32_t *pos, const uint8_t *kmask, const int32_t *kpos) {
    const xgd_model *m = s->m;
    const xgd_layer *L = &m->layers[l];
    int64_t N = (int64_t)s->B * f->T, H = m->hp.hidden;
    norm(m, a->h, a->x, L->ln1_w, L->ln1_b, N);
    attention(s, l, a, f, pos, kmask, kpos);
    fire(f, XGD_HOOK_ATTN_OUT, l, a->ao, s->B, f->T, (int)H, s->past);
    if (m->fam->resid == RESID_PARALLEL) {          /* Cohere: x + attn(n) + mlp(n) */
        mlp(s, l, a, a->h, f);
        xgd_add_inplace(a->x, a->ao, N * H);
        xgd_add_inplace(a->x, a->mo, N * H);
    } else {
        /* BLOOM's apply_residual_connection_post_layernorm takes the residual from the normed input */
        if (m->hp.post_ln_residual) memcpy(a->x, a->h, sizeof(float) * (size_t)(N * H));
        xgd_add_inplace(a->x, a->ao, N * H);
        norm(m, a->h2, a->x, L->ln2_w, L->ln2_b, N);
        mlp(s, l, a, a->h2, f);
        if (m->hp.post_ln_residual) memcpy(a->x, a->h2, sizeof(float) * (size_t)(N * H));
        xgd_add_inplace(a->x, a->mo, N * H);
    }
    fire(f, XGD_HOOK_RESID_POST, l, a->x, s->B, f->T, (int)H, s->past);
}

/* Token (+ learned position) embeddings, BLOOM's embedding LayerNorm. */
static int embed(const xgd_state *s, acts *a, const xgd_fwd *f, const int32_t *pos) {
    const xgd_model *m = s->m;
    const xgd_hparams *hp = &m->hp;
    int64_t N = (int64_t)s->B * f->T, H = hp->hidden;
    for (int64_t n = 0; n < N; n++)
        if (f->ids[n] < 0 || f->ids[n] >= hp->vocab)
            return xgd_fail("token id %d at position %lld is outside the vocabulary [0, %d)", f->ids[n], (long long)n, hp->vocab);
    xgd_embedding(a->x, f->ids, N, &m->g.embed);
    if (m->fam->pos == POS_LEARNED) {
        for (int64_t n = 0; n < N; n++)
            if (pos[n] < 0 || pos[n] >= hp->max_pos)
                return xgd_fail("position %d is beyond the model's %d learned positions", pos[n], hp->max_pos);
        xgd_embedding(a->h, pos, N, &m->g.pos_embed);
        xgd_add_inplace(a->x, a->h, N * H);
    }
    if (m->fam->has_embed_norm)
        xgd_layernorm(a->x, NULL, NULL, a->x, m->g.embed_ln_w, m->g.embed_ln_b, N, H, hp->norm_eps);
    return 0;
}

/* Final norm over all rows, then the head on all rows or on each sequence's last row. */
static void head(const xgd_state *s, acts *a, const xgd_fwd *f) {
    const xgd_model *m = s->m;
    int64_t N = (int64_t)s->B * f->T, H = m->hp.hidden, V = m->hp.vocab;
    norm(m, a->h, a->x, m->g.final_w, m->g.final_b, N);
    fire(f, XGD_HOOK_FINAL_NORM, -1, a->h, s->B, f->T, (int)H, s->past);
    if (!f->logits) return;
    const float *rows = a->h;
    int64_t M = N;
    if (!f->all_logits) { /* gather the last row of each sequence into h2 */
        for (int b = 0; b < s->B; b++)
            memcpy(a->h2 + (int64_t)b * H, a->h + ((int64_t)b * f->T + f->T - 1) * H, sizeof(float) * (size_t)H);
        rows = a->h2;
        M = s->B;
    }
    xgd_linear(f->logits, rows, M, xgd_model_head(m), NULL);
    if (m->hp.logit_scale != 1.0f) xgd_scale(f->logits, m->hp.logit_scale, M * V);
    fire(f, XGD_HOOK_LOGITS, -1, f->logits, s->B, f->all_logits ? f->T : 1, (int)V, s->past);
}

int xgd_forward(xgd_state *s, const xgd_fwd *f) {
    int B = s->B, T = f->T, Tk = s->past + T;
    if (T <= 0) return xgd_fail("forward needs at least one token");
    if (Tk > s->Tmax) return xgd_fail("sequence of %d tokens exceeds the cache capacity %d", Tk, s->Tmax);
    int64_t N = (int64_t)B * T;
    if (N > s->scratch_rows) {
        free(s->scratch);
        s->scratch = xgd_aligned_alloc(sizeof(float) * (size_t)acts_floats(&s->m->hp, N));
        s->scratch_rows = N;
    }
    acts a;
    acts_carve(&a, s->scratch, &s->m->hp, N);
    /* positions and masks of this call, appended to the cached history */
    int32_t *pos = xgd_malloc(sizeof(int32_t) * (size_t)N);
    uint8_t *kmask = xgd_malloc((size_t)B * (size_t)Tk);
    int32_t *kpos = xgd_malloc(sizeof(int32_t) * (size_t)B * (size_t)Tk);
    int32_t *seen = xgd_malloc(sizeof(int32_t) * (size_t)B);
    memcpy(seen, s->seen, sizeof(int32_t) * (size_t)B);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int64_t n = (int64_t)b * T + t;
            int real = f->mask ? f->mask[n] != 0 : 1;
            pos[n] = f->pos ? f->pos[n] : (real ? seen[b] : 1);
            if (real) seen[b]++;
            s->mask[(int64_t)b * s->Tmax + s->past + t] = (uint8_t)real;
            s->kpos[(int64_t)b * s->Tmax + s->past + t] = real ? pos[n] : 0;
        }
    for (int b = 0; b < B; b++) {
        memcpy(kmask + (int64_t)b * Tk, s->mask + (int64_t)b * s->Tmax, (size_t)Tk);
        memcpy(kpos + (int64_t)b * Tk, s->kpos + (int64_t)b * s->Tmax, sizeof(int32_t) * (size_t)Tk);
    }
    int rc = embed(s, &a, f, pos);
    if (rc == 0) {
        fire(f, XGD_HOOK_EMBED, -1, a.x, B, T, s->m->hp.hidden, s->past);
        for (int l = 0; l < s->m->hp.n_layer; l++) block(s, l, &a, f, pos, kmask, kpos);
        head(s, &a, f);
        memcpy(s->seen, seen, sizeof(int32_t) * (size_t)B);
        s->past += T;
    }
    free(pos); free(kmask); free(kpos); free(seen);
    return rc;
}
