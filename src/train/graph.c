#include "train/graph.h"
#include "base/err.h"
#include "model/block.h"
#include "model/lora.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of one logits buffer when the head is recomputed chunk by chunk in backward. Wide chunks
 * matter: each head product reads (and, in fast bf16 mode, repacks for AMX) the whole (V, H)
 * weight, so 64-row chunks spent more time packing the weight than multiplying. */
#define HEAD_CHUNK_BYTES ((int64_t)64 << 20)
/* Default bytes the graph may spend to keep activations instead of recomputing them
 * (XGD_TRAIN_ACT_MB overrides; 0 = always recompute). */
#define ACT_BUDGET_MB_DEFAULT 3072

struct xgd_tgraph {
    xgd_params *p;         /* NULL: base weights frozen */
    const xgd_model *m;
    xgd_layer frozen;      /* all-NULL gradient views used when p is NULL */
    xgd_globals frozen_g;
    int Bmax, Tmax, B, T;
    int64_t N;
    int64_t budget;        /* bytes for kept activations (blocks first, then the head's logits) */
    float *resid;          /* (L+1, N, H): input of each block; resid[L] = the last block's output */
    float *hf, *fmean, *frstd;         /* final norm output (N, H) and its stats */
    int32_t *ids, *tgt, *pos, *kpos;   /* (N) */
    uint8_t *kmask;        /* (B, T) */
    xgd_block_acts a;      /* one block's intermediates, recomputed per block in backward */
    xgd_block_acts *la;    /* (L) each block's intermediates kept from the forward pass, or NULL
                            * (then backward recomputes each block from its input: checkpointing) */
    float *lamem;
    float *dx, *dh, *dx1, *dh2, *dao, *dmo, *dpost, *dpre, *dup, *datt, *dq, *dk, *dv, *dqkv, *dqr, *dkr;
    float *tmp;            /* (N, H) */
    /* The head runs only on the NT rows that have a target (the prompt and padding rows of a DPO
     * batch have none and their log-probs are 0): trow/ttgt (N) list them, hsel/dsel (N, H) hold
     * their final-norm outputs and the gradient of those, tlse/tdlp (N) their logsumexp and
     * d(logp). Their logits (NT, V) are kept from the forward pass when the budget allows
     * (head_kept), else recomputed in chunks of HC rows. */
    int64_t NT, HC, lcap;  /* lcap: rows the logits buffers hold */
    int64_t *trow;
    int32_t *ttgt;
    float *hsel, *dsel, *tlp, *tlse, *tdlp;
    float *logits, *dlogits;           /* (lcap, V) */
    int head_kept;
    float *ones, *colsum;  /* (V) ones, (H) column sums of the head (logit_sum) */
    float *mem;            /* the fixed-size arrays above, one allocation */
};

/* One block's intermediates for B sequences of T tokens, carved from base (NULL: only counted).
 * With shared, the arrays backward never reads (the fused qkv, the attention and MLP outputs)
 * point to shared's instead. Returns the floats used (each array rounded to 16 floats, so every
 * array starts 64-byte aligned when base does). */
