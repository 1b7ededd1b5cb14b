/* The hand-coded pre-tokenizer scanners (GPT-2, Llama-3, BLOOM regexes) against PCRE2, a
 * backtracking engine with the same leftmost-first semantics as Oniguruma, on random strings
 * over an alphabet of letters, numbers, marks, spaces of several kinds, CR/LF, apostrophes and
 * punctuation of several scripts. The match lists must be identical.
 * U+0085 is left out of the alphabet: it is White_Space (Oniguruma's and our \s) but PCRE2 10.42's
 * \s with UCP does not include it. For BLOOM, Oniguruma's nested class [^(\s|[.,...])] is a union,
 * written for PCRE2 as one flat negated class. */
#include "test.h"
#include "tokenize/tk.h"

static const char *alphabet[] = {
    "a", "Z", "q", "\xC3\xA9", "\xD0\xB6", "\xE4\xB8\xAD", "\xE0\xA4\x95", "\xE0\xA4\xBE" /* Mc */, "\xCC\x81" /* Mn */,
    "0", "7", "\xD9\xA3" /* Arabic 3 */, "\xC2\xBD" /* No */, "\xE2\x85\xA2" /* Nl */,
    " ", " ", " ", "\t", "\n", "\r", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x8B" /* ZWSP: not White_Space */,
    "'", "'", "s", "t", "re", "ve", "ll", "d", "m", "S", "RE", "D",
    ".", ",", "!", "?", "(", ")", "|", "-", "\xE2\x80\xA6", "\xE3\x80\x82", "\xEF\xBC\x8C", "\xE3\x80\x81",
    "\xE0\xA5\xA4", "\xDB\x94", "\xD8\x8C", "\xF0\x9F\x98\x81", "$", "_",
};

static pcre2_code *compile(const char *re) {
    int err; PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!c) { fprintf(stderr, "bad test regex at %zu\n", (size_t)off); exit(1); }
    return c;
}

int main(void) {
    static const char *scanned[] = {
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        " ?[^(\\s|[.,!?…。，、।۔،])]+",
    };
    static const char *pcre[] = {
        NULL, NULL,
        " ?[^()|\\s.,!?…。，、।۔،]+",
    };
    uint32_t x = 2024;
    int mismatches = 0;
    for (int k = 0; k < 3; k++) {
        tk_pattern sc, re;
        CHECK(tk_pattern_init(&sc, 1, scanned[k]) == 0);
        CHECK(sc.kind != PAT_REGEX); /* recognized: a scanner */
        memset(&re, 0, sizeof re);
        re.kind = PAT_REGEX;
        re.re = compile(pcre[k] ? pcre[k] : scanned[k]);
        int bad = 0;
        for (int it = 0; it < 20000 && bad < 5; it++) {
            char s[512];
            size_t n = 0;
            int len = 1 + (int)(x % 24);
            for (int q = 0; q < len; q++) {
                x = x * 1664525u + 1013904223u;
                const char *a = alphabet[(x >> 12) % (sizeof alphabet / sizeof alphabet[0])];
                memcpy(s + n, a, strlen(a)); n += strlen(a);
            }
            s[n] = 0;
            size_t p1 = 0, p2 = 0, a1, b1, a2, b2;
            for (;;) {
                int f1 = tk_pattern_find(&sc, s, n, p1, &a1, &b1), f2 = tk_pattern_find(&re, s, n, p2, &a2, &b2);
                if (f1 != f2 || (f1 && (a1 != a2 || b1 != b2))) {
                    bad++;
                    fprintf(stderr, "pattern %d on \"%s\": scanner %d [%zu,%zu) pcre2 %d [%zu,%zu)\n", k, s, f1, a1, b1, f2, a2, b2);
                    break;
                }
                if (!f1) break;
                p1 = b1; p2 = b2;
            }
        }
        mismatches += bad;
        CHECK_MSG(bad == 0, "pattern %d: %d mismatching strings", k, bad);
        tk_pattern_free(&sc);
        tk_pattern_free(&re);
    }
    printf("scanners vs PCRE2: %d mismatches over 3 x 20000 random strings\n", mismatches);
    return test_done("tokenize/scanners");
}
