/* Tiny tokenizer.json files written here, one per pipeline component, with ids computed by hand
 * from the semantics in pipeline-spec §3 (each expectation is explained next to it). */
#include "test.h"
#include "tokenize/tokenizer.h"
#include "base/err.h"
#include "base/fs.h"

static const char *g_dir;

static xgd_tokenizer *load_json(const char *name, const char *json) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.json", g_dir, name);
    if (xgd_write_file_atomic(p, json, strlen(json))) { fprintf(stderr, "%s\n", xgd_errmsg()); return NULL; }
    xgd_tokenizer *t = xgd_tokenizer_load(p);
    CHECK_MSG(t != NULL, "%s: %s", name, xgd_errmsg());
    return t;
}

/* "1 2 3" for the encoding of text. */
static const char *enc(const xgd_tokenizer *t, const char *text, int add_special) {
    static char buf[4096];
    xgd_encoding e = {0};
    if (xgd_encode(t, text, strlen(text), add_special, &e)) { snprintf(buf, sizeof buf, "error: %s", xgd_errmsg()); return buf; }
    size_t l = 0; buf[0] = 0;
    for (size_t k = 0; k < e.n; k++) l += (size_t)snprintf(buf + l, sizeof buf - l, k ? " %d" : "%d", e.ids[k]);
    xgd_encoding_free(&e);
    return buf;
}

static char *dec(const xgd_tokenizer *t, const char *ids, int skip) {
    int32_t v[256]; size_t n = 0;
    for (char *p = (char *)ids, *end; n < 256; p = end) {
        long x = strtol(p, &end, 10);
        if (end == p) break;
        v[n++] = (int32_t)x;
    }
    return xgd_decode(t, v, n, skip, -1);
}

#define CHECK_DEC(t, ids, skip, want) do { char *_d = dec(t, ids, skip); CHECK_STR(_d, want); free(_d); } while (0)

static void test_wordpiece_bert(void) {
    xgd_tokenizer *t = load_json("bert", "{\"version\":\"1.0\","
        "\"added_tokens\":[{\"id\":0,\"content\":\"[UNK]\",\"special\":true,\"normalized\":false},"
        "{\"id\":1,\"content\":\"[CLS]\",\"special\":true,\"normalized\":false},{\"id\":2,\"content\":\"[SEP]\",\"special\":true,\"normalized\":false}],"
        "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},"
        "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
        "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},"
        "\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":12,"
        "\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"hello\":3,\"world\":4,\"##s\":5,\"un\":6,\"##aff\":7,\"##able\":8,\",\":9,\"!\":10}}}");
    if (!t) return;
    /* lowercase + accents stripped: "héllo" -> hello; "worlds" = world ##s; "unaffable" = un ##aff
     * ##able; 中 gets spaces around it and is [UNK]; a control char is dropped */
    CHECK_STR(enc(t, "H\xC3\xA9llo, WORLDs!\x01 unaffable\xE4\xB8\xAD", 0), "3 9 4 5 10 6 7 8 0");
    CHECK_STR(enc(t, "hello", 1), "1 3 2");                   /* [CLS] A [SEP] */
    CHECK_STR(enc(t, "unaffableunaffable", 0), "0");          /* 18 chars > max_input_chars_per_word */
    CHECK_STR(enc(t, "helloq", 0), "0");                      /* no piece for ##q: the whole word is [UNK] */
    CHECK_STR(enc(t, "", 1), "1 2");
    CHECK_DEC(t, "1 3 9 4 5 10 6 7 8 2", 0, "[CLS] hello, worlds! unaffable [SEP]");
    CHECK_DEC(t, "1 3 9 4 5 10 6 7 8 2", 1, "hello, worlds! unaffable");
    xgd_tokenizer_free(t);
}

