/* Internal types of the tokenizer: the pipeline stages (normalizer, pre-tokenizer, model,
 * post-processor, decoder), each a tagged struct built by a loader (tokenizer.json, SentencePiece
 * .model, GPT-2 files) and run by tokenizer.c. Not part of the public API. */
#ifndef XGD_TOKENIZE_TK_H
#define XGD_TOKENIZE_TK_H
#include "tokenize/tokenizer.h"
#include <stddef.h>
#include <stdint.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Token ids are below this (16M: real vocabularies have at most a few 100k; the bound keeps a
 * corrupt file from asking for gigabytes). */
#define TK_MAX_ID (1 << 24)

/* ---- hash maps ---------------------------------------------------------------------------- */
/* String -> int32 (open addressing; keys are copied). A slot keeps the hash, length and value
 * beside the key pointer, so a miss rarely touches the key itself. */
typedef struct { char *key; uint32_t len, hash; int32_t val; } tk_strslot;
typedef struct { tk_strslot *slots; size_t cap, n; } tk_strmap;
void tk_strmap_put(tk_strmap *m, const char *s, size_t n, int32_t v);
int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n); /* -1 when absent */
void tk_strmap_free(tk_strmap *m);

/* uint64 -> uint64 (key UINT64_MAX is reserved). Key and value sit side by side: a lookup in a
 * big table (280k BPE merges) costs one cache miss, not two. */
typedef struct { uint64_t k, v; } tk_u64slot;
typedef struct { tk_u64slot *slots; size_t cap, n; } tk_u64map;
void tk_u64map_put(tk_u64map *m, uint64_t k, uint64_t v);
int tk_u64map_get(const tk_u64map *m, uint64_t k, uint64_t *v); /* 1 found, 0 absent */
void tk_u64map_free(tk_u64map *m);

/* A byte trie over strings (edges in a u64map keyed (node<<8)|byte); node 0 is the root.
 * value[node] = id of the string ending there, or -1. */
typedef struct { tk_u64map edges; int32_t *value; size_t n, cap; int32_t root[256]; } tk_trie;
void tk_trie_init(tk_trie *t);
void tk_trie_add(tk_trie *t, const char *s, size_t n, int32_t id);
int32_t tk_trie_step(const tk_trie *t, int32_t node, uint8_t c); /* -1 when no edge */
/* The root's edges are a plain table: most positions of a text fail right there (added-token
 * matching tries every position). */
void tk_trie_free(tk_trie *t);

