#include "model/lora.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static xgd_wmat view(const float *data, int64_t out, int64_t in) {
    xgd_wmat w = {data, XGD_F32, out, in, XGD_W_OUT_IN};
    return w;
}

/* A forward's t = s·x·Aᵀ (M, r), kept for the backward that follows it: training runs the
 * forward, then the backward on the same rows (the graph's kept activations, or a block recomputed
 * just before its backward), which then skips one (M, in) x (in, r) product. The saved t is used
 * once and only for the same x pointer and M; any other backward recomputes it. */
struct xgd_lora_saved {
    float *t;
    const float *x;
    int64_t M, cap;
};

void xgd_lin(float *y, const float *x, int64_t M, const xgd_wmat *W, const float *b, const xgd_lora *lo) {
    xgd_linear(y, x, M, W, b);
    if (!lo) return;
    struct xgd_lora_saved *sv = lo->saved;
    float *t;
    if (sv) {
        if (sv->cap < M * lo->r) {
            free(sv->t);
            sv->t = xgd_malloc(sizeof(float) * (size_t)(M * lo->r));
            sv->cap = M * lo->r;
        }
        t = sv->t;
        sv->x = x;
        sv->M = M;
    } else {
        t = xgd_malloc(sizeof(float) * (size_t)(M * lo->r));
    }
    xgd_wmat A = view(lo->A, lo->r, lo->in);
    /* B (out, r) read as a (r -> out) weight stored (in, out): y += t·Bᵀ is its dx product, which
     * accumulates into y, with no (M, out) temporary and no second pass over y */
    xgd_wmat Bt = {lo->B, XGD_F32, lo->r, lo->out, XGD_W_IN_OUT};
    xgd_linear(t, x, M, &A, NULL);          /* (M, r) = x·Aᵀ */
    xgd_scale(t, lo->scale, M * lo->r);
    xgd_linear_backward(y, NULL, NULL, t, NULL, M, &Bt);   /* y += s·t·Bᵀ */
    if (!sv) free(t);
}

void xgd_lin_backward(float *dx, float *dW, float *db, const float *dy, const float *x, int64_t M, const xgd_wmat *W, xgd_lora *lo) {
    xgd_linear_backward(dx, dW, db, dy, x, M, W);
    if (!lo) return;
    int64_t r = lo->r;
    struct xgd_lora_saved *sv = lo->saved;
    float *du = xgd_calloc((size_t)(M * r), sizeof(float)), *own = NULL;
    xgd_wmat A = view(lo->A, r, lo->in), B = view(lo->B, lo->out, r);
    const float *u;                                    /* u = s·x·Aᵀ */
    if (sv && sv->x == x && sv->M == M) {
        u = sv->t;
        sv->x = NULL;                                  /* used once */
    } else {
        own = xgd_malloc(sizeof(float) * (size_t)(M * r));
        xgd_linear(own, x, M, &A, NULL);
        xgd_scale(own, lo->scale, M * r);
        u = own;
    }
    xgd_linear_backward(du, lo->dB, NULL, dy, u, M, &B); /* du = dy·B, dB += dyᵀ·u */
    xgd_scale(du, lo->scale, M * r);                   /* dt = s·du */
    xgd_linear_backward(dx, lo->dA, NULL, du, x, M, &A); /* dx += dt·A, dA += dtᵀ·x */
    free(own);
    free(du);
}

void xgd_lora_embed(float *y, const int32_t *ids, int64_t N, const xgd_lora *lo) {
    int64_t H = lo->out, V = lo->in;
    for (int64_t n = 0; n < N; n++)
        for (int k = 0; k < lo->r; k++) {
            float a = lo->scale * lo->A[(int64_t)k * V + ids[n]];
            if (a == 0.0f) continue;
            for (int64_t h = 0; h < H; h++) y[n * H + h] += a * lo->B[h * lo->r + k];
        }
}

void xgd_lora_embed_backward(const float *dy, const int32_t *ids, int64_t N, xgd_lora *lo) {
    int64_t H = lo->out, V = lo->in;
    for (int64_t n = 0; n < N; n++)
        for (int k = 0; k < lo->r; k++) {
            float a = lo->A[(int64_t)k * V + ids[n]], g = 0;
            for (int64_t h = 0; h < H; h++) {
                lo->dB[h * lo->r + k] += lo->scale * a * dy[n * H + h];
                g += dy[n * H + h] * lo->B[h * lo->r + k];
            }
            lo->dA[(int64_t)k * V + ids[n]] += lo->scale * g;
        }
}