static void test_unigram(void) {
    const char *fmt = "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":{\"type\":\"NFKC\"},"
        "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\"}]},"
        "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":%s,\"vocab\":[[\"<unk>\",0],[\"\xE2\x96\x81\",-1],[\"a\",-2],[\"b\",-2],"
        "[\"ab\",-1.5],[\"\xE2\x96\x81" "ab\",-1],[\"c\",-3],[\"<0xE2>\",-5],[\"<0x82>\",-5],[\"<0xAC>\",-5]]}}";
    char json[2048];
    snprintf(json, sizeof json, fmt, "true");
    xgd_tokenizer *t = load_json("unigram_bf", json);
    if (!t) return;
    /* "▁ab▁abc€": ▁ab (-1) beats ▁+ab (-2.5) and ▁+a+b (-5); € has no piece -> unk (score
     * min-10 = -15), and its string is not a piece -> the byte tokens */
    CHECK_STR(enc(t, "ab abc\xE2\x82\xAC", 0), "5 5 6 7 8 9");
    /* consecutive unknowns fuse into one unk string before the byte fallback */
    CHECK_STR(enc(t, "\xE2\x82\xAC\xE2\x82\xAC", 0), "1 7 8 9 7 8 9");
    /* NFKC: fullwidth ａｂ -> ab */
    CHECK_STR(enc(t, "\xEF\xBD\x81\xEF\xBD\x82", 0), "5");
    CHECK_STR(enc(t, "", 0), "");
    CHECK_DEC(t, "5 5 6 7 8 9", 0, "ab abc\xE2\x82\xAC");
    /* an invalid byte run decodes to one U+FFFD per byte */
    CHECK_DEC(t, "5 7 8", 0, "ab\xEF\xBF\xBD\xEF\xBF\xBD");
    xgd_tokenizer_free(t);
    snprintf(json, sizeof json, fmt, "false");
    t = load_json("unigram", json);
    if (!t) return;
    CHECK_STR(enc(t, "ab abc\xE2\x82\xAC\xE2\x82\xAC", 0), "5 5 6 0"); /* fused unk, no byte fallback */
    xgd_tokenizer_free(t);
}

static void test_bpe(void) {
    const char *fmt = "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]},"
        "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":%s,\"byte_fallback\":true,\"ignore_merges\":%s,"
        "\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2,\"c\":3,\"ab\":4,\"abc\":5,\"<0x7A>\":6,\"bc\":7},\"merges\":%s}}";
    char json[2048];
    snprintf(json, sizeof json, fmt, "true", "false", "[\"a b\",\"ab c\"]");
    xgd_tokenizer *t = load_json("bpe_str", json);
    if (!t) return;
    CHECK_STR(enc(t, "abcz", 0), "5 6");     /* a+b (rank 0), ab+c (rank 1); z -> <0x7A> */
    CHECK_STR(enc(t, "bcqq", 0), "2 3 0");   /* no merge b+c; qq: no byte token -> one fused unk */
    CHECK_STR(enc(t, "bc", 0), "2 3");       /* bc is in the vocab but there is no merge for it */
    CHECK_DEC(t, "5 6", 0, "abcz");
    xgd_tokenizer_free(t);
    snprintf(json, sizeof json, fmt, "false", "true", "[[\"a\",\"b\"],[\"ab\",\"c\"]]");
    t = load_json("bpe_arr", json);
    if (!t) return;
    CHECK_STR(enc(t, "abcz", 0), "5 6");     /* merges given as pairs */
    CHECK_STR(enc(t, "bcqq", 0), "2 3 0 0"); /* without fuse_unk each unknown char is an unk */
    CHECK_STR(enc(t, "bc", 0), "7");         /* ignore_merges: a word in the vocab is one token */
    xgd_tokenizer_free(t);
    /* merges must name vocab tokens */
    snprintf(json, sizeof json, fmt, "false", "false", "[\"a q\"]");
    char p[4096];
    snprintf(p, sizeof p, "%s/bad_merge.json", g_dir);
    xgd_write_file_atomic(p, json, strlen(json));
    CHECK(xgd_tokenizer_load(p) == NULL && strstr(xgd_errmsg(), "not in the vocab"));
    /* continuing_subword_prefix / end_of_word_suffix */
    t = load_json("bpe_prefix", "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"model\":{\"type\":\"BPE\",\"continuing_subword_prefix\":\"##\",\"end_of_word_suffix\":\"</w>\","
        "\"vocab\":{\"a\":0,\"##b\":1,\"ab\":2,\"##b</w>\":3,\"ab</w>\":4,\"b\":5},\"merges\":[\"a ##b</w>\"]}}");
    if (t) {
        CHECK_STR(enc(t, "ab", 0), "4");  /* a + ##b</w> -> "ab</w>" (the prefix of b is dropped) */
        CHECK_STR(enc(t, "ba", 0), "5");  /* "##a</w>" is unknown and there is no unk: dropped */
        xgd_tokenizer_free(t);
    }
}

static void test_wordlevel_normalizers(void) {
    xgd_tokenizer *t = load_json("wordlevel", "{\"version\":\"1.0\","
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true},"
        "{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},{\"type\":\"Lowercase\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"[0-9]+\"},\"content\":\"#\"}]},"
        "\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
        "\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[7],\"tokens\":[\"<s>\"]},\"</s>\":{\"id\":\"</s>\",\"ids\":[8],\"tokens\":[\"</s>\"]}}},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"hello\":1,\"world\":2,\"!\":3,\"?!\":4,\"cafe\":5,\"#\":6,\"<s>\":7,\"</s>\":8,\"i\\u0307\":9}}}");
    if (!t) return;
    /* strip, NFD + strip accents (é -> e), lowercase; Whitespace keeps \w+ and [^\w\s]+ runs */
    CHECK_STR(enc(t, "  Hello World?! Caf\xC3\xA9 ", 0), "1 2 4 5");
    CHECK_STR(enc(t, "hello 2024 unknown", 1), "7 1 6 0 8"); /* Replace(regex) and the template */
    /* Lowercase is the full mapping: U+0130 -> "i" + U+0307 (NFD first leaves it as I + U+0307,
     * StripAccents then drops the mark: so test Lowercase alone below) */
    xgd_tokenizer_free(t);
    t = load_json("lower", "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"i\\u0307\":1,\"\\u03c3\\u03c3\":2}}}");
    if (t) {
        CHECK_STR(enc(t, "\xC4\xB0", 0), "1");              /* İ -> i̇ */
        CHECK_STR(enc(t, "\xCE\xA3\xCE\xA3", 0), "2");      /* ΣΣ -> σσ: per char, no final sigma */
        xgd_tokenizer_free(t);
    }
    t = load_json("nmt", "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Nmt\"},{\"type\":\"Prepend\",\"prepend\":\"_\"}]},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"_a b\":1,\"_\":2}}}");
    if (t) {
        CHECK_STR(enc(t, "a\x01\tb", 0), "1");  /* Nmt drops U+0001, maps TAB to ' '; Prepend "_" */
        CHECK_STR(enc(t, "", 0), "");           /* Prepend only on a non-empty string */
        xgd_tokenizer_free(t);
    }
}

