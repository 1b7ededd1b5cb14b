/* The one decoder runtime. Every family runs through this code; the description (family.h)
 * picks the norm, the QKV layout, the position scheme, the MLP kind and the residual wiring. */
#include "model/block.h"
#include "model/lora.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Activations of one inference call, carved from one allocation: the residual stream and one
 * block's intermediates (reused by every block). N = B*T rows. */
typedef struct {
    float *x;      /* (N, H) residual stream */
    xgd_block_acts b;
} acts;

static int64_t acts_floats(const xgd_hparams *hp, int64_t N) {
    int64_t H = hp->hidden, F = hp->inter, QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_kv * hp->head_dim;
    int64_t a = 6 * H + 3 * H + 2 * QD + 2 * KVD + 3 * F;
    return N * a + 16 * 16; /* + alignment slack */
}

static void acts_carve(acts *a, float *base, const xgd_hparams *hp, int64_t N) {
    int64_t H = hp->hidden, F = hp->inter, QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_kv * hp->head_dim;
    float *p = base;
    memset(a, 0, sizeof *a);
#define TAKE(f, n) do { f = p; p += ((N * (n)) + 15) & ~(int64_t)15; } while (0)
    TAKE(a->x, H); TAKE(a->b.h, H); TAKE(a->b.x1, H); TAKE(a->b.h2, H); TAKE(a->b.qkv, 3 * H); TAKE(a->b.q, QD);
    TAKE(a->b.k, KVD); TAKE(a->b.v, KVD); TAKE(a->b.att, QD); TAKE(a->b.ao, H); TAKE(a->b.pre, F); TAKE(a->b.up, F);
    TAKE(a->b.post, F); TAKE(a->b.mo, H);
#undef TAKE
}

void xgd_model_norm(const xgd_model *m, float *y, float *mean, float *rstd, const float *x, const float *w,
                    const float *b, int64_t N) {
    if (m->fam->norm == NORM_RMSNORM) xgd_rmsnorm(y, rstd, x, w, N, m->hp.hidden, m->hp.norm_eps);
    else xgd_layernorm(y, mean, rstd, x, w, b, N, m->hp.hidden, m->hp.norm_eps);
}

/* Split a fused projection (N, 3H) into q (N, nH, hd) and k, v rows: row n = b*T + t of k and v
 * goes to k/v + b*bstride + (past + t)*H, so that they can land in a KV cache directly (bstride =
 * T*H, past = 0: packed as q). GPT-2 lays the features out as [Q | K | V] blocks; BLOOM as
 * (nH, 3, hd), i.e. per head q, k, v interleaved. */
static void split_qkv(xgd_qkv_kind kind, const float *qkv, float *q, float *k, float *v, int64_t N, int nH, int hd,
                      int T, int64_t bstride, int past) {
    int64_t H = (int64_t)nH * hd;
    for (int64_t n = 0; n < N; n++) {
        const float *r = qkv + n * 3 * H;
        const int64_t kv = n / T * bstride + (past + n % T) * H;
        if (kind == QKV_BLOCKS) {
            memcpy(q + n * H, r, sizeof(float) * (size_t)H);
            memcpy(k + kv, r + H, sizeof(float) * (size_t)H);
            memcpy(v + kv, r + 2 * H, sizeof(float) * (size_t)H);
        } else {
            for (int h = 0; h < nH; h++) {
                memcpy(q + n * H + (int64_t)h * hd, r + (int64_t)h * 3 * hd, sizeof(float) * (size_t)hd);
                memcpy(k + kv + (int64_t)h * hd, r + (int64_t)h * 3 * hd + hd, sizeof(float) * (size_t)hd);
                memcpy(v + kv + (int64_t)h * hd, r + (int64_t)h * 3 * hd + 2 * hd, sizeof(float) * (size_t)hd);
            }
        }
    }
}

/* Cohere use_qk_norm: a LayerNorm (no bias) over each head's hd features, one weight row per head.
 * x (N, nheads, hd) is normalised into y; mean/rstd (N*nheads) are saved when non-NULL. */
