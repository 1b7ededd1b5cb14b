/* The tokenizer pipeline (tokenizers' TokenizerImpl::encode_single_sequence and decode) and the
 * public API: loading a folder or a file as transformers' AutoTokenizer would, encode with
 * offsets, decode with clean-up, batched encoding with truncation and padding. */
#include "tokenize/tk.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include <stdlib.h>
#include <string.h>

char *tk_cleanup(const char *s, int wordpiece); /* decoder.c */

/* ---- loading ---- */
enum { SRC_JSON, SRC_SPM, SRC_GPT2 };

static json_t *load_json_file(const char *dir, const char *name) {
    char *p = xgd_path_join(dir, name);
    json_t *c = NULL;
    if (xgd_is_file(p)) {
        json_error_t e;
        /* ints as reals: model_max_length is often 1e30, too big for an int64 */
        c = json_load_file(p, JSON_DECODE_INT_AS_REAL, &e);
        if (!c) xgd_fail("%s:%d:%d: invalid JSON: %s", p, e.line, e.column, e.text);
        else if (!json_is_object(c)) { json_decref(c); c = NULL; xgd_fail("%s: expected a JSON object", p); }
    }
    free(p);
    return c;
}

/* tokenizer_config.json, with special_tokens_map.json's entries on top (transformers lets the
 * map override the config's special tokens). NULL with an error only for a malformed file. */
static json_t *load_config(const char *dir) {
    json_t *c = load_json_file(dir, "tokenizer_config.json");
    if (!c && xgd_errmsg()[0]) return NULL;
    json_t *m = load_json_file(dir, "special_tokens_map.json");
    if (!m && xgd_errmsg()[0]) { json_decref(c); return NULL; }
    if (!c) c = json_object();
    if (m) { json_object_update(c, m); json_decref(m); }
    return c;
}

/* A special-token entry: "tok" or {"content": "tok", ...}. */
static const char *tok_content(json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    return xgd_json_str(v, "content", NULL);
}

static void ensure_special(xgd_tokenizer *t, const char *content) {
    int32_t id = xgd_token_to_id(t, content);
    if (id < 0) return; /* transformers would grow the vocab; a real checkpoint never needs it */
    int32_t k = tk_strmap_get(&t->added.by_content, content, strlen(content));
    if (k >= 0) { t->added.v[k].special = 1; return; }
    tk_added_add(&t->added, id, content, 0, 0, 0, 0, 1);
}

/* The id of a special token named in the config; when the config does not name it, the class's
 * default token (if it is in the vocab), else def. A null entry means "none". */
static int32_t special_id(xgd_tokenizer *t, json_t *cfg, const char *key, int32_t def, const char *cls_default) {
    json_t *v = json_object_get(cfg, key);
    const char *c = v ? tok_content(v) : cls_default;
    if (!v && (!c || xgd_token_to_id(t, c) < 0)) return def;
    if (!c) return -1;
    ensure_special(t, c);
    return xgd_token_to_id(t, c);
}

static int class_is(const char *cls, const char *prefix) { return cls && strncmp(cls, prefix, strlen(prefix)) == 0; }