static void test_split_behaviors(void) {
    static const char *beh[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    /* a-b--c split on "-" (vocab: a b c - a- b- -b -c --) */
    static const char *want[] = {"0 1 2", "0 3 1 3 3 2", "4 5 3 2", "0 6 3 7", "0 3 1 8 2"};
    for (int k = 0; k < 5; k++) {
        char json[2048];
        snprintf(json, sizeof json, "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"%s\",\"invert\":false},"
            "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"-\":3,\"a-\":4,\"b-\":5,\"-b\":6,\"-c\":7,\"--\":8,\"[UNK]\":9}}}", beh[k]);
        xgd_tokenizer *t = load_json("split", json);
        if (!t) continue;
        CHECK_MSG(strcmp(enc(t, "a-b--c", 0), want[k]) == 0, "%s: got %s want %s", beh[k], enc(t, "a-b--c", 0), want[k]);
        xgd_tokenizer_free(t);
    }
    /* invert: the matches are kept, Removed drops what was between them */
    xgd_tokenizer *t = load_json("split_inv", "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"-+\"},\"behavior\":\"Removed\",\"invert\":true},"
            "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"-\":3,\"--\":8,\"[UNK]\":9}}}");
    if (t) { CHECK_STR(enc(t, "a-b--c", 0), "3 8"); xgd_tokenizer_free(t); }
    /* Digits, Punctuation, CharDelimiterSplit in a Sequence */
    t = load_json("digits", "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
            "{\"type\":\"CharDelimiterSplit\",\"delimiter\":\"|\"},{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"},{\"type\":\"Digits\",\"individual_digits\":true}]},"
            "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"a\":0,\"1\":1,\"2\":2,\".\":3,\"12\":4,\"[UNK]\":9}}}");
    if (t) { CHECK_STR(enc(t, "a12|.a", 0), "0 1 2 3 0"); xgd_tokenizer_free(t); }
    t = load_json("digits2", "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":false},"
            "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"a\":0,\"12\":4,\"[UNK]\":9}}}");
    if (t) { CHECK_STR(enc(t, "a12", 0), "0 4"); xgd_tokenizer_free(t); }
}