static void head_norm(float *y, float *mean, float *rstd, const float *x, const float *w, int64_t N, int nheads, int hd, float eps) {
    for (int64_t n = 0; n < N; n++)
        for (int h = 0; h < nheads; h++) {
            int64_t r = n * nheads + h;
            xgd_layernorm(y + r * hd, mean ? mean + r : NULL, rstd ? rstd + r : NULL, x + r * hd, w + (int64_t)h * hd, NULL, 1, hd, eps);
        }
}

static void fire(const xgd_block_io *io, xgd_hook_kind kind, int layer, float *x, int D) {
    const xgd_fwd *f = io->f;
    if (!f || !f->hooks || !xgd_hooks_any(f->hooks, kind, layer)) return;
    xgd_hook_event ev = {kind, layer, x, io->B, io->T, D, io->past, f->mask};
    xgd_hooks_fire(f->hooks, &ev);
}

float xgd_attn_scale(const xgd_model *m, int l) {
    float scale = 1.0f;
    if (m->fam->pos != POS_LEARNED || m->hp.scale_attn_weights) scale = 1.0f / sqrtf((float)m->hp.head_dim);
    if (m->hp.scale_attn_by_layer) scale /= (float)(l + 1);
    return scale;
}

/* Self-attention of one layer: a->h (N,H) -> a->ao (N,H). Writes this call's k, v into io->kc/vc. */
static void attention(const xgd_model *m, int l, xgd_block_acts *a, const xgd_block_io *io) {
    const xgd_hparams *hp = &m->hp;
    const xgd_layer *L = &m->layers[l];
    int B = io->B, T = io->T, nH = hp->n_head, nKV = hp->n_kv, hd = hp->head_dim;
    int64_t N = (int64_t)B * T, KVD = (int64_t)nKV * hd;
    /* with qk-norm, training keeps the raw projections in q_raw/k_raw; inference normalises in place */
    float *q = hp->qk_norm && a->q_raw ? a->q_raw : a->q, *k = hp->qk_norm && a->k_raw ? a->k_raw : a->k;
    /* a fused projection of a family without RoPE or qk-norm (GPT-2, BLOOM) puts k and v straight
     * into the cache when there is one: two copies of (N, H) fewer per layer */
    const int direct = m->fam->qkv != QKV_SEPARATE && io->kc != a->k && !hp->qk_norm &&
                       m->fam->pos != POS_ROPE && m->fam->pos != POS_ROPE_INTERLEAVED;
    if (m->fam->qkv == QKV_SEPARATE) {
        xgd_lin(q, a->h, N, &L->q, L->q_b, L->lora[XGD_LORA_Q]);
        xgd_lin(k, a->h, N, &L->k, L->k_b, L->lora[XGD_LORA_K]);
        xgd_lin(a->v, a->h, N, &L->v, L->v_b, L->lora[XGD_LORA_V]);
    } else {
        xgd_lin(a->qkv, a->h, N, &L->qkv, L->qkv_b, L->lora[XGD_LORA_QKV]);
        if (direct) split_qkv(m->fam->qkv, a->qkv, q, io->kc, io->vc, N, nH, hd, T, io->kv_bstride, io->past);
        else split_qkv(m->fam->qkv, a->qkv, q, k, a->v, N, nH, hd, T, (int64_t)T * KVD, 0);
    }
    if (hp->qk_norm) {
        head_norm(a->q, a->qn_mean, a->qn_rstd, q, L->q_norm, N, nH, hd, hp->norm_eps);
        head_norm(a->k, a->kn_mean, a->kn_rstd, k, L->k_norm, N, nKV, hd, hp->norm_eps);
    }
    if (m->fam->pos == POS_ROPE || m->fam->pos == POS_ROPE_INTERLEAVED) {
        int inter = m->fam->pos == POS_ROPE_INTERLEAVED;
        xgd_rope(a->q, io->pos, N, nH, hd, m->inv_freq, inter);
        xgd_rope(a->k, io->pos, N, nKV, hd, m->inv_freq, inter);
    }
    /* append k, v at (b, past + t) unless attention reads them in place (training) */
    if (io->kc != a->k && !direct)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                int64_t n = (int64_t)b * T + t, slot = (int64_t)b * io->kv_bstride + (int64_t)(io->past + t) * KVD;
                memcpy(io->kc + slot, a->k + n * KVD, sizeof(float) * (size_t)KVD);
                memcpy(io->vc + slot, a->v + n * KVD, sizeof(float) * (size_t)KVD);
            }
    xgd_attn at = {
        .B = B, .Tq = T, .Tk = io->past + T, .nH = nH, .nKV = nKV, .hd = hd, .kv_bstride = io->kv_bstride,
        .scale = xgd_attn_scale(m, l), .causal = 1, .q_offset = io->past, .key_mask = io->kmask,
        .alibi = m->fam->pos == POS_ALIBI ? m->alibi : NULL, .key_pos = io->kpos, .pos_bias = NULL,
    };
    xgd_attention(a->att, a->probs, a->q, io->kc, io->vc, &at);
    xgd_lin(a->ao, a->att, N, &L->o, L->o_b, L->lora[XGD_LORA_O]);
}

