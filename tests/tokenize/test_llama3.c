/* Llama-3 tokenizer.json (byte-level BPE, ignore_merges, the Llama-3 Split regex): ids checked by
 * hand against HF's output for these texts (the HF ids of llama.cpp's ggml-vocab-llama-bpe test
 * set, add_special_tokens=False), special-token splitting, decode round trips, offsets. */
#include "test.h"
#include "tokenize/tokenizer.h"
#include "base/err.h"

typedef struct { const char *text; const char *ids; } tcase;

static const tcase cases[] = {
    {"ied 4 \xC2\xBD months", "1142 220 19 220 27154 4038"},
    {"F\xC3\xBChrer", "37 51853 261"},
    {"", ""},
    {" ", "220"},
    {"  ", "256"},
    {"   ", "262"},
    {"\t", "197"},
    {"\n", "198"},
    {"\n\n", "271"},
    {"\n\n\n", "1432"},
    {"\t\n", "1602"},
    {"Hello world", "9906 1917"},
    {" Hello world", "22691 1917"},
    {"Hello World", "9906 4435"},
    {" Hello World", "22691 4435"},
    {" Hello World!", "22691 4435 0"},
    {"Hello, world!", "9906 11 1917 0"},
    {" Hello, world!", "22691 11 1917 0"},
    {" this is \xF0\x9F\xA6\x99.cpp", "420 374 11410 99 247 13 11055"},
    {"w048 7tuijk dsdfhu", "86 23904 220 22 83 2005 42908 11729 3013 17156"},
    {"\xD0\xBD\xD0\xB5\xD1\x89\xD0\xBE \xD0\xBD\xD0\xB0 \xD0\x91\xD1\x8A\xD0\xBB\xD0\xB3\xD0\xB0\xD1\x80\xD1\x81\xD0\xBA\xD0\xB8",
     "79862 102118 13373 64571 34694 3114 112203 80112"},
    {"Hello", "9906"},
    {" Hello", "22691"},
    {"  Hello", "220 22691"},
    {"   Hello", "256 22691"},
    {"    Hello", "262 22691"},
    {"    Hello\n    Hello", "262 22691 198 262 22691"},
    {" (", "320"},
    {"\n =", "198 284"},
    {"' era", "6 11639"},
    {"Hello, y'all! How are you \xF0\x9F\x98\x81 ?\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8" "apple\xE5\xB7\xA5\xE4\xBD\x9C" "1314151\xE5\xA4\xA9\xEF\xBD\x9E",
     "9906 11 379 65948 0 2650 527 499 27623 223 949 37046 101067 19000 23182 102301 9263 18136 16 36827 21909"},
    {"3", "18"},
    {"33", "1644"},
    {"333", "8765"},
    {"3333", "8765 18"},
    {"33333", "8765 1644"},
    {"333333", "8765 8765"},
    {"3333333", "8765 8765 18"},
    {"33333333", "8765 8765 1644"},
    {"333333333", "8765 8765 8765"},
    {" Vi\xE1\xBB\x87t", "101798"},
};

static void ids_str(const xgd_encoding *e, char *buf, size_t cap) {
    size_t l = 0; buf[0] = 0;
    for (size_t k = 0; k < e->n && l + 16 < cap; k++) l += (size_t)snprintf(buf + l, cap - l, k ? " %d" : "%d", e->ids[k]);
}