static void test_metaspace_and_added(void) {
    const char *fmt = "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":20,\"content\":\"<x>\",\"special\":true,\"normalized\":false}],"
        "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"%s\",\"split\":%s},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"hi\":1,\"\xE2\x96\x81hi\":2,\"\xE2\x96\x81there\":3,"
        "\"hi\xE2\x96\x81there\":4,\"\xE2\x96\x81hi\xE2\x96\x81there\":5}}}";
    char json[2048];
    snprintf(json, sizeof json, fmt, "first", "true");
    xgd_tokenizer *t = load_json("ms_first", json);
    if (t) {
        CHECK_STR(enc(t, "hi there", 0), "2 3");     /* the piece at offset 0 gets ▁ */
        CHECK_STR(enc(t, "<x>hi there", 0), "20 1 3"); /* after an added token: no ▁ */
        xgd_tokenizer_free(t);
    }
    snprintf(json, sizeof json, fmt, "always", "true");
    if ((t = load_json("ms_always", json))) { CHECK_STR(enc(t, "<x>hi there", 0), "20 2 3"); xgd_tokenizer_free(t); }
    snprintf(json, sizeof json, fmt, "never", "false");
    if ((t = load_json("ms_never", json))) { CHECK_STR(enc(t, "hi there", 0), "4"); xgd_tokenizer_free(t); }
    snprintf(json, sizeof json, fmt, "always", "false");
    if ((t = load_json("ms_nosplit", json))) { CHECK_STR(enc(t, "hi there", 0), "5"); xgd_tokenizer_free(t); }

    /* lstrip/rstrip, single_word, normalized added tokens */
    t = load_json("added", "{\"version\":\"1.0\",\"added_tokens\":["
        "{\"id\":100,\"content\":\"<m>\",\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":true},"
        "{\"id\":101,\"content\":\"cat\",\"single_word\":true,\"normalized\":false,\"special\":false},"
        "{\"id\":102,\"content\":\"hey\",\"normalized\":true,\"special\":false}],"
        "\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1,\"b\":2,\"concat\":3,\".\":4,\"there\":5}}}");
    if (!t) return;
    CHECK_STR(enc(t, "a <m> b", 0), "1 100 2");
    xgd_encoding e = {0};
    CHECK(xgd_encode(t, "a <m> b", 7, 0, &e) == 0 && e.n == 3);
    if (e.n == 3) CHECK(e.start[1] == 1 && e.end[1] == 6); /* the stripped spaces belong to <m> */
    xgd_encoding_free(&e);
    CHECK_STR(enc(t, "cat concat cat.", 0), "101 3 101 4"); /* "cat" inside "concat" is not a word */
    CHECK_STR(enc(t, "HEY there", 0), "102 5");               /* matched on the normalized text */
    CHECK_DEC(t, "1 100 2", 1, "a b");                         /* skip_special drops <m> */
    xgd_tokenizer_free(t);
}