static int64_t carve_acts(xgd_block_acts *a, float *base, const xgd_model *m, int B, int T, const xgd_block_acts *shared) {
    const xgd_hparams *hp = &m->hp;
    int64_t N = (int64_t)B * T, H = hp->hidden, F = hp->inter;
    int64_t QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_kv * hp->head_dim;
    int64_t used = 0;
    memset(a, 0, sizeof *a);
#define TAKE(f, n) do { int64_t n_ = ((n) + 15) & ~(int64_t)15; if (base) f = base + used; used += n_; } while (0)
    TAKE(a->h, N * H); TAKE(a->x1, N * H); TAKE(a->h2, N * H);
    TAKE(a->q, N * QD); TAKE(a->k, N * KVD); TAKE(a->v, N * KVD); TAKE(a->att, N * QD);
    TAKE(a->pre, N * F); TAKE(a->post, N * F);
    if (m->fam->gated_mlp) TAKE(a->up, N * F);
    if (hp->qk_norm) {
        TAKE(a->q_raw, N * QD); TAKE(a->k_raw, N * KVD);
        TAKE(a->qn_mean, N * hp->n_head); TAKE(a->qn_rstd, N * hp->n_head);
        TAKE(a->kn_mean, N * hp->n_kv); TAKE(a->kn_rstd, N * hp->n_kv);
    }
    TAKE(a->ln1_mean, N); TAKE(a->ln1_rstd, N); TAKE(a->ln2_mean, N); TAKE(a->ln2_rstd, N);
    TAKE(a->probs, (int64_t)B * hp->n_head * T * T);
    if (shared) {
        a->qkv = shared->qkv; a->ao = shared->ao; a->mo = shared->mo;
    } else {
        if (m->fam->qkv != QKV_SEPARATE) TAKE(a->qkv, 3 * N * H);
        TAKE(a->ao, N * H); TAKE(a->mo, N * H);
    }
#undef TAKE
    return used;
}

static int64_t act_budget(void) {
    const char *s = getenv("XGD_TRAIN_ACT_MB");
    int64_t mb = s && *s ? atoll(s) : ACT_BUDGET_MB_DEFAULT;
    return (mb < 0 ? 0 : mb) << 20;
}

/* Make the logits buffers hold n rows. */
static void logits_reserve(xgd_tgraph *g, int64_t n) {
    if (n <= g->lcap) return;
    size_t bytes = sizeof(float) * (size_t)(n * g->m->hp.vocab);
    free(g->logits);
    free(g->dlogits);
    g->logits = xgd_aligned_alloc(bytes);
    g->dlogits = xgd_aligned_alloc(bytes);
    g->lcap = n;
}

xgd_tgraph *xgd_tgraph_new(xgd_model *m, xgd_params *p, int B, int T) {
    const xgd_hparams *hp = &m->hp;
    xgd_tgraph *g = xgd_calloc(1, sizeof *g);
    g->p = p;
    g->m = m;
    g->Bmax = B;
    g->Tmax = T;
    int64_t N = (int64_t)B * T, H = hp->hidden, F = hp->inter, V = hp->vocab;
    int64_t QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_kv * hp->head_dim, L = hp->n_layer;
    /* sizes in floats, each rounded to 16 so every array starts 64-byte aligned */
    int64_t sizes[] = {
        (L + 1) * N * H, N * H, N, N,                                   /* resid hf fmean frstd */
        carve_acts(&g->a, NULL, m, B, T, NULL),                         /* a */
        N * H, N * H, N * H, N * H, N * H, N * H, N * F, N * F, N * F,  /* dx dh dx1 dh2 dao dmo dpost dpre dup */
        N * QD, N * QD, N * KVD, N * KVD, 3 * N * H, N * QD, N * KVD,  /* datt dq dk dv dqkv dqr dkr */
        N * H, N * H, N * H, N, N, N,                                   /* tmp hsel dsel tlp tlse tdlp */
        V, H,                                                           /* ones colsum */
    };
    int64_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 15) & ~(int64_t)15;
    g->mem = xgd_aligned_alloc(sizeof(float) * (size_t)total);
    float *q = g->mem, *abase;
    size_t k = 0;
#define TAKE(ptr) do { ptr = q; q += (sizes[k++] + 15) & ~(int64_t)15; } while (0)
    TAKE(g->resid); TAKE(g->hf); TAKE(g->fmean); TAKE(g->frstd);
    TAKE(abase);
    TAKE(g->dx); TAKE(g->dh); TAKE(g->dx1); TAKE(g->dh2); TAKE(g->dao); TAKE(g->dmo); TAKE(g->dpost); TAKE(g->dpre); TAKE(g->dup);
    TAKE(g->datt); TAKE(g->dq); TAKE(g->dk); TAKE(g->dv); TAKE(g->dqkv); TAKE(g->dqr); TAKE(g->dkr);
    TAKE(g->tmp); TAKE(g->hsel); TAKE(g->dsel); TAKE(g->tlp); TAKE(g->tlse); TAKE(g->tdlp);
    TAKE(g->ones); TAKE(g->colsum);