int main(void) {
    const char *shared = test_shared();
    if (!shared) return 77;
    char p[4096], got[4096];
    snprintf(p, sizeof p, "%s/models/tokenizers/llama3", shared);
    xgd_tokenizer *t = xgd_tokenizer_load(p);
    CHECK_MSG(t != NULL, "%s", xgd_errmsg());
    if (!t) return test_done("tokenize/llama3");
    xgd_encoding e = {0};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *x = cases[k].text;
        CHECK(xgd_encode(t, x, strlen(x), 0, &e) == 0);
        ids_str(&e, got, sizeof got);
        CHECK_MSG(strcmp(got, cases[k].ids) == 0, "case %zu \"%s\": got [%s] want [%s]", k, x, got, cases[k].ids);
        char *d = xgd_decode(t, e.ids, e.n, 0, 0);
        CHECK_MSG(strcmp(d, x) == 0, "case %zu: decode gives \"%s\"", k, d);
        free(d);
    }
    /* one tokenizer, many threads: the same ids as the serial loop */
    int ncase = (int)(sizeof cases / sizeof cases[0]), bad = 0;
    #pragma omp parallel for reduction(+:bad) schedule(dynamic)
    for (int k = 0; k < ncase * 20; k++) {
        xgd_encoding pe = {0};
        char buf[4096];
        const char *x = cases[k % ncase].text;
        if (xgd_encode(t, x, strlen(x), 0, &pe) != 0) bad++;
        ids_str(&pe, buf, sizeof buf);
        if (strcmp(buf, cases[k % ncase].ids) != 0) bad++;
        char *pd = xgd_decode(t, pe.ids, pe.n, 0, 0);
        if (strcmp(pd, x) != 0) bad++;
        free(pd);
        xgd_encoding_free(&pe);
    }
    CHECK_MSG(bad == 0, "%d failures when encoding from several threads", bad);
    /* special tokens: split out of the raw text; kept or skipped on decode */
    const char *s = "<|begin_of_text|>Hello<|eot_id|>";
    CHECK(xgd_encode(t, s, strlen(s), 0, &e) == 0);
    ids_str(&e, got, sizeof got);
    CHECK_STR(got, "128000 9906 128009");
    char *d = xgd_decode(t, e.ids, e.n, 0, 0);
    CHECK_STR(d, s);
    free(d);
    d = xgd_decode(t, e.ids, e.n, 1, 0);
    CHECK_STR(d, "Hello");
    free(d);
    CHECK(xgd_bos_id(t) == 128000);
    CHECK(xgd_eos_id(t) == 128001);
    CHECK(xgd_is_special(t, 128000) && !xgd_is_special(t, 9906));
    CHECK(xgd_vocab_size(t) == 128256);
    CHECK(xgd_token_to_id(t, "<|end_of_text|>") == 128001);
    CHECK_STR(xgd_id_to_token(t, 22691), "\xC4\xA0Hello");
    /* this tokenizer.json's post-processor is ByteLevel only: add_special_tokens adds nothing */
    CHECK(xgd_encode(t, "Hi", 2, 1, &e) == 0 && e.n == 1);
    /* offsets: byte spans of the input ("Hello, world!": Hello | , | ␠world | !) */
    CHECK(xgd_encode(t, "Hello, world!", 13, 0, &e) == 0 && e.n == 4);
    if (e.n == 4) {
        CHECK(e.start[0] == 0 && e.end[0] == 5);
        CHECK(e.start[1] == 5 && e.end[1] == 6);
        CHECK(e.start[2] == 6 && e.end[2] == 12);
        CHECK(e.start[3] == 12 && e.end[3] == 13);
    }
    /* a multi-byte char split over two tokens: both cover the char's bytes */
    CHECK(xgd_encode(t, "\xF0\x9F\xA6\x99", 4, 0, &e) == 0);
    for (size_t k = 0; k < e.n; k++) CHECK(e.start[k] == 0 && e.end[k] == 4);
    /* clean_up_tokenization_spaces (true in this tokenizer_config.json) */
    CHECK(xgd_encode(t, "Hello , world .", 15, 0, &e) == 0);
    d = xgd_decode(t, e.ids, e.n, 0, -1);
    CHECK_STR(d, "Hello, world.");
    free(d);
    xgd_encoding_free(&e);
    xgd_tokenizer_free(t);
    return test_done("tokenize/llama3");
}