static void test_trim_offsets(void) {
    /* ByteLevel post-processor trim_offsets: the Ġ of "Ġa" leaves the span, except the one space
     * that add_prefix_space put before the first token */
    const char *fmt = "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":%s,\"use_regex\":true},"
        "\"post_processor\":{\"type\":\"ByteLevel\",\"trim_offsets\":true,\"add_prefix_space\":%s},\"decoder\":{\"type\":\"ByteLevel\"},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"\\u0120\":1,\"\\u0120a\":2},\"merges\":[\"\\u0120 a\"]}}";
    char json[2048];
    xgd_encoding e = {0};
    snprintf(json, sizeof json, fmt, "false", "false");
    xgd_tokenizer *t = load_json("trim", json);
    if (t) {
        CHECK(xgd_encode(t, "a a", 3, 0, &e) == 0 && e.n == 2);
        if (e.n == 2) CHECK(e.start[0] == 0 && e.end[0] == 1 && e.start[1] == 2 && e.end[1] == 3);
        xgd_tokenizer_free(t);
    }
    snprintf(json, sizeof json, fmt, "true", "true");
    if ((t = load_json("trim_prefix", json))) {
        CHECK(xgd_encode(t, "a a", 3, 0, &e) == 0 && e.n == 2);
        if (e.n == 2) CHECK(e.start[0] == 0 && e.end[0] == 1 && e.start[1] == 2 && e.end[1] == 3);
        CHECK_STR(enc(t, "a a", 0), "2 2");  /* the prefix space makes the first word "Ġa" too */
        xgd_tokenizer_free(t);
    }
    xgd_encoding_free(&e);
}

static void test_decoders(void) {
    xgd_tokenizer *t = load_json("decoders", "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"_\"},\"content\":\" \"},"
        "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":1}]},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"u\",\"vocab\":{\"u\":0,\"_ab_\":1,\"__c\":2}}}");
    if (t) {
        /* "_ab_" -> " ab " -> strip one each side -> "ab"; "__c" -> "  c" -> " c" */
        CHECK_DEC(t, "1 2", 0, "ab c");
        xgd_tokenizer_free(t);
    }
    t = load_json("bpedec", "{\"version\":\"1.0\",\"decoder\":{\"type\":\"BPEDecoder\",\"suffix\":\"</w>\"},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"u\",\"vocab\":{\"u\":0,\"ab</w>\":1,\"c\":2,\"d</w>\":3}}}");
    if (t) { CHECK_DEC(t, "1 2 3", 0, "ab cd"); xgd_tokenizer_free(t); }
    /* no decoder: tokens joined with spaces, then transformers' clean-up */
    t = load_json("nodec", "{\"version\":\"1.0\",\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"u\",\"vocab\":{\"u\":0,\"I\":1,\"do\":2,\"n't\":3,\".\":4}}}");
    if (t) {
        CHECK_DEC(t, "1 2 3 4", 0, "I don't.");
        int32_t ids[] = {1, 2, 3, 4, 999}; /* unknown ids are dropped, as tokenizers does */
        char *d = xgd_decode(t, ids, 5, 0, 0);
        CHECK_STR(d, "I do n't .");
        free(d);
        xgd_tokenizer_free(t);
    }
}

static void test_missing_unk(void) {
    /* an unk token that is not in the vocab is an error only when a word needs it */
    xgd_tokenizer *t = load_json("wp_nounk", "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"ab\":0,\"##c\":1}}}");
    if (t) {
        CHECK_STR(enc(t, "ab abc", 0), "0 0 1");
        CHECK(strncmp(enc(t, "ab x", 0), "error: ", 7) == 0);
        xgd_tokenizer_free(t);
    }
    t = load_json("bpe_nounk", "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\","
        "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}");
    if (t) {
        CHECK_STR(enc(t, "ab", 0), "2");
        CHECK(strncmp(enc(t, "abx", 0), "error: ", 7) == 0);
        xgd_tokenizer_free(t);
    }
}