/* ---- UTF-8 and Unicode -------------------------------------------------------------------- */
/* Decode the char at s[i] (i < n): returns its byte length and sets *cp; -1 when invalid. */
int tk_utf8_next(const char *s, size_t n, size_t i, int32_t *cp);
/* Length of the (valid) char starting with byte c. */
static inline int tk_utf8_len(uint8_t c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
int tk_utf8_put(int32_t cp, char *out); /* returns bytes written (1..4) */
/* Byte index of the first invalid sequence, or -1 when s is valid UTF-8. */
long tk_utf8_invalid_at(const char *s, size_t n);
int tk_is_letter(int32_t c);     /* \p{L} */
int tk_is_number(int32_t c);     /* \p{N} (Rust char::is_numeric: Nd, Nl, No) */
int tk_is_digit(int32_t c);      /* Nd */
int tk_is_space(int32_t c);      /* the White_Space property (\s, char::is_whitespace) */
int tk_is_word(int32_t c);       /* \w (Unicode) */
int tk_is_punct(int32_t c);      /* ASCII punctuation or P* (HF is_punc) */
int tk_is_mark(int32_t c);       /* M* (Rust is_combining_mark) */
int tk_is_mn(int32_t c);         /* Mn */
int tk_is_control(int32_t c);    /* Cc/Cf/Co/Cn and friends, as BERT's is_control */

/* ---- normalized strings with alignments --------------------------------------------------- */
/* A string being normalized/pre-tokenized; byte k came from the original bytes [o0[k], o1[k]). */
typedef struct { char *s; int32_t *o0, *o1; size_t n, cap; } tk_nstr;
void tk_nstr_push(tk_nstr *d, const char *b, size_t n, int32_t o0, int32_t o1);
void tk_nstr_push_range(tk_nstr *d, const tk_nstr *src, size_t from, size_t to); /* copy bytes */
void tk_nstr_free(tk_nstr *d);

/* A piece of the input: normalized text, and the added-token id when it is one (else -1). */
typedef struct { tk_nstr str; int32_t added; } tk_piece;
typedef struct { tk_piece *v; size_t n, cap; } tk_pieces;
tk_piece *tk_pieces_add(tk_pieces *p);
void tk_pieces_free(tk_pieces *p);

/* ---- regex patterns (Replace, Split) ------------------------------------------------------ */
typedef enum { PAT_STRING, PAT_REGEX, PAT_GPT2, PAT_LLAMA3, PAT_BLOOM } tk_pat_kind;
typedef struct { tk_pat_kind kind; char *str; size_t len; pcre2_code *re; } tk_pattern;
/* Build from {"String": s} or {"Regex": r}; known regexes get hand-coded scanners. */
int tk_pattern_init(tk_pattern *p, int is_regex, const char *s);
void tk_pattern_free(tk_pattern *p);
/* Find the next match at or after byte pos: 1 and [*ms, *me) when found, 0 when none. */
int tk_pattern_find(const tk_pattern *p, const char *s, size_t n, size_t pos, size_t *ms, size_t *me);

/* ---- normalizers -------------------------------------------------------------------------- */
typedef enum { N_NFC, N_NFD, N_NFKC, N_NFKD, N_LOWERCASE, N_STRIP, N_STRIP_ACCENTS, N_REPLACE,
               N_PREPEND, N_NMT, N_BERT, N_PRECOMPILED, N_SEQUENCE } tk_norm_kind;
typedef struct tk_norm {
    tk_norm_kind kind;
    int left, right;                          /* Strip */
    int clean, chinese, accents, lower;       /* BertNormalizer */
    tk_pattern pat; char *content;            /* Replace; Prepend uses content */
    uint8_t *charsmap; size_t charsmap_n;     /* Precompiled (the decoded blob) */
    uint32_t *trie; size_t trie_n; const char *pool; size_t pool_n;
    struct tk_norm *sub; int nsub;            /* Sequence */
} tk_norm;
int tk_norm_precompiled_init(tk_norm *nm, const uint8_t *blob, size_t n);
void tk_norm_run(const tk_norm *nm, const tk_nstr *in, tk_nstr *out);
void tk_norm_free(tk_norm *nm);

/* ---- pre-tokenizers ----------------------------------------------------------------------- */
typedef enum { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS } tk_behavior;
typedef enum { P_BYTELEVEL, P_SPLIT, P_METASPACE, P_WHITESPACE, P_WSSPLIT, P_PUNCT, P_DIGITS,
               P_BERT, P_CHARDELIM, P_SEQUENCE } tk_pre_kind;
enum { PREPEND_ALWAYS, PREPEND_NEVER, PREPEND_FIRST };
typedef struct tk_pre {
    tk_pre_kind kind;
    int add_prefix_space, use_regex, trim_offsets; /* ByteLevel */
    tk_pattern pat; tk_behavior behavior; int invert; /* Split, Punctuation */
    char repl[8]; int prepend_scheme, split;       /* Metaspace */
    int individual;                                /* Digits */
    int32_t delim;                                 /* CharDelimiterSplit */
    struct tk_pre *sub; int nsub;                  /* Sequence */
} tk_pre;
/* Split every piece that is not an added token; the result replaces *ps. */
void tk_pre_run(const tk_pre *pt, tk_pieces *ps);
void tk_pre_free(tk_pre *pt);
/* The GPT-2 byte<->char table. */
int32_t tk_byte_char(uint8_t b);
int tk_char_byte(int32_t cp); /* the byte for a byte-char, or -1 */

/* ---- models ------------------------------------------------------------------------------- */
typedef enum { M_BPE, M_UNIGRAM, M_WORDPIECE, M_WORDLEVEL } tk_model_kind;
typedef struct {
    tk_model_kind kind;
    tk_strmap vocab;       /* token -> id */
    char **id2tok;         /* id -> token (NULL holes allowed) */
    int32_t nid;           /* size of id2tok */
    int32_t unk_id;        /* -1 when none */
    int unk_missing;       /* BPE: an unk_token is named but not in the vocab (an error when needed) */
    /* BPE */
    tk_u64map merges;      /* (a<<32|b) -> (rank<<32|new) */
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256]; /* ids of <0xXX> tokens, -1 when absent */
    /* Unigram */
    double *scores; double unk_score; tk_trie trie;
    /* WordPiece */
    int max_chars;
} tk_model;
/* Append the tokens of one word (bytes w[0..n)) as (id, byte start, byte end) in the word. */
typedef struct { int32_t id, s, e; } tk_tok;
typedef struct { tk_tok *v; size_t n, cap; } tk_toks;
void tk_toks_add(tk_toks *t, int32_t id, int32_t s, int32_t e);
int tk_model_tokenize(const tk_model *m, const char *w, size_t n, tk_toks *out);
void tk_model_set_token(tk_model *m, int32_t id, const char *s, size_t n);
void tk_model_finish_bytes(tk_model *m); /* fill byte_ids */
int tk_bpe_add_merge(tk_model *m, const char *a, size_t na, const char *b, size_t nb, uint32_t rank);
int tk_unigram_init(tk_model *m); /* after vocab and scores: trie, unk score */
void tk_model_free(tk_model *m);