#undef TAKE
    carve_acts(&g->a, abase, m, B, T, NULL);
    for (int64_t v = 0; v < V; v++) g->ones[v] = 1.0f;
    /* keep every block's intermediates when they fit the budget: backward then skips the
     * recomputation of each block (a quarter of a LoRA step's products, and all of its attention
     * and norm passes); the rest of the budget may keep the head's logits (xgd_tgraph_forward) */
    g->budget = act_budget();
    int64_t per_layer = sizeof(float) * carve_acts(&(xgd_block_acts){0}, NULL, m, B, T, &g->a);
    if (per_layer * L <= g->budget) {
        g->lamem = xgd_aligned_alloc((size_t)(per_layer * L));
        g->la = xgd_calloc((size_t)L, sizeof *g->la);
        for (int64_t l = 0; l < L; l++) carve_acts(&g->la[l], g->lamem + l * (per_layer / (int64_t)sizeof(float)), m, B, T, &g->a);
        g->budget -= per_layer * L;
    }
    g->HC = HEAD_CHUNK_BYTES / (int64_t)sizeof(float) / V;
    const char *hc = getenv("XGD_TRAIN_HEAD_ROWS");   /* tests: several chunks on a tiny vocabulary */
    if (hc && atoll(hc) > 0) g->HC = atoll(hc);
    if (g->HC < 1) g->HC = 1;
    if (g->HC > N) g->HC = N;
    logits_reserve(g, g->HC);
    g->ids = xgd_malloc(sizeof(int32_t) * (size_t)N);
    g->tgt = xgd_malloc(sizeof(int32_t) * (size_t)N);
    g->pos = xgd_malloc(sizeof(int32_t) * (size_t)N);
    g->kpos = xgd_malloc(sizeof(int32_t) * (size_t)N);
    g->kmask = xgd_malloc((size_t)N);
    g->trow = xgd_malloc(sizeof(int64_t) * (size_t)N);
    g->ttgt = xgd_malloc(sizeof(int32_t) * (size_t)N);
    return g;
}

void xgd_tgraph_free(xgd_tgraph *g) {
    if (!g) return;
    free(g->mem); free(g->ids); free(g->tgt); free(g->pos); free(g->kpos); free(g->kmask);
    free(g->la); free(g->lamem); free(g->logits); free(g->dlogits); free(g->trow); free(g->ttgt);
    free(g);
}

int xgd_tgraph_keeps_activations(const xgd_tgraph *g) { return g->la != NULL; }

/* The intermediates of block l: kept ones, or the one recompute buffer. */
static xgd_block_acts *acts_of(xgd_tgraph *g, int l) { return g->la ? &g->la[l] : &g->a; }

/* Attention reads this call's keys and values in place from a's k, v. */
static xgd_block_io block_io(const xgd_tgraph *g, const xgd_block_acts *a) {
    const xgd_hparams *hp = &g->m->hp;
    xgd_block_io io = {.B = g->B, .T = g->T, .past = 0, .pos = g->pos, .kmask = g->kmask, .kpos = g->kpos,
                       .kc = a->k, .vc = a->v, .kv_bstride = (int64_t)g->T * hp->n_kv * hp->head_dim, .f = NULL};
    return io;
}

/* The head on n rows of x (n, H): logits (n, V) = x · headᵀ · logit_scale. */
static void head_rows(const xgd_tgraph *g, float *logits, const float *x, int64_t n) {
    const xgd_model *m = g->m;
    xgd_lin(logits, x, n, xgd_model_head(m), NULL, m->g.lora_head);
    if (m->hp.logit_scale != 1.0f) xgd_scale(logits, m->hp.logit_scale, n * m->hp.vocab);
}

