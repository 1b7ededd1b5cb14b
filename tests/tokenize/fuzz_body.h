/* The tokenizer fuzz body, shared by the standalone mutation driver (test_fuzz.c, run by ctest
 * under ASan) and the libFuzzer target (fuzz_tokenizer.c, run by test_libfuzzer.sh).
 * Input byte 0 picks the target: 0 = a tokenizer.json text, 1 = SentencePiece .model bytes,
 * 2 = text to encode with a fixed tokenizer that has every component. A loaded tokenizer then
 * encodes fixed strings and the input itself (any bytes: invalid UTF-8 must fail cleanly) and
 * decodes ids made from the input. Nothing may crash, leak or read out of bounds. */
#ifndef XGD_TESTS_TOKENIZE_FUZZ_BODY_H
#define XGD_TESTS_TOKENIZE_FUZZ_BODY_H
#include "tokenize/tk.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *fuzz_json_seeds[] = {
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":9,\"content\":\"<x>\",\"lstrip\":true,\"rstrip\":true,\"single_word\":true,\"normalized\":false,\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Lowercase\"},{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" \"},{\"type\":\"Prepend\",\"prepend\":\"_\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}]},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<x>\"}},{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{\"<x>\":{\"id\":\"<x>\",\"ids\":[9]}}},"
    "\"decoder\":{\"type\":\"ByteLevel\"},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"u\",\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{\"u\":0,\"a\":1,\"b\":2,\"ab\":3,\"\\u0120\":4,\"\\u0120ab\":5,\"<0x41>\":6},\"merges\":[\"a b\",[\"\\u0120\",\"ab\"]]}}",
    "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"s\",1],\"cls\":[\"c\",2]},\"decoder\":{\"type\":\"WordPiece\"},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"u\",\"max_input_chars_per_word\":5,\"vocab\":{\"u\":0,\"s\":1,\"c\":2,\"ab\":3,\"##c\":4}}}",
    "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Nmt\"},{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},{\"type\":\"Strip\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":true},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Metaspace\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":2},{\"type\":\"Fuse\"}]},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":[[\"<unk>\",0],[\"\\u2581\",-1],[\"a\",-2],[\"ab\",-1.5],[\"<0xC3>\",-4],[\"<0xA9>\",-4]]}}",
    "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Whitespace\"},{\"type\":\"Digits\",\"individual_digits\":false},"
    "{\"type\":\"Punctuation\",\"behavior\":\"MergedWithNext\"},{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"MergedWithPrevious\",\"invert\":true}]},"
    "\"decoder\":{\"type\":\"BPEDecoder\"},\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"u\",\"vocab\":{\"u\":0,\"a\":1}}}",
};

/* A tiny ModelProto: pieces (1: piece, 2: score, 3: type) and trainer_spec.model_type. */
static inline size_t fuzz_pb_piece(uint8_t *o, const char *s, float score, int type) {
    size_t n = strlen(s), k = 0;
    uint8_t body[64];
    body[k++] = 0x0A; body[k++] = (uint8_t)n; memcpy(body + k, s, n); k += n;
    body[k++] = 0x15; memcpy(body + k, &score, 4); k += 4;
    body[k++] = 0x18; body[k++] = (uint8_t)type;
    o[0] = 0x0A; o[1] = (uint8_t)k; memcpy(o + 2, body, k);
    return k + 2;
}

static inline size_t fuzz_spm_seed(uint8_t *o, int model_type) {
    static const char *p[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "ab", "\xE2\x96\x81" "a", "<0x41>", "<u>"};
    static const int ty[] = {2, 3, 3, 1, 1, 1, 1, 1, 6, 4};
    size_t k = 0;
    for (int i = 0; i < 10; i++) k += fuzz_pb_piece(o + k, p[i], -(float)i, ty[i]);
    o[k++] = 0x12; o[k++] = 2; o[k++] = 0x18; o[k++] = (uint8_t)model_type; /* trainer_spec */
    return k;
}

static inline void fuzz_exercise(xgd_tokenizer *t, const uint8_t *d, size_t n) {
    static const char *texts[] = {"", " ", "ab AB a-b 12345 <x> ab<x>ab", "h\xC3\xA9llo \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\xA6\x99!!",
                                  "  \n\t x  ", "\xE2\x96\x81\xE2\x96\x81" "a"};
    xgd_encoding e = {0};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) xgd_encode(t, texts[k], strlen(texts[k]), (int)(k & 1), &e);
    xgd_encode(t, (const char *)d, n, 1, &e);
    int32_t ids[64];
    size_t m = 0;
    for (size_t k = 0; k + 1 < n && m < 64; k += 2) ids[m++] = (int32_t)(d[k] | d[k + 1] << 8) % (xgd_vocab_size(t) + 3);
    char *s = xgd_decode(t, ids, m, (int)(n & 1), (int)(n & 2) ? 1 : 0);
    free(s);
    s = xgd_decode(t, e.ids, e.n, 0, 0);
    free(s);
    xgd_encoding_free(&e);
    const char *texts2[] = {"ab", (const char *)d};
    int32_t *bi, *bm; int T;
    xgd_batch_opts o = {.add_special = 1, .max_length = 3, .pad_to_longest = 1, .pad_id = 0,
                        .truncation_side = XGD_SIDE_LEFT, .padding_side = XGD_SIDE_LEFT};
    /* d is not NUL-terminated here: only batch-encode when it holds no NUL and is short */
    if (n < 64 && !memchr(d, 0, n)) {
        char buf[64];
        memcpy(buf, d, n); buf[n] = 0;
        texts2[1] = buf;
        if (xgd_encode_batch(t, texts2, 2, &o, &bi, &bm, &T) == 0) { free(bi); free(bm); }
    }
}

static inline int fuzz_one(const uint8_t *data, size_t n) {
    if (n < 1) return 0;
    static xgd_tokenizer *fixed;
    xgd_tokenizer *t = NULL;
    switch (data[0] % 3) {
    case 0: t = tk_tokenizer_from_memory(0, data + 1, n - 1); break;
    case 1: t = tk_tokenizer_from_memory(1, data + 1, n - 1); break;
    case 2:
        if (!fixed) fixed = tk_tokenizer_from_memory(0, fuzz_json_seeds[0], strlen(fuzz_json_seeds[0]));
        if (fixed) fuzz_exercise(fixed, data + 1, n - 1);
        return 0;
    }
    if (t) { fuzz_exercise(t, data + 1, n - 1); xgd_tokenizer_free(t); }
    return 0;
}

#endif