/* ---- added tokens ------------------------------------------------------------------------- */
typedef struct {
    int32_t id; char *content; int single_word, lstrip, rstrip, normalized, special;
} tk_added_tok;
typedef struct {
    tk_added_tok *v; size_t n, cap;
    tk_strmap by_content;  /* content -> index in v */
    tk_u64map by_id;       /* id -> index in v (built by tk_added_build) */
    tk_trie raw, norm;     /* trie value = index in v */
} tk_added;
void tk_added_add(tk_added *a, int32_t id, const char *content, int single_word, int lstrip,
                  int rstrip, int normalized, int special);
/* Build the two matchers (norm patterns are normalized with nm). */
void tk_added_build(tk_added *a, const tk_norm *nm);
/* Split one piece around the tokens of the given kind (normalized or raw); appends to out. */
void tk_added_split(const tk_added *a, int normalized, const tk_piece *in, tk_pieces *out);
void tk_added_free(tk_added *a);

/* ---- post-processor ----------------------------------------------------------------------- */
/* Every supported post-processor reduces to a template for single sequences: special ids before
 * and after $A. ByteLevel trims offsets. */
typedef struct {
    int32_t *pre, *post; int npre, npost;
    int trim_offsets;   /* ByteLevel/RobertaProcessing(trim_offsets) */
    int prefix_space;   /* their add_prefix_space: the first token keeps one added space */
} tk_post;

/* ---- decoders ----------------------------------------------------------------------------- */
typedef enum { D_BYTELEVEL, D_METASPACE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_REPLACE, D_WORDPIECE,
               D_BPE, D_CTC, D_SEQUENCE } tk_dec_kind;
typedef struct tk_dec {
    tk_dec_kind kind;
    char repl[8]; int prepend_scheme;         /* Metaspace */
    char *content; int start, stop;           /* Strip (content: one char) */
    tk_pattern pat; char *with;               /* Replace */
    char *prefix; int cleanup;                /* WordPiece; BPEDecoder uses prefix as suffix */
    struct tk_dec *sub; int nsub;
} tk_dec;
/* Transform the token strings in place (the list may shrink). */
void tk_dec_run(const tk_dec *d, char ***toks, size_t *n);
void tk_dec_free(tk_dec *d);

/* ---- the tokenizer ------------------------------------------------------------------------ */
struct xgd_tokenizer {
    tk_model model;
    tk_added added;
    tk_norm *norm;        /* NULL: none */
    tk_pre *pre;          /* NULL: none */
    tk_post post;
    tk_dec *dec;          /* NULL: join with " " */
    int cleanup;          /* clean_up_tokenization_spaces */
    int32_t bos, eos, pad, unk;
};
/* Loaders fill a zeroed tokenizer (bos/eos/pad/unk preset to -1). */
int tk_load_json(xgd_tokenizer *t, const char *path);
/* How to convert a .model: flavor 0 from the model type (BPE -> Llama, Unigram -> T5), 1 Llama,
 * 2 T5; extra_ids: T5's <extra_id_N> count; legacy: transformers' `legacy` flag (default 1). */
typedef struct { int flavor, extra_ids, legacy; } tk_spm_opts;
int tk_load_spm(xgd_tokenizer *t, const char *path, const tk_spm_opts *o);
int tk_load_gpt2(xgd_tokenizer *t, const char *vocab_path, const char *merges_path);
/* The same from memory (name is used in messages); the fuzz targets use these. */
int tk_load_json_text(xgd_tokenizer *t, const char *text, size_t len, const char *name);
int tk_load_spm_buf(xgd_tokenizer *t, const uint8_t *data, size_t len, const tk_spm_opts *o, const char *name);
/* A whole tokenizer from a tokenizer.json text (kind 0) or .model bytes (kind 1), no config. */
xgd_tokenizer *tk_tokenizer_from_memory(int kind, const void *data, size_t len);
/* Parse components from tokenizer.json objects (shared with tests). */
struct json_t;
int tk_parse_pattern(tk_pattern *p, struct json_t *j);

#endif