const xgd_model *xgd_tgraph_model(const xgd_tgraph *g) { return g->m; }

/* logit_sum (N): each row's sum of logits without the logits. The sum over v of x·W[v] is x times
 * the column sums of W (+ the adapter's s·(x·Aᵀ)·Σ_v B[v]), so one (1, V)·W product serves
 * every row, including the prompt and padding rows the head skips. */
static void logit_sums(xgd_tgraph *g, float *logit_sum) {
    const xgd_model *m = g->m;
    int64_t N = g->N, H = m->hp.hidden, V = m->hp.vocab;
    memset(g->colsum, 0, sizeof(float) * (size_t)H);
    xgd_linear_backward(g->colsum, NULL, NULL, g->ones, NULL, 1, xgd_model_head(m));   /* ones(1,V)·W */
    const xgd_lora *lo = m->g.lora_head;
    if (lo) {
        for (int k = 0; k < lo->r; k++) {
            double bs = 0;
            for (int64_t v = 0; v < V; v++) bs += lo->B[v * lo->r + k];
            for (int64_t h = 0; h < H; h++) g->colsum[h] += (float)(lo->scale * bs) * lo->A[(int64_t)k * H + h];
        }
    }
    for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t h = 0; h < H; h++) s += (double)g->hf[n * H + h] * g->colsum[h];
        logit_sum[n] = (float)(s * m->hp.logit_scale);
    }
}

int xgd_tgraph_forward(xgd_tgraph *g, const int32_t *ids, const uint8_t *mask, const int32_t *targets, int B, int T,
                       float *logp, float *logit_sum) {
    const xgd_model *m = g->m;
    const xgd_hparams *hp = &m->hp;
    if (T > g->Tmax || T <= 0) return xgd_fail("training batch of %d tokens per sequence; the graph holds at most %d", T, g->Tmax);
    if (B > g->Bmax || B <= 0) return xgd_fail("training batch of %d sequences; the graph holds at most %d", B, g->Bmax);
    g->B = B;
    g->T = T;
    g->N = (int64_t)B * T;
    int64_t N = g->N, H = hp->hidden, V = hp->vocab;
    memcpy(g->ids, ids, sizeof(int32_t) * (size_t)N);
    memcpy(g->tgt, targets, sizeof(int32_t) * (size_t)N);
    /* positions: cumsum(mask)-1 for real tokens (= arange with right padding, as TRL's plain forward
     * gives them); pad slots take their index t, as a plain forward does (their logits enter TRL's
     * logits metrics, so they must match; nothing attends to them) */
    for (int b = 0; b < B; b++) {
        int seen = 0;
        for (int t = 0; t < T; t++) {
            int64_t n = (int64_t)b * T + t;
            int real = mask ? mask[n] != 0 : 1;
            g->kmask[n] = (uint8_t)real;
            g->pos[n] = real ? seen : t;
            g->kpos[n] = real ? seen : 0;
            seen += real;
        }
    }
    if (xgd_model_embed(m, g->resid, g->tmp, g->ids, g->pos, N) != 0) return -1;
    for (int l = 0; l < hp->n_layer; l++) {
        float *x = g->resid + (int64_t)(l + 1) * N * H;
        memcpy(x, g->resid + (int64_t)l * N * H, sizeof(float) * (size_t)(N * H));
        xgd_block_acts *a = acts_of(g, l);
        xgd_block_io io = block_io(g, a);
        xgd_block_forward(m, l, x, a, &io);
    }
    xgd_model_norm(m, g->hf, g->fmean, g->frstd, g->resid + (int64_t)hp->n_layer * N * H, m->g.final_w, m->g.final_b, N);
    /* the head on the rows with a target only */
    g->NT = 0;
    for (int64_t n = 0; n < N; n++)
        if (g->tgt[n] >= 0) {
            g->trow[g->NT] = n;
            g->ttgt[g->NT] = g->tgt[n];
            memcpy(g->hsel + g->NT * H, g->hf + n * H, sizeof(float) * (size_t)H);
            g->NT++;
        }
    int64_t NT = g->NT;
    /* only with the blocks kept too: a graph that recomputes (a large model) keeps its memory */
    g->head_kept = g->la && (int64_t)(2 * sizeof(float)) * NT * V <= g->budget;
    if (g->head_kept) {   /* one product over all rows: the head's weight is read (and packed) once */
        logits_reserve(g, NT);
        if (NT) head_rows(g, g->logits, g->hsel, NT);
        xgd_logprob_gather(g->tlp, g->tlse, g->logits, g->ttgt, NT, V);
    } else {
        for (int64_t r0 = 0; r0 < NT; r0 += g->HC) {
            int64_t n = NT - r0 < g->HC ? NT - r0 : g->HC;
            head_rows(g, g->logits, g->hsel + r0 * H, n);
            xgd_logprob_gather(g->tlp + r0, g->tlse + r0, g->logits, g->ttgt + r0, n, V);
        }
    }
    memset(logp, 0, sizeof(float) * (size_t)N);
    for (int64_t i = 0; i < NT; i++) logp[g->trow[i]] = g->tlp[i];
    if (logit_sum) logit_sums(g, logit_sum);
    return 0;
}