static void test_errors_and_batch(void) {
    xgd_tokenizer *t = load_json("batch", "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",2],\"cls\":[\"<s>\",0],\"trim_offsets\":true,\"add_prefix_space\":false},"
        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"<unk>\",\"vocab\":{\"<s>\":0,\"<pad>\":1,\"</s>\":2,\"<unk>\":3,\"a\":4,\"b\":5,\"c\":6}}}");
    if (!t) return;
    /* invalid UTF-8 -> a clear error with the byte position */
    xgd_encoding e = {0};
    CHECK(xgd_encode(t, "ab\xC3", 3, 0, &e) == -1 && strstr(xgd_errmsg(), "invalid UTF-8 at byte 2"));
    CHECK(xgd_encode(t, "\xED\xA0\x80", 3, 0, &e) == -1);  /* a UTF-16 surrogate */
    CHECK(xgd_encode(t, "\xC0\xAF", 2, 0, &e) == -1);      /* overlong */
    xgd_encoding_free(&e);
    /* batch: max_length 4 keeps 2 body tokens + <s> </s>; pad id from the option */
    const char *texts[] = {"a b c", "a"};
    xgd_batch_opts o = {.add_special = 1, .max_length = 4, .truncation_side = XGD_SIDE_RIGHT,
                        .padding_side = XGD_SIDE_LEFT, .pad_to_longest = 1, .pad_id = 1};
    int32_t *ids, *mask; int T;
    CHECK(xgd_encode_batch(t, texts, 2, &o, &ids, &mask, &T) == 0);
    if (T == 4) {
        int32_t want_ids[] = {0, 4, 5, 2, 1, 0, 4, 2}, want_mask[] = {1, 1, 1, 1, 0, 1, 1, 1};
        for (int k = 0; k < 8; k++) CHECK(ids[k] == want_ids[k] && mask[k] == want_mask[k]);
        free(ids); free(mask);
    } else CHECK_MSG(0, "T = %d", T);
    o.truncation_side = XGD_SIDE_LEFT; o.padding_side = XGD_SIDE_RIGHT; o.pad_to_longest = 0; o.max_length = 5;
    CHECK(xgd_encode_batch(t, texts, 2, &o, &ids, &mask, &T) == 0 && T == 5);
    if (T == 5) {
        int32_t want_ids[] = {0, 4, 5, 6, 2, 0, 4, 2, 1, 1};
        for (int k = 0; k < 10; k++) CHECK(ids[k] == want_ids[k]);
        free(ids); free(mask);
    }
    o.max_length = 3; /* left truncation keeps the end: <s> c </s> */
    CHECK(xgd_encode_batch(t, texts, 1, &o, &ids, &mask, &T) == 0 && T == 3);
    if (T == 3) { CHECK(ids[0] == 0 && ids[1] == 6 && ids[2] == 2); free(ids); free(mask); }
    o.pad_id = -1; /* this tokenizer has no pad token in a config */
    CHECK(xgd_encode_batch(t, texts, 2, &o, &ids, &mask, &T) == -1);
    xgd_tokenizer_free(t);
    /* bad files: a clear message naming the file */
    char p[4096];
    snprintf(p, sizeof p, "%s/bad.json", g_dir);
    xgd_write_file_atomic(p, "{\"version\":\"1.0\",\"model\":{\"type\":\"Nope\"}}", 41);
    CHECK(xgd_tokenizer_load(p) == NULL && strstr(xgd_errmsg(), "bad.json") && strstr(xgd_errmsg(), "Nope"));
    xgd_write_file_atomic(p, "{\"version\":", 11);
    CHECK(xgd_tokenizer_load(p) == NULL && strstr(xgd_errmsg(), "bad.json"));
    snprintf(p, sizeof p, "%s/bad.model", g_dir);
    xgd_write_file_atomic(p, "\x0a\xff\xff\xff", 4);
    CHECK(xgd_tokenizer_load(p) == NULL && strstr(xgd_errmsg(), "bad.model"));
    CHECK(xgd_tokenizer_load("/nonexistent/tok") == NULL);
}

int main(void) {
    g_dir = test_tmpdir("tokenize_components");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", g_dir);
    g_dir = dir;
    test_wordpiece_bert();
    test_unigram();
    test_bpe();
    test_wordlevel_normalizers();
    test_split_behaviors();
    test_metaspace_and_added();
    test_trim_offsets();
    test_decoders();
    test_missing_unk();
    test_errors_and_batch();
    return test_done("tokenize/components");
}