const char *xgd_lora_default_targets(const xgd_model *m) {
    const char *mt = m->fam->model_type;
    if (!strcmp(mt, "bloom")) return "word_embeddings,query_key_value,dense,dense_h_to_4h,dense_4h_to_h";
    if (!strcmp(mt, "gpt2")) return "c_attn,c_proj,c_fc";
    return "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj,embed_tokens,lm_head";
}

/* PEFT's rule: a list target matches the full module name or a "."-separated suffix of it. */
static int matches(const char *module, char *const *targets, int nt) {
    size_t ml = strlen(module);
    for (int i = 0; i < nt; i++) {
        size_t tl = strlen(targets[i]);
        if (ml == tl && !strcmp(module, targets[i])) return 1;
        if (ml > tl && module[ml - tl - 1] == '.' && !strcmp(module + ml - tl, targets[i])) return 1;
    }
    return 0;
}

/* A module found in the model that LoRA can wrap. */
typedef struct { char module[256]; xgd_lora **slot; const xgd_wmat *w; int embedding; } site;
typedef struct { xgd_model *m; site *s; int n, cap; } sites;

static int lora_index(const xgd_layer *L, const void *slot) {
    const void *addr[XGD_LORA_SLOTS] = {&L->q, &L->k, &L->v, &L->o, &L->qkv, &L->up, &L->gate, &L->down};
    for (int i = 0; i < XGD_LORA_SLOTS; i++) if (addr[i] == slot) return i;
    return -1;
}

static void add_site(sites *S, const char *module, xgd_lora **slot, const xgd_wmat *w, int embedding) {
    if (S->n == S->cap) S->s = xgd_realloc(S->s, sizeof(site) * (size_t)(S->cap = S->cap ? 2 * S->cap : 64));
    site *t = &S->s[S->n++];
    snprintf(t->module, sizeof t->module, "%s", module);
    t->slot = slot;
    t->w = w;
    t->embedding = embedding;
}

static int collect(const xgd_tensor_spec *s, const char *name, void *slot, int per_layer, void *user) {
    sites *S = user;
    xgd_model *m = S->m;
    size_t n = strlen(name);
    if (s->kind != SLOT_MAT || n < 8 || strcmp(name + n - 7, ".weight")) return 0;
    char module[256];
    snprintf(module, sizeof module, "%.*s", (int)(n - 7), name);
    if (per_layer) {
        int l = (int)(((char *)slot - (char *)m->layers) / (ptrdiff_t)sizeof(xgd_layer));
        int k = lora_index(&m->layers[l], slot);
        if (k >= 0) add_site(S, module, &m->layers[l].lora[k], slot, 0);
    } else if (slot == &m->g.embed) add_site(S, module, &m->g.lora_embed, slot, 1);
    else if (slot == &m->g.lm_head) add_site(S, module, &m->g.lora_head, slot, 0);
    return 0;
}

/* Every LoRA-able module of m (tied models still have an "lm_head" module: the embedding). */
static void find_sites(xgd_model *m, sites *S) {
    memset(S, 0, sizeof *S);
    S->m = m;
    xgd_family_foreach(m->fam, &m->hp, &m->g, m->layers, collect, S);
    if (m->hp.tied) add_site(S, "lm_head", &m->g.lora_head, &m->g.embed, 0);
}

static void split_csv(const char *csv, char ***out, int *n) {
    char *c = xgd_strdup(csv), *save = NULL;
    *out = NULL;
    *n = 0;
    for (char *t = strtok_r(c, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        *out = xgd_realloc(*out, sizeof(char *) * (size_t)(*n + 1));
        (*out)[(*n)++] = xgd_strdup(t);
    }
    free(c);
}

/* Allocate the adapters for the chosen sites; A, B, dA, dB in one allocation. */
static xgd_adapter *alloc_adapter(xgd_model *m, site **chosen, int n, int r, float alpha, int rslora) {
    xgd_adapter *a = xgd_calloc(1, sizeof *a);
    a->n = n;
    a->r = r;
    a->alpha = alpha;
    a->rslora = rslora;
    a->items = xgd_calloc((size_t)(n ? n : 1), sizeof(xgd_lora));
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const xgd_wmat *w = chosen[i]->w;
        int64_t in = chosen[i]->embedding ? w->out : w->in, out = chosen[i]->embedding ? w->in : w->out;
        if (!strcmp(chosen[i]->module, "lm_head") && m->hp.tied) { in = m->hp.hidden; out = m->hp.vocab; }
        total += 2 * ((int64_t)r * in + out * r);
        a->items[i].in = in;
        a->items[i].out = out;
    }
    a->mem = xgd_calloc((size_t)(total ? total : 1), sizeof(float));
    float *p = a->mem;
    for (int i = 0; i < n; i++) {
        xgd_lora *lo = &a->items[i];
        lo->r = r;
        lo->scale = rslora ? alpha / sqrtf((float)r) : alpha / (float)r;
        lo->embedding = chosen[i]->embedding;
        lo->module = xgd_strdup(chosen[i]->module);
        lo->slot = chosen[i]->slot;
        lo->base = chosen[i]->w;
        lo->saved = xgd_calloc(1, sizeof *lo->saved);
        int64_t na = (int64_t)r * lo->in, nb = lo->out * r;
        lo->A = p; p += na;
        lo->B = p; p += nb;
        lo->dA = p; p += na;
        lo->dB = p; p += nb;
        a->nparams += na + nb;
    }
    return a;
}