/* Merge q, k, v gradients (N, nH, hd) back into the fused projection's layout (inverse of the
 * split in the forward pass). */
static void merge_qkv(xgd_qkv_kind kind, float *dqkv, const float *dq, const float *dk, const float *dv, int64_t N, int nH, int hd) {
    int64_t H = (int64_t)nH * hd;
    for (int64_t n = 0; n < N; n++) {
        float *r = dqkv + n * 3 * H;
        if (kind == QKV_BLOCKS) {
            memcpy(r, dq + n * H, sizeof(float) * (size_t)H);
            memcpy(r + H, dk + n * H, sizeof(float) * (size_t)H);
            memcpy(r + 2 * H, dv + n * H, sizeof(float) * (size_t)H);
        } else {
            for (int h = 0; h < nH; h++) {
                memcpy(r + (int64_t)h * 3 * hd, dq + n * H + (int64_t)h * hd, sizeof(float) * (size_t)hd);
                memcpy(r + (int64_t)h * 3 * hd + hd, dk + n * H + (int64_t)h * hd, sizeof(float) * (size_t)hd);
                memcpy(r + (int64_t)h * 3 * hd + 2 * hd, dv + n * H + (int64_t)h * hd, sizeof(float) * (size_t)hd);
            }
        }
    }
}

static void norm_backward(const xgd_model *m, float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const float *mean, const float *rstd, int64_t N) {
    if (m->fam->norm == NORM_RMSNORM) xgd_rmsnorm_backward(dx, dw, dy, x, w, rstd, N, m->hp.hidden);
    else xgd_layernorm_backward(dx, dw, db, dy, x, w, mean, rstd, N, m->hp.hidden);
}

/* Per-head LayerNorm backward (Cohere qk-norm): dx_raw += LN'(dy), dw (nheads, hd) += ... */
static void head_norm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *mean,
                               const float *rstd, int64_t N, int nheads, int hd) {
    for (int64_t n = 0; n < N; n++)
        for (int h = 0; h < nheads; h++) {
            int64_t r = n * nheads + h;
            xgd_layernorm_backward(dx + r * hd, dw ? dw + (int64_t)h * hd : NULL, NULL, dy + r * hd, x + r * hd, w + (int64_t)h * hd,
                                   mean + r, rstd + r, 1, hd);
        }
}

