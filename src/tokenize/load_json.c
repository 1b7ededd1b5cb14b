/* tokenizer.json (HF tokenizers 0.19 serialization, pipeline-spec §3.2-3.8): every component is
 * an object polymorphic on "type". Unknown keys are ignored; unknown types are load errors. */
#include "tokenize/tk.h"
#include "base/err.h"
#include "base/fs.h"
#include "tokenize/load_json_fast.h"
#include "base/json.h"
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_t *o, const char *k, const char *def) { return xgd_json_str(o, k, def); }
static int jbool(json_t *o, const char *k, int def) { return xgd_json_bool(o, k, def); }

/* ---- base64 (the Precompiled charsmap) ---- */
static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

static uint8_t *b64decode(const char *s, size_t *n) {
    size_t l = strlen(s), k = 0;
    uint8_t *out = xgd_malloc(l / 4 * 3 + 4);
    uint32_t acc = 0; int bits = 0;
    for (size_t i = 0; i < l; i++) {
        if (s[i] == '=' || s[i] == '\n' || s[i] == '\r') continue;
        int v = b64val((unsigned char)s[i]);
        if (v < 0) { free(out); return NULL; }
        acc = (acc << 6) | (uint32_t)v; bits += 6;
        if (bits >= 8) { bits -= 8; out[k++] = (uint8_t)(acc >> bits); }
    }
    *n = k;
    return out;
}

int tk_parse_pattern(tk_pattern *p, json_t *j) {
    if (json_is_string(j)) return tk_pattern_init(p, 0, json_string_value(j));
    json_t *s = json_object_get(j, "String"), *r = json_object_get(j, "Regex");
    if (json_is_string(s)) return tk_pattern_init(p, 0, json_string_value(s));
    if (json_is_string(r)) return tk_pattern_init(p, 1, json_string_value(r));
    return xgd_fail("pattern: expected {\"String\": ...} or {\"Regex\": ...}");
}

static int parse_behavior(json_t *o, tk_behavior def, tk_behavior *b) {
    const char *s = jstr(o, "behavior", NULL);
    *b = def;
    if (!s) return 0;
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int k = 0; k < 5; k++) if (strcmp(s, names[k]) == 0) { *b = (tk_behavior)k; return 0; }
    return xgd_fail("unknown split behavior '%s'", s);
}

static int parse_scheme(json_t *o, int *scheme) {
    const char *s = jstr(o, "prepend_scheme", NULL);
    *scheme = PREPEND_ALWAYS;
    if (!s) {
        json_t *a = json_object_get(o, "add_prefix_space"); /* the legacy field */
        if (json_is_false(a)) *scheme = PREPEND_NEVER;
        return 0;
    }
    if (!strcmp(s, "always")) *scheme = PREPEND_ALWAYS;
    else if (!strcmp(s, "never")) *scheme = PREPEND_NEVER;
    else if (!strcmp(s, "first")) *scheme = PREPEND_FIRST;
    else return xgd_fail("unknown prepend_scheme '%s'", s);
    return 0;
}

static int copy_char(char *dst, const char *src, const char *what) {
    int32_t c;
    if (!src || !*src) return xgd_fail("%s: empty replacement char", what);
    int l = tk_utf8_next(src, strlen(src), 0, &c);
    if (l < 0 || src[l]) return xgd_fail("%s: replacement must be one char", what);
    memcpy(dst, src, (size_t)l); dst[l] = 0;
    return 0;
}

static const char *type_of(json_t *o) {
    const char *t = jstr(o, "type", NULL);
    return t ? t : "";
}