/* The special tokens a transformers tokenizer class has by default (its __init__ arguments). */
typedef struct { const char *cls, *bos, *eos, *unk, *pad; } class_defaults;
static const class_defaults g_defaults[] = {
    {"GPT2Tokenizer", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>", NULL},
    {"BloomTokenizer", "<s>", "</s>", "<unk>", "<pad>"},
    {"LlamaTokenizer", "<s>", "</s>", "<unk>", NULL},
    {"CodeLlamaTokenizer", "<s>", "</s>", "<unk>", NULL},
    {"T5Tokenizer", NULL, "</s>", "<unk>", "<pad>"},
    {"MT5Tokenizer", NULL, "</s>", "<unk>", "<pad>"},
    {"CohereTokenizer", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", "<UNK>", "<PAD>"},
};

static void apply_config(xgd_tokenizer *t, json_t *cfg, int src) {
    const char *cls = xgd_json_str(cfg, "tokenizer_class", NULL);
    t->cleanup = xgd_json_bool(cfg, "clean_up_tokenization_spaces", 1);
    json_t *atd = json_object_get(cfg, "added_tokens_decoder");
    const char *key; json_t *v;
    json_object_foreach(atd, key, v) {
        const char *c = xgd_json_str(v, "content", NULL);
        char *end;
        long id = strtol(key, &end, 10);
        if (!c || *end || id < 0 || id >= TK_MAX_ID || tk_strmap_get(&t->added.by_content, c, strlen(c)) >= 0) continue;
        tk_added_add(&t->added, (int32_t)id, c, xgd_json_bool(v, "single_word", 0), xgd_json_bool(v, "lstrip", 0),
                     xgd_json_bool(v, "rstrip", 0), xgd_json_bool(v, "normalized", 1), xgd_json_bool(v, "special", 0));
    }
    class_defaults d = {0};
    for (size_t k = 0; k < sizeof g_defaults / sizeof g_defaults[0]; k++)
        if (class_is(cls, g_defaults[k].cls)) d = g_defaults[k];
    t->bos = special_id(t, cfg, "bos_token", t->bos, d.bos);
    t->eos = special_id(t, cfg, "eos_token", t->eos, d.eos);
    t->unk = special_id(t, cfg, "unk_token", t->unk, d.unk);
    t->pad = special_id(t, cfg, "pad_token", t->pad, d.pad);
    json_t *extra = json_object_get(cfg, "additional_special_tokens");
    for (size_t k = 0; k < json_array_size(extra); k++) {
        const char *c = tok_content(json_array_get(extra, k));
        if (c) ensure_special(t, c);
    }
    /* GPT2/Bloom/Roberta fast tokenizers apply the config's add_prefix_space to a top-level
     * ByteLevel pre-tokenizer (their __init__ rewrites its state when it differs). */
    json_t *aps = json_object_get(cfg, "add_prefix_space");
    if (json_is_boolean(aps) && t->pre && t->pre->kind == P_BYTELEVEL &&
        (class_is(cls, "GPT2Tokenizer") || class_is(cls, "BloomTokenizer") || class_is(cls, "RobertaTokenizer") || src == SRC_GPT2))
        t->pre->add_prefix_space = json_is_true(aps);
    /* LlamaTokenizerFast (and Gemma, Cohere, CodeLlama) rebuild the post-processor from
     * add_bos_token / add_eos_token (update_post_processor). */
    int llama_like = class_is(cls, "LlamaTokenizer") || class_is(cls, "CodeLlamaTokenizer") ||
                     class_is(cls, "GemmaTokenizer") || class_is(cls, "CohereTokenizer") ||
                     (src == SRC_SPM && t->model.kind == M_BPE);
    if (llama_like) {
        int add_bos = xgd_json_bool(cfg, "add_bos_token", 1), add_eos = xgd_json_bool(cfg, "add_eos_token", 0);
        free(t->post.pre); free(t->post.post);
        t->post.pre = t->post.post = NULL; t->post.npre = t->post.npost = 0;
        if (add_bos && t->bos >= 0) { t->post.pre = xgd_malloc(sizeof(int32_t)); t->post.pre[0] = t->bos; t->post.npre = 1; }
        if (add_eos && t->eos >= 0) { t->post.post = xgd_malloc(sizeof(int32_t)); t->post.post[0] = t->eos; t->post.npost = 1; }
    }
}

static char *dir_of(const char *path) {
    const char *s = strrchr(path, '/');
    if (!s) return xgd_strdup(".");
    char *d = xgd_strdup(path);
    d[s - path] = 0;
    if (!*d) { free(d); return xgd_strdup("/"); }
    return d;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int load_any(xgd_tokenizer *t, const char *path, json_t **cfg, int *src) {
    int isdir = xgd_is_dir(path);
    char *dir = isdir ? xgd_strdup(path) : dir_of(path);
    *cfg = load_config(dir);
    if (!*cfg && xgd_errmsg()[0]) { free(dir); return -1; }
    const char *cls = xgd_json_str(*cfg, "tokenizer_class", NULL);
    int flavor = class_is(cls, "T5") || class_is(cls, "MT5") ? 2 : class_is(cls, "Llama") ? 1 : 0;
    int64_t extra = xgd_json_int(*cfg, "extra_ids", 100);
    if (extra < 0 || extra > 100000) extra = 100; /* a corrupt value; T5 uses 100 */
    tk_spm_opts so = {flavor, (int)extra, xgd_json_bool(*cfg, "legacy", 1)};
    char *tj = xgd_path_join(dir, "tokenizer.json"), *tm = xgd_path_join(dir, "tokenizer.model"),
         *sp = xgd_path_join(dir, "spiece.model"), *vj = xgd_path_join(dir, "vocab.json"),
         *mt = xgd_path_join(dir, "merges.txt");
    int r;
    if (isdir) {
        if (xgd_is_file(tj)) { *src = SRC_JSON; r = tk_load_json(t, tj); }
        else if (xgd_is_file(tm)) { *src = SRC_SPM; r = tk_load_spm(t, tm, &so); }
        else if (xgd_is_file(sp)) { *src = SRC_SPM; r = tk_load_spm(t, sp, &so); }
        else if (xgd_is_file(vj) && xgd_is_file(mt)) { *src = SRC_GPT2; r = tk_load_gpt2(t, vj, mt); }
        else r = xgd_fail("%s: no tokenizer.json, tokenizer.model, spiece.model or vocab.json+merges.txt", path);
    } else if (!xgd_is_file(path)) r = xgd_fail("%s: no such file or folder", path);
    else if (ends_with(path, ".model")) { *src = SRC_SPM; r = tk_load_spm(t, path, &so); }
    else if (ends_with(path, "vocab.json")) {
        *src = SRC_GPT2;
        r = xgd_is_file(mt) ? tk_load_gpt2(t, path, mt) : xgd_fail("%s: merges.txt is missing beside it", path);
    } else { *src = SRC_JSON; r = tk_load_json(t, path); }
    free(tj); free(tm); free(sp); free(vj); free(mt); free(dir);
    return r;
}

xgd_tokenizer *xgd_tokenizer_load(const char *path) {
    xgd_tokenizer *t = xgd_calloc(1, sizeof *t);
    t->bos = t->eos = t->pad = t->unk = -1;
    t->cleanup = 1;
    json_t *cfg = NULL;
    int src = SRC_JSON;
    xgd_err_clear();
    if (load_any(t, path, &cfg, &src)) { json_decref(cfg); xgd_tokenizer_free(t); return NULL; }
    if (t->unk < 0) t->unk = t->model.unk_id;
    apply_config(t, cfg, src);
    json_decref(cfg);
    tk_added_build(&t->added, t->norm);
    return t;
}

xgd_tokenizer *tk_tokenizer_from_memory(int kind, const void *data, size_t len) {
    xgd_tokenizer *t = xgd_calloc(1, sizeof *t);
    t->bos = t->eos = t->pad = t->unk = -1;
    t->cleanup = 1;
    tk_spm_opts so = {0, 100, 1};
    int r = kind == 0 ? tk_load_json_text(t, data, len, "tokenizer.json")
                      : tk_load_spm_buf(t, data, len, &so, "tokenizer.model");
    if (r) { xgd_tokenizer_free(t); return NULL; }
    if (t->unk < 0) t->unk = t->model.unk_id;
    apply_config(t, NULL, kind == 0 ? SRC_JSON : SRC_SPM);
    tk_added_build(&t->added, t->norm);
    return t;
}

void xgd_tokenizer_free(xgd_tokenizer *t) {
    if (!t) return;
    tk_model_free(&t->model);
    tk_added_free(&t->added);
    if (t->norm) { tk_norm_free(t->norm); free(t->norm); }
    if (t->pre) { tk_pre_free(t->pre); free(t->pre); }
    if (t->dec) { tk_dec_free(t->dec); free(t->dec); }
    free(t->post.pre); free(t->post.post);
    free(t);
}

/* ---- vocabulary ---- */
static int32_t added_index_of_id(const xgd_tokenizer *t, int32_t id) {
    uint64_t k;
    if (t->added.by_id.cap) return tk_u64map_get(&t->added.by_id, (uint64_t)(uint32_t)id, &k) ? (int32_t)k : -1;
    for (size_t i = 0; i < t->added.n; i++) if (t->added.v[i].id == id) return (int32_t)i; /* while loading */
    return -1;
}

int32_t xgd_vocab_size(const xgd_tokenizer *t) {
    int32_t n = 0;
    for (int32_t k = t->model.nid; k-- > 0;) if (t->model.id2tok[k]) { n = k + 1; break; }
    for (size_t k = 0; k < t->added.n; k++) if (t->added.v[k].id + 1 > n) n = t->added.v[k].id + 1;
    return n;
}

const char *xgd_id_to_token(const xgd_tokenizer *t, int32_t id) {
    int32_t k = added_index_of_id(t, id);
    if (k >= 0) return t->added.v[k].content;
    return id >= 0 && id < t->model.nid ? t->model.id2tok[id] : NULL;
}

int32_t xgd_token_to_id(const xgd_tokenizer *t, const char *tok) {
    int32_t k = tk_strmap_get(&t->added.by_content, tok, strlen(tok));
    if (k >= 0) return t->added.v[k].id;
    return tk_strmap_get(&t->model.vocab, tok, strlen(tok));
}

int xgd_is_special(const xgd_tokenizer *t, int32_t id) {
    int32_t k = added_index_of_id(t, id);
    return k >= 0 && t->added.v[k].special;
}

int32_t xgd_bos_id(const xgd_tokenizer *t) { return t->bos; }
int32_t xgd_eos_id(const xgd_tokenizer *t) { return t->eos; }
int32_t xgd_pad_id(const xgd_tokenizer *t) { return t->pad; }
int32_t xgd_unk_id(const xgd_tokenizer *t) { return t->unk; }

/* ---- encode ---- */
static void enc_add(xgd_encoding *e, int32_t id, int32_t s, int32_t en) {
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->ids = xgd_realloc(e->ids, e->cap * sizeof *e->ids);
        e->start = xgd_realloc(e->start, e->cap * sizeof *e->start);
        e->end = xgd_realloc(e->end, e->cap * sizeof *e->end);
    }
    e->ids[e->n] = id; e->start[e->n] = s; e->end[e->n] = en; e->n++;
}

void xgd_encoding_free(xgd_encoding *e) { free(e->ids); free(e->start); free(e->end); memset(e, 0, sizeof *e); }

/* ByteLevel's trim_offsets (process_offsets): leading and trailing spaces (Ġ or whitespace) of a
 * token leave its span, except the one space that add_prefix_space put before the first token. */
static void trim_offsets(const xgd_tokenizer *t, xgd_encoding *e, size_t from) {
    for (size_t k = from; k < e->n; k++) {
        const char *s = xgd_id_to_token(t, e->ids[k]);
        if (!s) continue;
        size_t n = strlen(s), i = 0, nch = 0, run = 0;
        int32_t lead = 0, trail;
        int in_lead = 1;
        while (i < n) {
            int32_t c;
            int l = tk_utf8_next(s, n, i, &c);
            if (l < 0) break;
            int sp = c == 0x120 || tk_is_space(c);
            if (in_lead && sp) lead++; else in_lead = 0;
            run = sp ? run + 1 : 0;
            nch++; i += (size_t)l;
        }
        trail = (int32_t)run;
        if (lead > 0) {
            int first = k == from || e->start[k] == 0;
            if (first && t->post.prefix_space && lead == 1) lead = 0;
            e->start[k] = e->start[k] + lead < e->end[k] ? e->start[k] + lead : e->end[k];
        }
        if (trail > 0 && e->end[k] >= trail) e->end[k] = e->end[k] - trail > e->start[k] ? e->end[k] - trail : e->start[k];
    }
}

/* The model tokens of text (no special tokens), appended to out. */
static int encode_body(const xgd_tokenizer *t, const char *text, size_t len, xgd_encoding *out) {
    long bad = tk_utf8_invalid_at(text, len);
    if (bad >= 0) return xgd_fail("invalid UTF-8 at byte %ld of the input", bad);
    tk_pieces p0 = {0}, p1 = {0}, p2 = {0};
    tk_piece *whole = tk_pieces_add(&p0);
    tk_nstr *w = &whole->str;
    w->cap = len + 1;
    w->s = xgd_malloc(len + 1); w->o0 = xgd_malloc((len + 1) * sizeof *w->o0); w->o1 = xgd_malloc((len + 1) * sizeof *w->o1);
    memcpy(w->s, text, len); w->s[len] = 0; w->n = len;
    /* every byte of a char maps to the whole char: a token holding part of a char (byte-level
     * BPE) reports the char's span, as HF's char-aligned offsets do */
    for (size_t k = 0; k < len;) {
        size_t l = (size_t)tk_utf8_len((uint8_t)text[k]);
        for (size_t q = k; q < k + l; q++) { w->o0[q] = (int32_t)k; w->o1[q] = (int32_t)(k + l); }
        k += l;
    }
    /* 1. added tokens on the raw text; 2. normalize the rest, then the normalized added tokens */
    if (t->added.raw.n > 1) tk_added_split(&t->added, 0, whole, &p1);
    else { p1 = p0; memset(&p0, 0, sizeof p0); } /* no raw added tokens: nothing to split */
    for (size_t k = 0; k < p1.n; k++) {
        tk_piece *p = &p1.v[k];
        if (p->added < 0 && !t->norm && t->added.norm.n <= 1) { /* move it: nothing to do */
            *tk_pieces_add(&p2) = *p;
            memset(&p->str, 0, sizeof p->str);
            continue;
        }
        if (p->added >= 0 || !t->norm) { tk_added_split(&t->added, 1, p, &p2); continue; }
        tk_piece q = {.added = -1};
        tk_norm_run(t->norm, &p->str, &q.str);
        tk_added_split(&t->added, 1, &q, &p2);
        tk_nstr_free(&q.str);
    }
    tk_pieces_free(&p0);
    tk_pieces_free(&p1);
    /* 3. pre-tokenize; 4. the model, word by word */
    if (t->pre) tk_pre_run(t->pre, &p2);
    tk_toks toks = {0};
    int r = 0;
    for (size_t k = 0; k < p2.n && !r; k++) {
        tk_piece *p = &p2.v[k];
        if (!p->str.n) continue;
        if (p->added >= 0) { enc_add(out, p->added, p->str.o0[0], p->str.o1[p->str.n - 1]); continue; }
        toks.n = 0;
        r = tk_model_tokenize(&t->model, p->str.s, p->str.n, &toks);
        for (size_t q = 0; q < toks.n && !r; q++)
            enc_add(out, toks.v[q].id, p->str.o0[toks.v[q].s], p->str.o1[toks.v[q].e - 1]);
    }
    free(toks.v);
    tk_pieces_free(&p2);
    return r;
}

/* Post-processing: the template's special tokens around body (span (0, 0) each). */
static void post_process(const xgd_tokenizer *t, const xgd_encoding *body, int add_special, xgd_encoding *out) {
    out->n = 0;
    if (add_special) for (int k = 0; k < t->post.npre; k++) enc_add(out, t->post.pre[k], 0, 0);
    size_t from = out->n;
    for (size_t k = 0; k < body->n; k++) enc_add(out, body->ids[k], body->start[k], body->end[k]);
    if (t->post.trim_offsets) trim_offsets(t, out, from);
    if (add_special) for (int k = 0; k < t->post.npost; k++) enc_add(out, t->post.post[k], 0, 0);
}

int xgd_encode(const xgd_tokenizer *t, const char *text, size_t len, int add_special, xgd_encoding *out) {
    xgd_encoding body = {0};
    out->n = 0;
    if (encode_body(t, text, len, &body)) { xgd_encoding_free(&body); return -1; }
    post_process(t, &body, add_special, out);
    xgd_encoding_free(&body);
    return 0;
}

/* ---- decode ---- */
char *xgd_decode(const xgd_tokenizer *t, const int32_t *ids, size_t n, int skip_special, int cleanup) {
    size_t len;
    return xgd_decode_len(t, ids, n, skip_special, cleanup, &len);
}

char *xgd_decode_len(const xgd_tokenizer *t, const int32_t *ids, size_t n, int skip_special, int cleanup, size_t *len) {
    char **toks = xgd_malloc((n + 1) * sizeof *toks);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        const char *s = xgd_id_to_token(t, ids[k]);
        if (!s) continue; /* unknown ids are dropped, as tokenizers does */
        if (skip_special && xgd_is_special(t, ids[k])) continue;
        toks[m++] = xgd_strdup(s);
    }
    if (t->dec) tk_dec_run(t->dec, &toks, &m);
    size_t total = 1;
    for (size_t k = 0; k < m; k++) total += strlen(toks[k]) + 1;
    char *out = xgd_malloc(total), *p = out;
    for (size_t k = 0; k < m; k++) {
        if (!t->dec && k > 0) *p++ = ' ';
        size_t l = strlen(toks[k]);
        memcpy(p, toks[k], l); p += l;
        free(toks[k]);
    }
    *p = 0;
    free(toks);
    if (cleanup < 0) cleanup = t->cleanup;
    if (cleanup) { char *c = tk_cleanup(out, 0); free(out); out = c; }
    /* decoded NUL bytes come out of the decoders as C0 80 (see decoder.c) */
    size_t w = 0;
    for (size_t r = 0; out[r]; r++) {
        if ((uint8_t)out[r] == 0xC0 && (uint8_t)out[r + 1] == 0x80) { out[w++] = 0; r++; }
        else out[w++] = out[r];
    }
    out[w] = 0;
    *len = w;
    return out;
}

/* ---- batches ---- */
int xgd_encode_batch(const xgd_tokenizer *t, const char *const *texts, int B, const xgd_batch_opts *o,
                     int32_t **ids, int32_t **mask, int *T) {
    int32_t pad = o->pad_id >= 0 ? o->pad_id : t->pad;
    if (pad < 0) return xgd_fail("padding needs a pad token and the tokenizer has none (pass pad_id)");
    if (!o->pad_to_longest && o->max_length <= 0) return xgd_fail("padding to max_length needs max_length > 0");
    xgd_encoding *enc = xgd_calloc((size_t)(B > 0 ? B : 1), sizeof *enc);
    int nspecial = o->add_special ? t->post.npre + t->post.npost : 0, longest = 0, r = 0;
    for (int b = 0; b < B && !r; b++) {
        xgd_encoding body = {0};
        if ((r = encode_body(t, texts[b], strlen(texts[b]), &body))) { xgd_err_context("batch item %d", b); break; }
        if (o->max_length > 0) {
            /* truncate the body, keeping room for the special tokens (HF truncates before
             * post-processing) */
            size_t keep = o->max_length > nspecial ? (size_t)(o->max_length - nspecial) : 0;
            if (body.n > keep) {
                if (o->truncation_side == XGD_SIDE_LEFT) {
                    size_t d = body.n - keep;
                    memmove(body.ids, body.ids + d, keep * sizeof *body.ids);
                    memmove(body.start, body.start + d, keep * sizeof *body.start);
                    memmove(body.end, body.end + d, keep * sizeof *body.end);
                }
                body.n = keep;
            }
        }
        post_process(t, &body, o->add_special, &enc[b]);
        xgd_encoding_free(&body);
        if ((int)enc[b].n > longest) longest = (int)enc[b].n;
    }
    if (!r) {
        int L = o->pad_to_longest ? longest : o->max_length;
        if (L < longest) L = longest;
        *T = L;
        *ids = xgd_malloc((size_t)(B > 0 ? B : 1) * (size_t)(L > 0 ? L : 1) * sizeof **ids);
        *mask = xgd_malloc((size_t)(B > 0 ? B : 1) * (size_t)(L > 0 ? L : 1) * sizeof **mask);
        for (int b = 0; b < B; b++) {
            int n = (int)enc[b].n, off = o->padding_side == XGD_SIDE_LEFT ? L - n : 0;
            for (int k = 0; k < L; k++) { (*ids)[(size_t)b * L + k] = pad; (*mask)[(size_t)b * L + k] = 0; }
            for (int k = 0; k < n; k++) { (*ids)[(size_t)b * L + off + k] = enc[b].ids[k]; (*mask)[(size_t)b * L + off + k] = 1; }
        }
    }
    for (int b = 0; b < B; b++) xgd_encoding_free(&enc[b]);
    free(enc);
    return r;
}