/* MLP backward: dmo (N,H) -> dh_in (N,H) accumulated, parameter grads into G. */
/* Gradient views of layer l (all NULL when the base is frozen). */
static xgd_layer *grads_of(const xgd_tgraph *g, int l) { return g->p ? &g->p->gl[l] : (xgd_layer *)&g->frozen; }
static xgd_globals *grads_g(const xgd_tgraph *g) { return g->p ? &g->p->gg : (xgd_globals *)&g->frozen_g; }

static void mlp_backward(const xgd_tgraph *g, int l, const xgd_block_acts *a, const float *in, float *dh_in) {
    const xgd_model *m = g->m;
    const xgd_layer *L = &m->layers[l];
    xgd_layer *G = grads_of(g, l);
    int64_t N = g->N, F = m->hp.inter;
    memset(g->dpost, 0, sizeof(float) * (size_t)(N * F));
    xgd_lin_backward(g->dpost, (float *)G->down.data, G->down_b, g->dmo, a->post, N, &L->down, L->lora[XGD_LORA_DOWN]);
    memset(g->dpre, 0, sizeof(float) * (size_t)(N * F));
    if (m->fam->gated_mlp) {
        memset(g->dup, 0, sizeof(float) * (size_t)(N * F));
        xgd_gated_backward(m->hp.act, g->dpre, g->dup, g->dpost, a->pre, a->up, N * F);
        xgd_lin_backward(dh_in, (float *)G->gate.data, G->gate_b, g->dpre, in, N, &L->gate, L->lora[XGD_LORA_GATE]);
        xgd_lin_backward(dh_in, (float *)G->up.data, G->up_b, g->dup, in, N, &L->up, L->lora[XGD_LORA_UP]);
    } else {
        xgd_act_backward(m->hp.act, g->dpre, g->dpost, a->pre, N * F);
        xgd_lin_backward(dh_in, (float *)G->up.data, G->up_b, g->dpre, in, N, &L->up, L->lora[XGD_LORA_UP]);
    }
}

/* Attention backward: dao (N,H) -> dh (N,H) accumulated, parameter grads into G. */
static void attention_backward(const xgd_tgraph *g, int l, const xgd_block_acts *a, float *dh) {
    const xgd_model *m = g->m;
    const xgd_hparams *hp = &m->hp;
    const xgd_layer *L = &m->layers[l];
    xgd_layer *G = grads_of(g, l);
    int64_t N = g->N, QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_kv * hp->head_dim;
    memset(g->datt, 0, sizeof(float) * (size_t)(N * QD));
    xgd_lin_backward(g->datt, (float *)G->o.data, G->o_b, g->dao, a->att, N, &L->o, L->lora[XGD_LORA_O]);
    memset(g->dq, 0, sizeof(float) * (size_t)(N * QD));
    memset(g->dk, 0, sizeof(float) * (size_t)(N * KVD));
    memset(g->dv, 0, sizeof(float) * (size_t)(N * KVD));
    xgd_attn at = {
        .B = g->B, .Tq = g->T, .Tk = g->T, .nH = hp->n_head, .nKV = hp->n_kv, .hd = hp->head_dim,
        .kv_bstride = (int64_t)g->T * KVD, .scale = xgd_attn_scale(m, l), .causal = 1, .q_offset = 0,
        .key_mask = g->kmask, .alibi = m->fam->pos == POS_ALIBI ? m->alibi : NULL, .key_pos = g->kpos, .pos_bias = NULL,
    };
    xgd_attention_backward(g->dq, g->dk, g->dv, NULL, g->datt, a->probs, a->q, a->k, a->v, &at);
    if (m->fam->pos == POS_ROPE || m->fam->pos == POS_ROPE_INTERLEAVED) {
        int inter = m->fam->pos == POS_ROPE_INTERLEAVED;
        xgd_rope_backward(g->dq, g->pos, N, hp->n_head, hp->head_dim, m->inv_freq, inter);
        xgd_rope_backward(g->dk, g->pos, N, hp->n_kv, hp->head_dim, m->inv_freq, inter);
    }
    float *dq = g->dq, *dk = g->dk;
    if (hp->qk_norm) {
        memset(g->dqr, 0, sizeof(float) * (size_t)(N * QD));
        memset(g->dkr, 0, sizeof(float) * (size_t)(N * KVD));
        head_norm_backward(g->dqr, G->q_norm, g->dq, a->q_raw, L->q_norm, a->qn_mean, a->qn_rstd, N, hp->n_head, hp->head_dim);
        head_norm_backward(g->dkr, G->k_norm, g->dk, a->k_raw, L->k_norm, a->kn_mean, a->kn_rstd, N, hp->n_kv, hp->head_dim);
        dq = g->dqr;
        dk = g->dkr;
    }
    if (m->fam->qkv == QKV_SEPARATE) {
        xgd_lin_backward(dh, (float *)G->q.data, G->q_b, dq, a->h, N, &L->q, L->lora[XGD_LORA_Q]);
        xgd_lin_backward(dh, (float *)G->k.data, G->k_b, dk, a->h, N, &L->k, L->lora[XGD_LORA_K]);
        xgd_lin_backward(dh, (float *)G->v.data, G->v_b, g->dv, a->h, N, &L->v, L->lora[XGD_LORA_V]);
    } else {
        merge_qkv(m->fam->qkv, g->dqkv, dq, dk, g->dv, N, hp->n_head, hp->head_dim);
        xgd_lin_backward(dh, (float *)G->qkv.data, G->qkv_b, g->dqkv, a->h, N, &L->qkv, L->lora[XGD_LORA_QKV]);
    }
}

