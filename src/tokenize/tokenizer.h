/* Tokenizers with Hugging Face semantics: tokenizer.json (tokenizers 0.19), SentencePiece .model
 * files (converted as transformers' SpmConverter/LlamaConverter do) and GPT-2 vocab.json +
 * merges.txt. encode() gives the ids that transformers' fast tokenizer gives, decode() the text
 * that tokenizer.decode() gives.
 *
 * Offsets are BYTE offsets into the UTF-8 input text: token i covers text[start, end). Python's
 * offsets count characters; xgd_utf8_byte_to_char() converts when a caller needs those. Special
 * tokens added by the post-processor have the empty span (0, 0), as in HF.
 *
 * Encode and decode only read the tokenizer, so one loaded tokenizer can serve many threads. */
#ifndef XGD_TOKENIZE_TOKENIZER_H
#define XGD_TOKENIZE_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

typedef struct xgd_tokenizer xgd_tokenizer;

/* One encoded sequence. ids[i] covers the input bytes [start[i], end[i]). */
typedef struct {
    int32_t *ids;
    int32_t *start, *end;
    size_t n, cap;
} xgd_encoding;

/* Load from a model folder (tokenizer.json, else tokenizer.model / spiece.model, else vocab.json +
 * merges.txt; tokenizer_config.json decides BOS/EOS as transformers does) or from one file
 * (tokenizer.json, *.model, or vocab.json with merges.txt beside it). NULL on error (xgd_errmsg). */
xgd_tokenizer *xgd_tokenizer_load(const char *path);
void xgd_tokenizer_free(xgd_tokenizer *t);

/* Encode UTF-8 text of len bytes. add_special: run the post-processor's special tokens (what
 * transformers' tok(text) does; TRL passes False). Invalid UTF-8 fails with the byte position.
 * The encoding is reset first; free it with xgd_encoding_free. */
int xgd_encode(const xgd_tokenizer *t, const char *text, size_t len, int add_special, xgd_encoding *out);
void xgd_encoding_free(xgd_encoding *e);

/* Decode ids to a new NUL-terminated UTF-8 string. cleanup: 1 or 0 forces transformers'
 * clean_up_tokenization, -1 takes clean_up_tokenization_spaces from tokenizer_config.json
 * (default true, as transformers 4.41). Unknown ids are dropped, as tokenizers does. */
char *xgd_decode(const xgd_tokenizer *t, const int32_t *ids, size_t n, int skip_special, int cleanup);
/* The same with the byte length: the text may contain NUL chars (a decoded byte 0). */
char *xgd_decode_len(const xgd_tokenizer *t, const int32_t *ids, size_t n, int skip_special, int cleanup, size_t *len);

/* Vocabulary: size (model vocab plus added tokens; the largest id + 1), lookups. */
int32_t xgd_vocab_size(const xgd_tokenizer *t);
/* The token's string (model or added token), or NULL when the id is unknown. Not a copy. */
const char *xgd_id_to_token(const xgd_tokenizer *t, int32_t id);
/* The id of a token string (added tokens first, then the model), or -1. */
int32_t xgd_token_to_id(const xgd_tokenizer *t, const char *token);
int xgd_is_special(const xgd_tokenizer *t, int32_t id);
/* Special ids from tokenizer_config.json (or the model's own), -1 when there is none. */
int32_t xgd_bos_id(const xgd_tokenizer *t);
int32_t xgd_eos_id(const xgd_tokenizer *t);
int32_t xgd_pad_id(const xgd_tokenizer *t);
int32_t xgd_unk_id(const xgd_tokenizer *t);

/* Batched encoding as transformers' tok(list, padding=..., truncation=..., max_length=...).
 * max_length > 0 truncates each sequence (room for the special tokens is kept, as HF does) on
 * the given side; pad_to_longest pads to the longest sequence, else to max_length (needs
 * max_length > 0). Output: ids and mask as (B, T) row-major, newly allocated. pad_id < 0 uses the
 * tokenizer's pad id (an error when it has none). */
typedef enum { XGD_SIDE_RIGHT = 0, XGD_SIDE_LEFT = 1 } xgd_side;
typedef struct {
    int add_special;
    int max_length;        /* 0: no truncation */
    xgd_side truncation_side, padding_side;
    int pad_to_longest;    /* 1: pad to the longest; 0: pad to max_length */
    int32_t pad_id;        /* -1: the tokenizer's */
} xgd_batch_opts;
int xgd_encode_batch(const xgd_tokenizer *t, const char *const *texts, int B, const xgd_batch_opts *o,
                     int32_t **ids, int32_t **mask, int *T);

/* Number of UTF-8 characters in text[0, byte_off): converts a byte offset to Python's offsets. */
size_t xgd_utf8_byte_to_char(const char *text, size_t byte_off);

#endif