int xgd_adapter_create(xgd_adapter **out, xgd_model *m, const char *targets_csv, int r, float alpha, int rslora, uint64_t seed) {
    *out = NULL;
    if (r <= 0) return xgd_fail("LoRA rank must be positive");
    sites S;
    find_sites(m, &S);
    char **t;
    int nt;
    split_csv(targets_csv, &t, &nt);
    site **chosen = xgd_malloc(sizeof(site *) * (size_t)(S.n ? S.n : 1));
    int n = 0;
    for (int i = 0; i < S.n; i++) if (matches(S.s[i].module, t, nt)) chosen[n++] = &S.s[i];
    int rc = 0;
    if (n == 0) rc = xgd_fail("LoRA targets '%s' match no module of this %s model", targets_csv, m->fam->model_type);
    if (rc == 0) {
        xgd_adapter *a = alloc_adapter(m, chosen, n, r, alpha, rslora);
        a->targets = t;
        a->ntargets = nt;
        t = NULL;
        for (int i = 0; i < n; i++) {
            xgd_lora *lo = &a->items[i];
            xgd_rng g;
            xgd_rng_init(&g, seed, (uint64_t)i);
            if (lo->embedding) { /* A = 0, B ~ N(0, 1) */
                for (int64_t k = 0; k < lo->out * r; k++) lo->B[k] = xgd_rng_normal(&g);
            } else {             /* kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B = 0 */
                float bound = 1.0f / sqrtf((float)lo->in);
                for (int64_t k = 0; k < (int64_t)r * lo->in; k++) lo->A[k] = (2.0f * xgd_rng_uniform(&g) - 1.0f) * bound;
            }
        }
        xgd_adapter_attach(a, 1);
        *out = a;
    }
    for (int i = 0; t && i < nt; i++) free(t[i]);
    free(t);
    free(chosen);
    free(S.s);
    return rc;
}

void xgd_adapter_attach(xgd_adapter *a, int on) {
    for (int i = 0; i < a->n; i++) *a->items[i].slot = on ? &a->items[i] : NULL;
    a->attached = on;
}

void xgd_adapter_zero_grad(xgd_adapter *a) {
    for (int i = 0; i < a->n; i++) {
        memset(a->items[i].dA, 0, sizeof(float) * (size_t)(a->items[i].r * a->items[i].in));
        memset(a->items[i].dB, 0, sizeof(float) * (size_t)(a->items[i].out * a->items[i].r));
    }
}

void xgd_adapter_free(xgd_adapter *a) {
    if (!a) return;
    if (a->attached) xgd_adapter_attach(a, 0);
    for (int i = 0; i < a->n; i++) {
        free(a->items[i].module);
        if (a->items[i].saved) free(a->items[i].saved->t);
        free(a->items[i].saved);
    }
    for (int i = 0; i < a->ntargets; i++) free(a->targets[i]);
    free(a->targets);
    free(a->items);
    free(a->mem);
    free(a);
}

int xgd_adapter_merge(xgd_adapter *a) {
    for (int i = 0; i < a->n; i++) {
        xgd_lora *lo = &a->items[i];
        const xgd_wmat *w = lo->base;
        if (w->dtype != XGD_F32) return xgd_fail("merge: %s is not f32 (convert the model's weights first)", lo->module);
        float *W = (float *)w->data;
        int64_t r = lo->r;
        /* delta[o][i] = s·Σ_k B[o][k]·A[k][i] over the adapter's (out, in) */
        for (int64_t o = 0; o < lo->out; o++)
            for (int64_t c = 0; c < lo->in; c++) {
                float d = 0;
                for (int64_t k = 0; k < r; k++) d += lo->B[o * r + k] * lo->A[k * lo->in + c];
                d *= lo->scale;
                /* where (o, c) lives: nn.Linear (out, in); Conv1D (in, out); embedding (V = in, H = out) */
                if (lo->embedding || w->layout == XGD_W_IN_OUT) W[c * lo->out + o] += d;
                else W[o * lo->in + c] += d;
            }
    }
    xgd_adapter_attach(a, 0);
    return 0;
}