/* Block l backward: g->dx holds d(output) on entry and d(input) on return. Without kept
 * intermediates, recomputes the block from its saved input first. */
static void block_backward(xgd_tgraph *g, int l) {
    const xgd_model *m = g->m;
    const xgd_layer *L = &m->layers[l];
    xgd_layer *G = grads_of(g, l);
    int64_t N = g->N, H = m->hp.hidden;
    size_t NH = sizeof(float) * (size_t)(N * H);
    const float *x = g->resid + (int64_t)l * N * H;
    xgd_block_acts *a = acts_of(g, l);
    if (!g->la) {
        memcpy(g->tmp, x, NH);
        xgd_block_io io = block_io(g, a);
        xgd_block_forward(m, l, g->tmp, a, &io);
    }
    memset(g->dh, 0, NH);
    if (m->fam->resid == RESID_PARALLEL) {
        /* out = x + attn(h) + mlp(h), h = norm(x) */
        memcpy(g->dao, g->dx, NH);
        memcpy(g->dmo, g->dx, NH);
        mlp_backward(g, l, a, a->h, g->dh);
        attention_backward(g, l, a, g->dh);
        norm_backward(m, g->dx, G->ln1_w, G->ln1_b, g->dh, x, L->ln1_w, a->ln1_mean, a->ln1_rstd, N);
        return;
    }
    /* out = r2 + mlp(h2), h2 = norm2(x1), r2 = post_ln ? h2 : x1;  x1 = r1 + attn(h), r1 = post_ln ? h : x */
    int post = m->hp.post_ln_residual;
    memcpy(g->dmo, g->dx, NH);
    memset(g->dh2, 0, NH);
    memset(g->dx1, 0, NH);
    mlp_backward(g, l, a, a->h2, g->dh2);
    xgd_add_inplace(post ? g->dh2 : g->dx1, g->dx, N * H);
    norm_backward(m, g->dx1, G->ln2_w, G->ln2_b, g->dh2, a->x1, L->ln2_w, a->ln2_mean, a->ln2_rstd, N);
    memcpy(g->dao, g->dx1, NH);
    attention_backward(g, l, a, g->dh);
    if (post) { xgd_add_inplace(g->dh, g->dx1, N * H); memset(g->dx, 0, NH); }
    else memcpy(g->dx, g->dx1, NH);
    norm_backward(m, g->dx, G->ln1_w, G->ln1_b, g->dh, x, L->ln1_w, a->ln1_mean, a->ln1_rstd, N);
}