/* ---- normalizers ---- */
static int parse_norm(tk_norm *n, json_t *o) {
    memset(n, 0, sizeof *n);
    const char *t = type_of(o);
    if (!strcmp(t, "NFC")) n->kind = N_NFC;
    else if (!strcmp(t, "NFD")) n->kind = N_NFD;
    else if (!strcmp(t, "NFKC")) n->kind = N_NFKC;
    else if (!strcmp(t, "NFKD")) n->kind = N_NFKD;
    else if (!strcmp(t, "Lowercase")) n->kind = N_LOWERCASE;
    else if (!strcmp(t, "StripAccents")) n->kind = N_STRIP_ACCENTS;
    else if (!strcmp(t, "Nmt")) n->kind = N_NMT;
    else if (!strcmp(t, "Strip")) { n->kind = N_STRIP; n->left = jbool(o, "strip_left", 1); n->right = jbool(o, "strip_right", 1); }
    else if (!strcmp(t, "Replace")) {
        n->kind = N_REPLACE;
        n->content = xgd_strdup(jstr(o, "content", ""));
        if (tk_parse_pattern(&n->pat, json_object_get(o, "pattern"))) return xgd_err_context("Replace");
    } else if (!strcmp(t, "Prepend")) { n->kind = N_PREPEND; n->content = xgd_strdup(jstr(o, "prepend", "")); }
    else if (!strcmp(t, "BertNormalizer")) {
        n->kind = N_BERT;
        n->clean = jbool(o, "clean_text", 1); n->chinese = jbool(o, "handle_chinese_chars", 1);
        n->lower = jbool(o, "lowercase", 1); n->accents = jbool(o, "strip_accents", n->lower);
    } else if (!strcmp(t, "Precompiled")) {
        const char *b = jstr(o, "precompiled_charsmap", NULL);
        size_t bn;
        uint8_t *blob = b ? b64decode(b, &bn) : NULL;
        if (!blob) return xgd_fail("Precompiled: precompiled_charsmap is missing or not base64");
        int r = tk_norm_precompiled_init(n, blob, bn);
        free(blob);
        if (r) return r;
    } else if (!strcmp(t, "Sequence")) {
        json_t *a = json_object_get(o, "normalizers");
        if (!json_is_array(a)) return xgd_fail("normalizer Sequence: 'normalizers' must be a list");
        n->kind = N_SEQUENCE;
        n->sub = xgd_calloc(json_array_size(a) + 1, sizeof *n->sub);
        for (size_t k = 0; k < json_array_size(a); k++) {
            n->nsub = (int)k + 1;
            if (parse_norm(&n->sub[k], json_array_get(a, k))) return -1;
        }
    } else return xgd_fail("unsupported normalizer type '%s'", t);
    return 0;
}

/* ---- pre-tokenizers ---- */
static int parse_pre(tk_pre *p, json_t *o) {
    memset(p, 0, sizeof *p);
    const char *t = type_of(o);
    if (!strcmp(t, "ByteLevel")) {
        p->kind = P_BYTELEVEL;
        p->add_prefix_space = jbool(o, "add_prefix_space", 1);
        p->trim_offsets = jbool(o, "trim_offsets", 1);
        p->use_regex = jbool(o, "use_regex", 1);
    } else if (!strcmp(t, "Split")) {
        p->kind = P_SPLIT;
        p->invert = jbool(o, "invert", 0);
        if (tk_parse_pattern(&p->pat, json_object_get(o, "pattern"))) return xgd_err_context("Split");
        if (parse_behavior(o, B_REMOVED, &p->behavior)) return -1;
    } else if (!strcmp(t, "Metaspace")) {
        p->kind = P_METASPACE;
        if (copy_char(p->repl, jstr(o, "replacement", "\xE2\x96\x81"), "Metaspace")) return -1;
        if (parse_scheme(o, &p->prepend_scheme)) return -1;
        p->split = jbool(o, "split", 1);
    } else if (!strcmp(t, "Whitespace")) p->kind = P_WHITESPACE;
    else if (!strcmp(t, "WhitespaceSplit")) p->kind = P_WSSPLIT;
    else if (!strcmp(t, "BertPreTokenizer")) p->kind = P_BERT;
    else if (!strcmp(t, "Punctuation")) { p->kind = P_PUNCT; if (parse_behavior(o, B_ISOLATED, &p->behavior)) return -1; }
    else if (!strcmp(t, "Digits")) { p->kind = P_DIGITS; p->individual = jbool(o, "individual_digits", 0); }
    else if (!strcmp(t, "CharDelimiterSplit")) {
        p->kind = P_CHARDELIM;
        const char *d = jstr(o, "delimiter", "");
        if (tk_utf8_next(d, strlen(d), 0, &p->delim) < 0 || !*d) return xgd_fail("CharDelimiterSplit: bad delimiter");
    } else if (!strcmp(t, "Sequence")) {
        json_t *a = json_object_get(o, "pretokenizers");
        if (!json_is_array(a)) return xgd_fail("pre_tokenizer Sequence: 'pretokenizers' must be a list");
        p->kind = P_SEQUENCE;
        p->sub = xgd_calloc(json_array_size(a) + 1, sizeof *p->sub);
        for (size_t k = 0; k < json_array_size(a); k++) {
            p->nsub = (int)k + 1;
            if (parse_pre(&p->sub[k], json_array_get(a, k))) return -1;
        }
    } else return xgd_fail("unsupported pre_tokenizer type '%s'", t);
    return 0;
}

