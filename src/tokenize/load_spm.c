/* SentencePiece .model files (a ModelProto protobuf, parsed by hand), converted to the pipeline
 * that transformers builds from them (convert_slow_tokenizer.py, 4.41):
 *  - BPE models (Llama-2): LlamaConverter. BPE with byte_fallback and fuse_unk, merges derived
 *    from the vocab by SentencePieceExtractor, normalizer Prepend("▁") + Replace(" ", "▁"),
 *    no pre-tokenizer, decoder Replace("▁"," ") + ByteFallback + Fuse + Strip(" ", 1, 0).
 *  - Unigram models (T5/mT5): T5Converter. Unigram(unk_id), normalizer Precompiled(charsmap) +
 *    Strip(right) + Replace(/ {2,}/, "▁"), Metaspace(always) pre-tokenizer and decoder, <extra_id_N>
 *    tokens appended, post-processor "$A </s>".
 * Control pieces become special added tokens, user-defined pieces plain added tokens. */
#include "tokenize/tk.h"
#include "base/err.h"
#include "base/fs.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a minimal protobuf reader ---- */
typedef struct { const uint8_t *p, *end; } pb;

static int pb_varint(pb *b, uint64_t *v) {
    *v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (b->p >= b->end) return -1;
        uint8_t c = *b->p++;
        *v |= (uint64_t)(c & 0x7F) << s;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

/* Next field: its number, wire type, and for wire type 2 the sub-buffer, for 0 the value,
 * for 5 the 32 bits. Returns 1 ok, 0 at the end, -1 malformed. */
static int pb_next(pb *b, uint32_t *field, int *wt, pb *sub, uint64_t *val) {
    if (b->p >= b->end) return 0;
    uint64_t key;
    if (pb_varint(b, &key)) return -1;
    *field = (uint32_t)(key >> 3); *wt = (int)(key & 7);
    switch (*wt) {
    case 0: return pb_varint(b, val) ? -1 : 1;
    case 1: if (b->end - b->p < 8) return -1; b->p += 8; return 1;
    case 5: {
        if (b->end - b->p < 4) return -1;
        *val = (uint64_t)b->p[0] | (uint64_t)b->p[1] << 8 | (uint64_t)b->p[2] << 16 | (uint64_t)b->p[3] << 24;
        b->p += 4;
        return 1;
    }
    case 2: {
        uint64_t len;
        if (pb_varint(b, &len) || len > (uint64_t)(b->end - b->p)) return -1;
        sub->p = b->p; sub->end = b->p + len; b->p += len;
        return 1;
    }
    default: return -1;
    }
}

enum { T_NORMAL = 1, T_UNKNOWN = 2, T_CONTROL = 3, T_USER = 4, T_UNUSED = 5, T_BYTE = 6 };

typedef struct { char *piece; size_t len; float score; int type; } spm_piece;
typedef struct {
    spm_piece *v; size_t n, cap;
    int model_type, byte_fallback;
    int32_t unk_id, bos_id, eos_id, pad_id;
    const uint8_t *charsmap; size_t charsmap_n;
} spm_model;

static int parse_piece(pb b, spm_piece *pc) {
    uint32_t f; int wt; pb sub; uint64_t v; int r;
    pc->type = T_NORMAL;
    while ((r = pb_next(&b, &f, &wt, &sub, &v)) == 1) {
        if (f == 1 && wt == 2) {
            pc->len = (size_t)(sub.end - sub.p);
            free(pc->piece);
            pc->piece = xgd_malloc(pc->len + 1);
            memcpy(pc->piece, sub.p, pc->len); pc->piece[pc->len] = 0;
        } else if (f == 2 && wt == 5) { uint32_t u = (uint32_t)v; memcpy(&pc->score, &u, 4); }
        else if (f == 3 && wt == 0) pc->type = (int)v;
    }
    return r < 0 || !pc->piece ? -1 : 0;
}

static int parse_model(pb b, spm_model *m) {
    uint32_t f; int wt; pb sub; uint64_t v; int r;
    m->model_type = 1; m->unk_id = 0; m->bos_id = 1; m->eos_id = 2; m->pad_id = -1;
    while ((r = pb_next(&b, &f, &wt, &sub, &v)) == 1) {
        if (f == 1 && wt == 2) {
            if (m->n == m->cap) { m->cap = m->cap ? m->cap * 2 : 1024; m->v = xgd_realloc(m->v, m->cap * sizeof *m->v); }
            memset(&m->v[m->n], 0, sizeof m->v[m->n]);
            if (parse_piece(sub, &m->v[m->n])) { free(m->v[m->n].piece); return xgd_fail("piece %zu is malformed", m->n); }
            if (tk_utf8_invalid_at(m->v[m->n].piece, m->v[m->n].len) >= 0) { free(m->v[m->n].piece); return xgd_fail("piece %zu is not UTF-8", m->n); }
            m->n++;
        } else if (f == 2 && wt == 2) { /* TrainerSpec */
            pb t = sub;
            while ((r = pb_next(&t, &f, &wt, &sub, &v)) == 1) {
                if (wt != 0) continue;
                if (f == 3) m->model_type = (int)v;
                else if (f == 35) m->byte_fallback = v != 0;
                else if (f == 40) m->unk_id = (int32_t)v;
                else if (f == 41) m->bos_id = (int32_t)v;
                else if (f == 42) m->eos_id = (int32_t)v;
                else if (f == 43) m->pad_id = (int32_t)v;
            }
            if (r < 0) return xgd_fail("trainer_spec is malformed");
        } else if (f == 3 && wt == 2) { /* NormalizerSpec */
            pb t = sub;
            while ((r = pb_next(&t, &f, &wt, &sub, &v)) == 1)
                if (f == 2 && wt == 2) { m->charsmap = sub.p; m->charsmap_n = (size_t)(sub.end - sub.p); }
            if (r < 0) return xgd_fail("normalizer_spec is malformed");
        }
    }
    if (r < 0) return xgd_fail("not a SentencePiece model (malformed protobuf)");
    if (m->n == 0) return xgd_fail("no pieces (not a SentencePiece model?)");
    return 0;
}

/* ---- SentencePieceExtractor: BPE merges from the vocab ---- */
typedef struct { int32_t l, r, p; double score; } spm_merge;

static int merge_cmp(const void *a, const void *b) {
    const spm_merge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1; /* score descending */
    if (x->p != y->p) return x->p < y->p ? -1 : 1;                   /* then vocab order */
    if (x->l != y->l) return x->l < y->l ? -1 : 1;
    return x->r < y->r ? -1 : x->r > y->r;
}

static int build_merges(tk_model *m, const double *scores) {
    spm_merge *v = NULL;
    size_t n = 0, cap = 0;
    for (int32_t id = 0; id < m->nid; id++) {
        const char *s = m->id2tok[id];
        if (!s || tk_strmap_get(&m->vocab, s, strlen(s)) != id) continue; /* a duplicate piece */
        size_t len = strlen(s);
        for (size_t i = (size_t)tk_utf8_len((uint8_t)s[0]); i < len; i += (size_t)tk_utf8_len((uint8_t)s[i])) {
            int32_t l = tk_strmap_get(&m->vocab, s, i), r = tk_strmap_get(&m->vocab, s + i, len - i);
            if (l < 0 || r < 0) continue;
            if (n == cap) { cap = cap ? cap * 2 : 4096; v = xgd_realloc(v, cap * sizeof *v); }
            v[n++] = (spm_merge){l, r, id, scores[id]};
        }
    }
    if (n) qsort(v, n, sizeof *v, merge_cmp);
    for (size_t k = 0; k < n; k++) {
        const char *a = m->id2tok[v[k].l], *b = m->id2tok[v[k].r];
        if (tk_bpe_add_merge(m, a, strlen(a), b, strlen(b), (uint32_t)k)) { free(v); return -1; }
    }
    free(v);
    return 0;
}

/* ---- building the pipeline ---- */
static tk_norm *norm_seq(int n) {
    tk_norm *s = xgd_calloc(1, sizeof *s);
    s->kind = N_SEQUENCE;
    s->sub = xgd_calloc((size_t)n, sizeof *s->sub);
    return s;
}

#define SPIECE "\xE2\x96\x81" /* ▁ */

static int build_llama(xgd_tokenizer *t, spm_model *sm, int legacy) {
    tk_model *m = &t->model;
    m->kind = M_BPE; m->fuse_unk = 1; m->byte_fallback = 1; m->unk_id = -1;
    double *scores = xgd_malloc(sm->n * sizeof *scores);
    static const char *first[3] = {"<unk>", "<s>", "</s>"};
    for (size_t k = 0; k < sm->n; k++) {
        const char *s = k < 3 ? first[k] : sm->v[k].piece;
        tk_model_set_token(m, (int32_t)k, s, strlen(s));
        scores[k] = k < 3 ? 0.0 : sm->v[k].score;
    }
    if (sm->unk_id >= 0 && (size_t)sm->unk_id < sm->n) m->unk_id = sm->unk_id;
    tk_model_finish_bytes(m);
    int r = build_merges(m, scores);
    free(scores);
    if (r) return -1;
    for (int k = 0; k < 3 && (size_t)k < sm->n; k++) tk_added_add(&t->added, k, first[k], 0, 0, 0, 0, 1);

    if (legacy) { /* Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer */
        t->norm = norm_seq(2);
        t->norm->nsub = 2;
        t->norm->sub[0].kind = N_PREPEND; t->norm->sub[0].content = xgd_strdup(SPIECE);
        t->norm->sub[1].kind = N_REPLACE; t->norm->sub[1].content = xgd_strdup(SPIECE);
        tk_pattern_init(&t->norm->sub[1].pat, 0, " ");
    } else { /* legacy=False: no normalizer, Metaspace(prepend_scheme="first", split=False) */
        t->pre = xgd_calloc(1, sizeof *t->pre);
        t->pre->kind = P_METASPACE; strcpy(t->pre->repl, SPIECE);
        t->pre->prepend_scheme = PREPEND_FIRST; t->pre->split = 0;
    }

    t->dec = xgd_calloc(1, sizeof *t->dec);
    t->dec->kind = D_SEQUENCE; t->dec->nsub = 4;
    t->dec->sub = xgd_calloc(4, sizeof *t->dec->sub);
    t->dec->sub[0].kind = D_REPLACE; t->dec->sub[0].with = xgd_strdup(" ");
    tk_pattern_init(&t->dec->sub[0].pat, 0, SPIECE);
    t->dec->sub[1].kind = D_BYTEFALLBACK;
    t->dec->sub[2].kind = D_FUSE;
    t->dec->sub[3].kind = D_STRIP; t->dec->sub[3].content = xgd_strdup(" "); t->dec->sub[3].start = 1;
    /* LlamaTokenizerFast: add_bos_token=True, add_eos_token=False unless the config says otherwise */
    t->post.pre = xgd_malloc(sizeof(int32_t)); t->post.pre[0] = 1; t->post.npre = 1;
    t->bos = 1; t->eos = 2; t->unk = 0;
    return 0;
}

static int build_t5(xgd_tokenizer *t, spm_model *sm, int extra_ids, int legacy) {
    tk_model *m = &t->model;
    m->kind = M_UNIGRAM; m->unk_id = -1;
    size_t n = sm->n + (size_t)extra_ids;
    m->scores = xgd_calloc(n, sizeof *m->scores);
    char buf[32];
    for (size_t k = 0; k < n; k++) {
        if (k < sm->n) { tk_model_set_token(m, (int32_t)k, sm->v[k].piece, sm->v[k].len); m->scores[k] = sm->v[k].score; }
        else {
            snprintf(buf, sizeof buf, "<extra_id_%d>", (int)(n - 1 - k));
            tk_model_set_token(m, (int32_t)k, buf, strlen(buf));
        }
    }
    if (sm->unk_id >= 0 && (size_t)sm->unk_id < sm->n) m->unk_id = sm->unk_id;
    tk_model_finish_bytes(m);
    tk_unigram_init(m);
    for (size_t k = sm->n; k < n; k++) tk_added_add(&t->added, (int32_t)k, m->id2tok[k], 0, 0, 0, 0, 1);

    int nn = sm->charsmap_n ? 3 : 2, i = 0;
    t->norm = norm_seq(nn);
    t->norm->nsub = nn;
    if (sm->charsmap_n && tk_norm_precompiled_init(&t->norm->sub[i++], sm->charsmap, sm->charsmap_n)) return -1;
    t->norm->sub[i].kind = N_STRIP; t->norm->sub[i].right = 1; i++;
    t->norm->sub[i].kind = N_REPLACE; t->norm->sub[i].content = xgd_strdup(SPIECE);
    if (tk_pattern_init(&t->norm->sub[i].pat, 1, " {2,}")) return -1;

    t->pre = xgd_calloc(1, sizeof *t->pre);
    t->pre->kind = P_METASPACE; strcpy(t->pre->repl, SPIECE);
    /* _get_prepend_scheme: "always", or "first" when the config says legacy=False */
    t->pre->prepend_scheme = legacy ? PREPEND_ALWAYS : PREPEND_FIRST; t->pre->split = 1;
    t->dec = xgd_calloc(1, sizeof *t->dec);
    t->dec->kind = D_METASPACE; strcpy(t->dec->repl, SPIECE); t->dec->prepend_scheme = t->pre->prepend_scheme;
    if (sm->eos_id >= 0 && (size_t)sm->eos_id < sm->n) {
        t->post.post = xgd_malloc(sizeof(int32_t)); t->post.post[0] = sm->eos_id; t->post.npost = 1;
    }
    t->eos = sm->eos_id; t->unk = m->unk_id; t->pad = sm->pad_id;
    if (t->pad < 0 && sm->n > 0 && strcmp(sm->v[0].piece, "<pad>") == 0) t->pad = 0;
    return 0;
}

int tk_load_spm_buf(xgd_tokenizer *t, const uint8_t *data, size_t len, const tk_spm_opts *o, const char *name) {
    int flavor = o->flavor;
    spm_model sm = {0};
    pb b = {data, data + len};
    int r = parse_model(b, &sm);
    if (!r) {
        if (flavor == 0) flavor = sm.model_type == 2 ? 1 : 2;
        if (flavor == 1 && sm.model_type != 2) r = xgd_fail("a Llama tokenizer needs a BPE SentencePiece model (model_type %d)", sm.model_type);
        else if (flavor == 2 && sm.model_type != 1) r = xgd_fail("a T5 tokenizer needs a Unigram SentencePiece model (model_type %d)", sm.model_type);
        else r = flavor == 1 ? build_llama(t, &sm, o->legacy) : build_t5(t, &sm, o->extra_ids, o->legacy);
    }
    if (!r) {
        for (size_t k = 0; k < sm.n; k++) {
            if (sm.v[k].type != T_CONTROL && sm.v[k].type != T_USER) continue;
            if (tk_strmap_get(&t->added.by_content, sm.v[k].piece, sm.v[k].len) >= 0) continue;
            if (flavor == 1 && k < 3) continue; /* LlamaConverter already named 0..2 */
            tk_added_add(&t->added, (int32_t)k, sm.v[k].piece, 0, 0, 0, 0, sm.v[k].type == T_CONTROL);
        }
        if (flavor == 2) { /* T5Tokenizer's special tokens: <unk> too */
            int32_t u = t->model.unk_id;
            if (u >= 0) tk_added_add(&t->added, u, t->model.id2tok[u], 0, 0, 0, 0, 1);
        }
    }
    for (size_t k = 0; k < sm.n; k++) free(sm.v[k].piece);
    free(sm.v);
    if (r) return xgd_err_context("%s", name);
    return 0;
}

int tk_load_spm(xgd_tokenizer *t, const char *path, const tk_spm_opts *o) {
    char *data; size_t len;
    if (xgd_read_file(path, &data, &len)) return -1;
    int r = tk_load_spm_buf(t, (const uint8_t *)data, len, o, path);
    free(data);
    return r;
}