/* Embedding backward: token (and learned position) rows, through BLOOM's embedding norm. */
static void embed_backward(xgd_tgraph *g) {
    const xgd_model *m = g->m;
    xgd_globals *gg = grads_g(g);
    int64_t N = g->N, H = m->hp.hidden;
    float *dx = g->dx;
    if (m->fam->has_embed_norm) {
        /* recompute the raw embedding (the norm's input, as the forward pass built it) and its statistics */
        float *raw = g->tmp, *mean = g->a.ln1_mean, *rstd = g->a.ln1_rstd, *dn = g->dh;
        xgd_model_embed_raw(m, raw, g->dh2, g->ids, g->pos, N);
        xgd_layernorm(g->dh2, mean, rstd, raw, m->g.embed_ln_w, m->g.embed_ln_b, N, H, m->hp.norm_eps);
        memset(dn, 0, sizeof(float) * (size_t)(N * H));
        xgd_layernorm_backward(dn, gg->embed_ln_w, gg->embed_ln_b, dx, raw, m->g.embed_ln_w, mean, rstd, N, H);
        dx = dn;
    }
    if (gg->embed.data) xgd_embedding_backward((float *)gg->embed.data, dx, g->ids, N, H);
    if (m->g.lora_embed) xgd_lora_embed_backward(dx, g->ids, N, m->g.lora_embed);
    if (m->fam->pos == POS_LEARNED && gg->pos_embed.data) xgd_embedding_backward((float *)gg->pos_embed.data, dx, g->pos, N, H);
}

int xgd_tgraph_backward(xgd_tgraph *g, const float *dlogp) {
    const xgd_model *m = g->m;
    const xgd_hparams *hp = &m->hp;
    xgd_globals *gg = grads_g(g);
    int64_t N = g->N, H = hp->hidden, V = hp->vocab, NT = g->NT;
    /* the head on the rows with a target: d(hsel) and d(head weight) */
    const xgd_wmat *W = xgd_model_head(m);
    float *dW = (float *)(hp->tied ? gg->embed.data : gg->lm_head.data);
    for (int64_t i = 0; i < NT; i++) g->tdlp[i] = dlogp[g->trow[i]];
    memset(g->dsel, 0, sizeof(float) * (size_t)(NT * H));
    int64_t C = g->head_kept ? (NT > 0 ? NT : 1) : g->HC;
    for (int64_t r0 = 0; r0 < NT; r0 += C) {
        int64_t n = NT - r0 < C ? NT - r0 : C;
        if (!g->head_kept) head_rows(g, g->logits, g->hsel + r0 * H, n);
        memset(g->dlogits, 0, sizeof(float) * (size_t)(n * V));
        xgd_logprob_gather_backward(g->dlogits, g->tdlp + r0, g->logits, g->tlse + r0, g->ttgt + r0, n, V);
        if (hp->logit_scale != 1.0f) xgd_scale(g->dlogits, hp->logit_scale, n * V);
        xgd_lin_backward(g->dsel + r0 * H, dW, NULL, g->dlogits, g->hsel + r0 * H, n, W, m->g.lora_head);
    }
    memset(g->dh, 0, sizeof(float) * (size_t)(N * H));
    for (int64_t i = 0; i < NT; i++) memcpy(g->dh + g->trow[i] * H, g->dsel + i * H, sizeof(float) * (size_t)H);
    /* final norm */
    memset(g->dx, 0, sizeof(float) * (size_t)(N * H));
    norm_backward(m, g->dx, gg->final_w, gg->final_b, g->dh, g->resid + (int64_t)hp->n_layer * N * H,
                  m->g.final_w, g->fmean, g->frstd, N);
    for (int l = hp->n_layer - 1; l >= 0; l--) block_backward(g, l);
    embed_backward(g);
    return 0;
}