/* MLP of one layer: in (N,H) -> a->mo (N,H), with the neuron hooks. */
static void mlp(const xgd_model *m, int l, xgd_block_acts *a, const float *in, const xgd_block_io *io) {
    const xgd_layer *L = &m->layers[l];
    int64_t N = (int64_t)io->B * io->T, F = m->hp.inter;
    if (m->fam->gated_mlp) {
        xgd_lin(a->pre, in, N, &L->gate, L->gate_b, L->lora[XGD_LORA_GATE]);
        xgd_lin(a->up, in, N, &L->up, L->up_b, L->lora[XGD_LORA_UP]);
        fire(io, XGD_HOOK_MLP_PRE, l, a->pre, (int)F);
        xgd_gated(m->hp.act, a->post, a->pre, a->up, N * F);
    } else {
        xgd_lin(a->pre, in, N, &L->up, L->up_b, L->lora[XGD_LORA_UP]);
        fire(io, XGD_HOOK_MLP_PRE, l, a->pre, (int)F);
        xgd_act(m->hp.act, a->post, a->pre, N * F);
    }
    fire(io, XGD_HOOK_MLP_POST, l, a->post, (int)F);
    xgd_lin(a->mo, a->post, N, &L->down, L->down_b, L->lora[XGD_LORA_DOWN]);
}

/* One block: the residual wiring differs per family. */
void xgd_block_forward(const xgd_model *m, int l, float *x, xgd_block_acts *a, const xgd_block_io *io) {
    const xgd_layer *L = &m->layers[l];
    int64_t N = (int64_t)io->B * io->T, H = m->hp.hidden;
    xgd_model_norm(m, a->h, a->ln1_mean, a->ln1_rstd, x, L->ln1_w, L->ln1_b, N);
    attention(m, l, a, io);
    fire(io, XGD_HOOK_ATTN_OUT, l, a->ao, (int)H);
    if (m->fam->resid == RESID_PARALLEL) {          /* Cohere: x + attn(n) + mlp(n) */
        mlp(m, l, a, a->h, io);
        xgd_add_inplace(x, a->ao, N * H);
        xgd_add_inplace(x, a->mo, N * H);
    } else {
        /* BLOOM's apply_residual_connection_post_layernorm takes the residual from the normed input */
        xgd_add(a->x1, m->hp.post_ln_residual ? a->h : x, a->ao, N * H);
        xgd_model_norm(m, a->h2, a->ln2_mean, a->ln2_rstd, a->x1, L->ln2_w, L->ln2_b, N);
        mlp(m, l, a, a->h2, io);
        xgd_add(x, m->hp.post_ln_residual ? a->h2 : a->x1, a->mo, N * H);
    }
    fire(io, XGD_HOOK_RESID_POST, l, x, (int)H);
}

/* The embedding before any norm: token rows (+ the embedding adapter) + learned positions, into
 * x (N, H); tmp (N, H) is scratch. Checks ids and positions. The training graph recomputes it as
 * the input of BLOOM's embedding norm. */