/* ---- decoders ---- */
static int parse_dec(tk_dec *d, json_t *o) {
    memset(d, 0, sizeof *d);
    const char *t = type_of(o);
    if (!strcmp(t, "ByteLevel")) d->kind = D_BYTELEVEL;
    else if (!strcmp(t, "Metaspace")) {
        d->kind = D_METASPACE;
        if (copy_char(d->repl, jstr(o, "replacement", "\xE2\x96\x81"), "Metaspace")) return -1;
        if (parse_scheme(o, &d->prepend_scheme)) return -1;
    } else if (!strcmp(t, "ByteFallback")) d->kind = D_BYTEFALLBACK;
    else if (!strcmp(t, "Fuse")) d->kind = D_FUSE;
    else if (!strcmp(t, "Strip")) {
        d->kind = D_STRIP;
        d->content = xgd_strdup(jstr(o, "content", " "));
        d->start = (int)xgd_json_int(o, "start", 0); d->stop = (int)xgd_json_int(o, "stop", 0);
    } else if (!strcmp(t, "Replace")) {
        d->kind = D_REPLACE;
        d->with = xgd_strdup(jstr(o, "content", ""));
        if (tk_parse_pattern(&d->pat, json_object_get(o, "pattern"))) return xgd_err_context("Replace decoder");
    } else if (!strcmp(t, "WordPiece")) {
        d->kind = D_WORDPIECE;
        d->prefix = xgd_strdup(jstr(o, "prefix", "##")); d->cleanup = jbool(o, "cleanup", 1);
    } else if (!strcmp(t, "BPEDecoder")) { d->kind = D_BPE; d->prefix = xgd_strdup(jstr(o, "suffix", "</w>")); }
    else if (!strcmp(t, "CTC")) {
        d->kind = D_CTC;
        d->content = xgd_strdup(jstr(o, "pad_token", "<pad>"));
        d->with = xgd_strdup(jstr(o, "word_delimiter_token", "|"));
        d->cleanup = jbool(o, "cleanup", 1);
    } else if (!strcmp(t, "Sequence")) {
        json_t *a = json_object_get(o, "decoders");
        if (!json_is_array(a)) return xgd_fail("decoder Sequence: 'decoders' must be a list");
        d->kind = D_SEQUENCE;
        d->sub = xgd_calloc(json_array_size(a) + 1, sizeof *d->sub);
        for (size_t k = 0; k < json_array_size(a); k++) {
            d->nsub = (int)k + 1;
            if (parse_dec(&d->sub[k], json_array_get(a, k))) return -1;
        }
    } else return xgd_fail("unsupported decoder type '%s'", t);
    return 0;
}

/* ---- post-processors ---- */
static void post_add(int32_t **v, int *n, int32_t id) {
    *v = xgd_realloc(*v, (size_t)(*n + 1) * sizeof **v);
    (*v)[(*n)++] = id;
}

static int pair_id(json_t *o, const char *k, int32_t *id) {
    json_t *a = json_object_get(o, k);
    if (!json_is_array(a) || json_array_size(a) != 2 || !json_is_integer(json_array_get(a, 1)))
        return xgd_fail("post_processor: '%s' must be [token, id]", k);
    *id = (int32_t)json_integer_value(json_array_get(a, 1));
    return 0;
}

