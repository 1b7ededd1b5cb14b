/* Model folders: which file is picked (tokenizer.json, then tokenizer.model / spiece.model, then
 * vocab.json + merges.txt) and what tokenizer_config.json changes (add_bos_token/add_eos_token
 * for Llama tokenizers, special tokens, added_tokens_decoder, clean_up_tokenization_spaces);
 * the T5 conversion of a Unigram .model (extra ids, "$A </s>"). */
#include "test.h"
#include "fuzz_body.h"
#include "base/err.h"
#include "base/fs.h"
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

static char g_dir[4096];

static const char *folder(const char *name) {
    static char p[8192];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    xgd_mkdir_p(p);
    return p;
}

static void link_in(const char *dir, const char *target, const char *name) {
    char p[8192], abs[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK_MSG(realpath(target, abs) != NULL, "realpath %s", target);
    CHECK_MSG(symlink(abs, p) == 0, "symlink %s", p);
}

static void write_in(const char *dir, const char *name, const char *text) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK(xgd_write_file_atomic(p, text, strlen(text)) == 0);
}

static const char *enc(const xgd_tokenizer *t, const char *text, int add_special) {
    static char buf[4096];
    xgd_encoding e = {0};
    if (xgd_encode(t, text, strlen(text), add_special, &e)) { snprintf(buf, sizeof buf, "error: %s", xgd_errmsg()); return buf; }
    size_t l = 0; buf[0] = 0;
    for (size_t k = 0; k < e.n; k++) l += (size_t)snprintf(buf + l, sizeof buf - l, k ? " %d" : "%d", e.ids[k]);
    xgd_encoding_free(&e);
    return buf;
}