int xgd_model_embed_raw(const xgd_model *m, float *x, float *tmp, const int32_t *ids, const int32_t *pos, int64_t N) {
    const xgd_hparams *hp = &m->hp;
    for (int64_t n = 0; n < N; n++)
        if (ids[n] < 0 || ids[n] >= hp->vocab)
            return xgd_fail("token id %d at position %lld is outside the vocabulary [0, %d)", ids[n], (long long)n, hp->vocab);
    xgd_embedding(x, ids, N, &m->g.embed);
    if (m->g.lora_embed) xgd_lora_embed(x, ids, N, m->g.lora_embed);
    if (m->fam->pos == POS_LEARNED) {
        for (int64_t n = 0; n < N; n++)
            if (pos[n] < 0 || pos[n] >= hp->max_pos)
                return xgd_fail("position %d is beyond the model's %d learned positions", pos[n], hp->max_pos);
        xgd_embedding(tmp, pos, N, &m->g.pos_embed);
        xgd_add_inplace(x, tmp, N * hp->hidden);
    }
    return 0;
}

/* The embedding output: the raw embedding, then BLOOM's embedding LayerNorm. */
int xgd_model_embed(const xgd_model *m, float *x, float *tmp, const int32_t *ids, const int32_t *pos, int64_t N) {
    if (xgd_model_embed_raw(m, x, tmp, ids, pos, N) != 0) return -1;
    if (m->fam->has_embed_norm)
        xgd_layernorm(x, NULL, NULL, x, m->g.embed_ln_w, m->g.embed_ln_b, N, m->hp.hidden, m->hp.norm_eps);
    return 0;
}

/* Final norm over all rows, then the head on all rows or on each sequence's last row. */
static void head(const xgd_state *s, acts *a, const xgd_fwd *f, const xgd_block_io *io) {
    const xgd_model *m = s->m;
    int64_t N = (int64_t)s->B * f->T, H = m->hp.hidden, V = m->hp.vocab;
    float *hf = a->b.h, *last = a->b.h2;
    xgd_model_norm(m, hf, NULL, NULL, a->x, m->g.final_w, m->g.final_b, N);
    fire(io, XGD_HOOK_FINAL_NORM, -1, hf, (int)H);
    if (!f->logits) return;
    const float *rows = hf;
    int64_t M = N;
    if (!f->all_logits) { /* gather the last row of each sequence */
        for (int b = 0; b < s->B; b++)
            memcpy(last + (int64_t)b * H, hf + ((int64_t)b * f->T + f->T - 1) * H, sizeof(float) * (size_t)H);
        rows = last;
        M = s->B;
    }
    xgd_lin(f->logits, rows, M, xgd_model_head(m), NULL, m->g.lora_head);
    if (m->hp.logit_scale != 1.0f) xgd_scale(f->logits, m->hp.logit_scale, M * V);
    xgd_block_io lio = *io;
    lio.T = f->all_logits ? f->T : 1;
    fire(&lio, XGD_HOOK_LOGITS, -1, f->logits, (int)V);
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
    const xgd_hparams *hp = &s->m->hp;
    int64_t bstride = (int64_t)s->Tmax * hp->n_kv * hp->head_dim;
    xgd_block_io io = {.B = B, .T = T, .past = s->past, .pos = pos, .kmask = kmask, .kpos = kpos,
                       .kv_bstride = bstride, .f = f};
    int rc = xgd_model_embed(s->m, a.x, a.b.h, f->ids, pos, N);
    if (rc == 0) {
        fire(&io, XGD_HOOK_EMBED, -1, a.x, hp->hidden);
        for (int l = 0; l < hp->n_layer; l++) {
            io.kc = s->kv + (int64_t)l * 2 * B * bstride;
            io.vc = io.kc + (int64_t)B * bstride;
            xgd_block_forward(s->m, l, a.x, &a.b, &io);
        }
        head(s, &a, f, &io);
        memcpy(s->seen, seen, sizeof(int32_t) * (size_t)B);
        s->past += T;
    }
    free(pos); free(kmask); free(kpos); free(seen);
    return rc;
}