static int parse_post(tk_post *p, json_t *o) {
    const char *t = type_of(o);
    if (!strcmp(t, "ByteLevel")) {
        p->trim_offsets = jbool(o, "trim_offsets", 1);
        p->prefix_space = jbool(o, "add_prefix_space", 1);
        return 0;
    }
    if (!strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")) {
        int32_t cls, sep;
        if (pair_id(o, "cls", &cls) || pair_id(o, "sep", &sep)) return -1;
        post_add(&p->pre, &p->npre, cls);
        post_add(&p->post, &p->npost, sep);
        if (!strcmp(t, "RobertaProcessing")) {
            p->trim_offsets = jbool(o, "trim_offsets", 1);
            p->prefix_space = jbool(o, "add_prefix_space", 1);
        }
        return 0;
    }
    if (!strcmp(t, "TemplateProcessing")) {
        json_t *single = json_object_get(o, "single"), *sp = json_object_get(o, "special_tokens");
        if (!json_is_array(single)) return xgd_fail("TemplateProcessing: 'single' must be a list");
        int seen_a = 0;
        for (size_t k = 0; k < json_array_size(single); k++) {
            json_t *it = json_array_get(single, k), *st = json_object_get(it, "SpecialToken");
            if (json_object_get(it, "Sequence")) { seen_a = 1; continue; }
            const char *name = jstr(st, "id", NULL);
            json_t *ids = json_object_get(json_object_get(sp, name ? name : ""), "ids");
            if (!name || !json_is_array(ids)) return xgd_fail("TemplateProcessing: special token '%s' has no ids", name ? name : "?");
            for (size_t q = 0; q < json_array_size(ids); q++) {
                int32_t id = (int32_t)json_integer_value(json_array_get(ids, q));
                if (seen_a) post_add(&p->post, &p->npost, id); else post_add(&p->pre, &p->npre, id);
            }
        }
        return 0;
    }
    if (!strcmp(t, "Sequence")) {
        json_t *a = json_object_get(o, "processors");
        for (size_t k = 0; k < json_array_size(a); k++) if (parse_post(p, json_array_get(a, k))) return -1;
        return 0;
    }
    return xgd_fail("unsupported post_processor type '%s'", t);
}

/* ---- models ---- */
/* Set by tk_load_json while it loads a file: model.vocab and model.merges are then read straight
 * from the text (load_json_fast.c) and the jansson document holds empty placeholders for them. */
static _Thread_local const tk_fast_spans *g_fast;

static int vocab_from_object(tk_model *m, json_t *v) {
    if (g_fast && g_fast->vocab) return tk_fast_vocab(m, g_fast);
    if (!json_is_object(v)) return xgd_fail("model: 'vocab' must be an object {token: id}");
    const char *k; json_t *val;
    json_object_foreach(v, k, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= TK_MAX_ID)
            return xgd_fail("model vocab: token '%s' has a bad id", k);
        tk_model_set_token(m, (int32_t)json_integer_value(val), k, strlen(k));
    }
    return 0;
}