int main(void) {
    const char *shared = test_shared();
    if (!shared) return 77;
    snprintf(g_dir, sizeof g_dir, "%s", test_tmpdir("tokenize_config"));
    char l2[4096], l3[4096], gv[4096], gm[4096];
    snprintf(l2, sizeof l2, "%s/models/tokenizers/llama2/tokenizer.model", shared);
    snprintf(l3, sizeof l3, "%s/models/tokenizers/llama3/tokenizer.json", shared);
    snprintf(gv, sizeof gv, "%s/models/tokenizers/gpt2/vocab.json", shared);
    snprintf(gm, sizeof gm, "%s/models/tokenizers/gpt2/merges.txt", shared);

    /* Llama-2 .model + config: no BOS, EOS appended, pad = </s>, clean-up on */
    const char *d = folder("llama2_eos");
    link_in(d, l2, "tokenizer.model");
    write_in(d, "tokenizer_config.json", "{\"tokenizer_class\":\"LlamaTokenizer\",\"add_bos_token\":false,\"add_eos_token\":true,"
             "\"bos_token\":{\"content\":\"<s>\"},\"eos_token\":\"</s>\",\"pad_token\":\"</s>\",\"clean_up_tokenization_spaces\":true,"
             "\"model_max_length\":1000000000000000019884624838656}");
    xgd_tokenizer *t = xgd_tokenizer_load(d);
    CHECK_MSG(t != NULL, "%s", xgd_errmsg());
    if (t) {
        CHECK_STR(enc(t, "Hello world", 1), "15043 3186 2");
        CHECK(xgd_pad_id(t) == 2 && xgd_bos_id(t) == 1 && xgd_eos_id(t) == 2 && xgd_unk_id(t) == 0);
        int32_t ids[] = {15043, 1919};  /* "▁Hello" "▁," */
        char *s = xgd_decode(t, ids, 2, 0, -1);
        CHECK_STR(s, "Hello,");            /* clean_up_tokenization_spaces from the config */
        free(s);
        xgd_tokenizer_free(t);
    }
    /* the same model without a config: LlamaTokenizerFast defaults, BOS only */
    d = folder("llama2_plain");
    link_in(d, l2, "tokenizer.model");
    if ((t = xgd_tokenizer_load(d))) { CHECK_STR(enc(t, "Hello world", 1), "1 15043 3186"); xgd_tokenizer_free(t); }
    else CHECK_MSG(0, "%s", xgd_errmsg());

    /* legacy=False (LlamaConverter): no normalizer, Metaspace(first, split=False): the piece
     * after an added token gets no "▁", and a leading space is the "▁" itself */
    d = folder("llama2_nonlegacy");
    link_in(d, l2, "tokenizer.model");
    write_in(d, "tokenizer_config.json", "{\"tokenizer_class\":\"LlamaTokenizer\",\"legacy\":false}");
    if ((t = xgd_tokenizer_load(d))) {
        CHECK_STR(enc(t, "<s>Hello world", 0), "1 10994 3186");
        CHECK_STR(enc(t, " Hello", 0), "15043");
        CHECK_STR(enc(t, "Hello  world", 1), "1 15043 29871 3186");
        xgd_tokenizer_free(t);
    } else CHECK_MSG(0, "%s", xgd_errmsg());
    if ((t = xgd_tokenizer_load(l2))) { /* legacy (the default) */
        CHECK_STR(enc(t, "<s>Hello world", 0), "1 15043 3186");
        CHECK_STR(enc(t, " Hello", 0), "29871 15043");
        xgd_tokenizer_free(t);
    }

    /* tokenizer.json wins over tokenizer.model */
    d = folder("both");
    link_in(d, l3, "tokenizer.json");
    link_in(d, l2, "tokenizer.model");
    if ((t = xgd_tokenizer_load(d))) { CHECK(xgd_vocab_size(t) == 128256); xgd_tokenizer_free(t); }
    else CHECK_MSG(0, "%s", xgd_errmsg());

    /* GPT-2 files; <|endoftext|> is special; added_tokens_decoder adds a token */
    d = folder("gpt2");
    link_in(d, gv, "vocab.json");
    link_in(d, gm, "merges.txt");
    write_in(d, "tokenizer_config.json", "{\"tokenizer_class\":\"GPT2Tokenizer\",\"added_tokens_decoder\":{\"50257\":"
             "{\"content\":\"<|pad|>\",\"lstrip\":false,\"normalized\":false,\"rstrip\":false,\"single_word\":false,\"special\":true}},"
             "\"pad_token\":\"<|pad|>\"}");
    if ((t = xgd_tokenizer_load(d))) {
        CHECK_STR(enc(t, "a<|endoftext|><|pad|>", 1), "64 50256 50257");
        CHECK(xgd_bos_id(t) == 50256 && xgd_eos_id(t) == 50256 && xgd_pad_id(t) == 50257);
        CHECK(xgd_vocab_size(t) == 50258 && xgd_is_special(t, 50256) && xgd_is_special(t, 50257));
        int32_t ids[] = {64, 50256, 50257};
        char *s = xgd_decode(t, ids, 3, 1, -1);
        CHECK_STR(s, "a");
        free(s);
        xgd_tokenizer_free(t);
    } else CHECK_MSG(0, "%s", xgd_errmsg());
    /* special_tokens_map.json overrides tokenizer_config.json; GPT2Tokenizer's defaults fill in */
    d = folder("gpt2_map");
    link_in(d, gv, "vocab.json");
    link_in(d, gm, "merges.txt");
    write_in(d, "tokenizer_config.json", "{\"tokenizer_class\":\"GPT2TokenizerFast\",\"pad_token\":null}");
    write_in(d, "special_tokens_map.json", "{\"pad_token\":{\"content\":\"<|endoftext|>\",\"lstrip\":false}}");
    if ((t = xgd_tokenizer_load(d))) {
        CHECK(xgd_pad_id(t) == 50256 && xgd_bos_id(t) == 50256 && xgd_eos_id(t) == 50256);
        xgd_tokenizer_free(t);
    } else CHECK_MSG(0, "%s", xgd_errmsg());
    /* add_prefix_space in the config reaches the ByteLevel pre-tokenizer: "Hello" -> "ĠHello" */
    write_in(d, "tokenizer_config.json", "{\"tokenizer_class\":\"GPT2TokenizerFast\",\"add_prefix_space\":true}");
    if ((t = xgd_tokenizer_load(d))) { CHECK_STR(enc(t, "Hello", 0), "18435"); xgd_tokenizer_free(t); }
    else CHECK_MSG(0, "%s", xgd_errmsg());
    write_in(d, "special_tokens_map.json", "[1, 2]");
    CHECK(xgd_tokenizer_load(d) == NULL && strstr(xgd_errmsg(), "special_tokens_map.json"));
    /* a vocab.json path finds merges.txt beside it */
    if ((t = xgd_tokenizer_load(gv))) { CHECK_STR(enc(t, "Hello world", 0), "15496 995"); xgd_tokenizer_free(t); }
    else CHECK_MSG(0, "%s", xgd_errmsg());

    /* a Unigram spiece.model -> the T5 pipeline: 100 <extra_id_N> after the pieces, "$A </s>" */
    d = folder("t5");
    uint8_t buf[2048];
    size_t n = fuzz_spm_seed(buf, 1);
    char p[8192];
    snprintf(p, sizeof p, "%s/spiece.model", d);
    CHECK(xgd_write_file_atomic(p, buf, n) == 0);
    write_in(d, "tokenizer_config.json", "{\"tokenizer_class\":\"T5Tokenizer\",\"eos_token\":\"</s>\",\"unk_token\":\"<unk>\",\"pad_token\":\"<unk>\"}");
    if ((t = xgd_tokenizer_load(d))) {
        CHECK(xgd_vocab_size(t) == 110);
        CHECK_STR(xgd_id_to_token(t, 10), "<extra_id_99>");
        CHECK_STR(xgd_id_to_token(t, 109), "<extra_id_0>");
        /* "ab a" -> Metaspace "▁ab▁a": pieces ▁(-3) a(-4) b(-5) ab(-6) ▁a(-7): ▁+ab = -9 beats
         * ▁a+b = -12 and ▁+a+b = -12; "▁a" alone (-7) beats ▁+a (-7, equal: the earlier start,
         * the longer piece, wins) */
        CHECK_STR(enc(t, "ab a", 1), "3 6 7 2");
        CHECK_STR(enc(t, "<extra_id_0>", 0), "109");
        CHECK_STR(enc(t, "<u>b", 0), "9 3 5");  /* a user-defined piece is split out first */
        xgd_tokenizer_free(t);
    } else CHECK_MSG(0, "%s", xgd_errmsg());
    return test_done("tokenize/config");
}