static int parse_model(tk_model *m, json_t *o) {
    const char *t = type_of(o);
    json_t *vocab = json_object_get(o, "vocab");
    if (!*t) t = json_object_get(o, "merges") ? "BPE" : json_is_array(vocab) ? "Unigram"
                 : json_object_get(o, "max_input_chars_per_word") ? "WordPiece" : "WordLevel";
    m->unk_id = -1;
    if (!strcmp(t, "BPE")) {
        m->kind = M_BPE;
        if (vocab_from_object(m, vocab)) return -1;
        const char *pf = jstr(o, "continuing_subword_prefix", NULL), *sf = jstr(o, "end_of_word_suffix", NULL);
        m->prefix = pf ? xgd_strdup(pf) : NULL; m->suffix = sf ? xgd_strdup(sf) : NULL;
        m->fuse_unk = jbool(o, "fuse_unk", 0); m->byte_fallback = jbool(o, "byte_fallback", 0);
        m->ignore_merges = jbool(o, "ignore_merges", 0);
        const char *unk = jstr(o, "unk_token", NULL);
        if (unk) m->unk_id = tk_strmap_get(&m->vocab, unk, strlen(unk));
        m->unk_missing = unk && m->unk_id < 0;
        json_t *merges = json_object_get(o, "merges");
        if (merges && !json_is_array(merges)) return xgd_fail("BPE: 'merges' must be a list");
        uint32_t rank = 0;
        if (g_fast && g_fast->merges && tk_fast_merges(m, g_fast) != 0) return -1;
        for (size_t k = 0; !(g_fast && g_fast->merges) && k < json_array_size(merges); k++) {
            json_t *e = json_array_get(merges, k);
            const char *a, *b; size_t na, nb;
            if (json_is_string(e)) {
                const char *s = json_string_value(e), *sp = strchr(s, ' ');
                if (strncmp(s, "#version", 8) == 0) continue;
                if (!sp || strchr(sp + 1, ' ')) return xgd_fail("BPE merge %zu: '%s' is not two tokens", k, s);
                a = s; na = (size_t)(sp - s); b = sp + 1; nb = strlen(b);
            } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                       json_is_string(json_array_get(e, 1))) {
                a = json_string_value(json_array_get(e, 0)); na = strlen(a);
                b = json_string_value(json_array_get(e, 1)); nb = strlen(b);
            } else return xgd_fail("BPE merge %zu: expected \"a b\" or [\"a\", \"b\"]", k);
            if (tk_bpe_add_merge(m, a, na, b, nb, rank++)) return -1;
        }
        tk_model_finish_bytes(m);
    } else if (!strcmp(t, "Unigram")) {
        m->kind = M_UNIGRAM;
        if (!json_is_array(vocab)) return xgd_fail("Unigram: 'vocab' must be a list of [piece, score]");
        size_t n = json_array_size(vocab);
        m->scores = xgd_calloc(n + 1, sizeof *m->scores);
        for (size_t k = 0; k < n; k++) {
            json_t *e = json_array_get(vocab, k);
            if (!json_is_string(json_array_get(e, 0)) || !json_is_number(json_array_get(e, 1)))
                return xgd_fail("Unigram vocab entry %zu: expected [piece, score]", k);
            const char *s = json_string_value(json_array_get(e, 0));
            tk_model_set_token(m, (int32_t)k, s, strlen(s));
            m->scores[k] = json_number_value(json_array_get(e, 1));
        }
        json_t *u = json_object_get(o, "unk_id");
        if (json_is_integer(u)) {
            m->unk_id = (int32_t)json_integer_value(u);
            if (m->unk_id < 0 || (size_t)m->unk_id >= n) return xgd_fail("Unigram: unk_id %d is out of range", m->unk_id);
        }
        m->byte_fallback = jbool(o, "byte_fallback", 0);
        tk_model_finish_bytes(m);
        tk_unigram_init(m);
    } else if (!strcmp(t, "WordPiece") || !strcmp(t, "WordLevel")) {
        m->kind = !strcmp(t, "WordPiece") ? M_WORDPIECE : M_WORDLEVEL;
        if (vocab_from_object(m, vocab)) return -1;
        const char *unk = jstr(o, "unk_token", "[UNK]");
        m->unk_id = tk_strmap_get(&m->vocab, unk, strlen(unk));
        m->prefix = xgd_strdup(jstr(o, "continuing_subword_prefix", "##"));
        m->max_chars = (int)xgd_json_int(o, "max_input_chars_per_word", 100);
    } else return xgd_fail("unsupported model type '%s'", t);
    return 0;
}

static int load(xgd_tokenizer *t, json_t *root) {
    if (!json_is_object(root)) return xgd_fail("not a JSON object");
    const char *ver = jstr(root, "version", "1.0");
    if (strcmp(ver, "1.0") != 0) return xgd_fail("version is '%s', expected '1.0'", ver);
    json_t *m = json_object_get(root, "model");
    if (!json_is_object(m)) return xgd_fail("no 'model' object");
    if (parse_model(&t->model, m)) return xgd_err_context("model");
    json_t *c;
    if ((c = json_object_get(root, "normalizer")) && !json_is_null(c)) {
        t->norm = xgd_calloc(1, sizeof *t->norm);
        if (parse_norm(t->norm, c)) return xgd_err_context("normalizer");
    }
    if ((c = json_object_get(root, "pre_tokenizer")) && !json_is_null(c)) {
        t->pre = xgd_calloc(1, sizeof *t->pre);
        if (parse_pre(t->pre, c)) return xgd_err_context("pre_tokenizer");
    }
    if ((c = json_object_get(root, "post_processor")) && !json_is_null(c))
        if (parse_post(&t->post, c)) return xgd_err_context("post_processor");
    if ((c = json_object_get(root, "decoder")) && !json_is_null(c)) {
        t->dec = xgd_calloc(1, sizeof *t->dec);
        if (parse_dec(t->dec, c)) return xgd_err_context("decoder");
    }
    json_t *added = json_object_get(root, "added_tokens");
    for (size_t k = 0; k < json_array_size(added); k++) {
        json_t *a = json_array_get(added, k);
        const char *content = jstr(a, "content", NULL);
        json_t *id = json_object_get(a, "id");
        if (!content || !json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= TK_MAX_ID)
            return xgd_fail("added_tokens[%zu]: needs 'content' and a valid 'id'", k);
        tk_added_add(&t->added, (int32_t)json_integer_value(id), content, jbool(a, "single_word", 0),
                     jbool(a, "lstrip", 0), jbool(a, "rstrip", 0), jbool(a, "normalized", 1), jbool(a, "special", 0));
    }
    return 0;
}

/* The document jansson parses: the text with the vocab and merges values replaced by "{}" and
 * "[]" followed by the line breaks they held, so error positions after them stay right. */
static char *placeholder_doc(const char *text, size_t len, const tk_fast_spans *sp, size_t *out_len) {
    char *doc = xgd_malloc(len + 1), *o = doc;
    const char *p = text, *end = text + len;
    const char *spans[2][2] = {{sp->vocab, sp->vocab_end}, {sp->merges, sp->merges_end}};
    if (spans[0][0] && spans[1][0] && spans[1][0] < spans[0][0]) {
        const char *t0 = spans[0][0], *t1 = spans[0][1];
        spans[0][0] = spans[1][0]; spans[0][1] = spans[1][1];
        spans[1][0] = t0; spans[1][1] = t1;
    }
    for (int k = 0; k < 2; k++) {
        const char *v = spans[k][0], *ve = spans[k][1];
        if (!v) continue;
        memcpy(o, p, (size_t)(v - p));
        o += v - p;
        *o++ = *v;                                /* '{' or '[' */
        *o++ = v == sp->vocab ? '}' : ']';
        for (const char *q = v; q < ve; q++) if (*q == '\n') *o++ = '\n';
        p = ve;
    }
    memcpy(o, p, (size_t)(end - p));
    o += end - p;
    *o = 0;
    *out_len = (size_t)(o - doc);
    return doc;
}

/* Parse tokenizer.json text: jansson for the structure, the fast path for model.vocab/merges. */
static int load_text(xgd_tokenizer *t, const char *text, size_t len, const char *name) {
    tk_fast_spans spans;
    int fast = tk_fast_find(text, len, &spans);
    char *doc = NULL;
    size_t doc_len = len;
    if (fast) doc = placeholder_doc(text, len, &spans, &doc_len);
    json_error_t e;
    json_t *root = json_loadb(doc ? doc : text, doc_len, JSON_DECODE_ANY, &e);
    int r = -1;
    if (!root) xgd_fail("%s:%d:%d: invalid JSON: %s", name, e.line, e.column, e.text);
    else {
        g_fast = fast ? &spans : NULL;
        r = load(t, root);
        g_fast = NULL;
        json_decref(root);
        if (r) xgd_err_context("%s", name);
    }
    free(doc);
    return r ? -1 : 0;
}

int tk_load_json(xgd_tokenizer *t, const char *path) {
    char *text;
    size_t len;
    if (xgd_read_file(path, &text, &len) != 0) return -1;
    int r = load_text(t, text, len, path);
    free(text);
    return r;
}

int tk_load_json_text(xgd_tokenizer *t, const char *text, size_t len, const char *name) {
    return load_text(t, text, len, name);
}
