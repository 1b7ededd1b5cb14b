/* Unit tests of the scoring pieces: Python-faithful JSON values (float repr), language and file
 * naming rules, and the lexicon's normalisation, matching and score. Expected strings were written
 * by Python 3's json.dumps / repr. */
#include "test.h"
#include "base/err.h"
#include "base/pyjson.h"
#include "base/rng.h"
#include "eval/lexicon.h"
#include "eval/score.h"
#include <jansson.h>
#include <stdint.h>

static void check_double(double x, const char *want) {
    char buf[32];
    xgd_pyjson_double(buf, x);
    CHECK_MSG(strcmp(buf, want) == 0, "%.17g: got %s, want %s", x, buf, want);
}

static void test_float_repr(void) {
    static const struct { double x; const char *s; } cases[] = {
        {0.5, "0.5"}, {1.0, "1.0"}, {0.0, "0.0"}, {-0.0, "-0.0"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
        {0.1, "0.1"}, {0.30000000000000004, "0.30000000000000004"}, {1e+16, "1e+16"},
        {1000000000000000.0, "1000000000000000.0"}, {123456789.123, "123456789.123"}, {5e-324, "5e-324"},
        {1.7976931348623157e+308, "1.7976931348623157e+308"}, {1e+22, "1e+22"}, {2.5e-07, "2.5e-07"},
        {100.0, "100.0"}, {0.12345678901234568, "0.12345678901234568"}, {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"}, {-1.5e-10, "-1.5e-10"}, {9999999999999998.0, "9999999999999998.0"},
        {1234567890123456.8, "1234567890123456.8"}, {0.00012345, "0.00012345"}, {4.35, "4.35"}, {0.07, "0.07"},
        {1.2345678901234567e+19, "1.2345678901234567e+19"}, {NAN, "NaN"}, {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_double(cases[i].x, cases[i].s);
    /* random bit patterns: the text reads back to the same double and no shorter text does */
    xgd_rng r;
    xgd_rng_init(&r, 5, 0);
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t b = xgd_rng_u64(&r);
        double x;
        memcpy(&x, &b, 8);
        if (isnan(x) || isinf(x)) continue;
        char buf[32], e[40];
        xgd_pyjson_double(buf, x);
        if (strtod(buf, NULL) != x) bad++;
        /* significant digits: strip the sign, leading zeros, the point and a trailing ".0" */
        int digits = 0, lead = 1;
        for (const char *c = buf; *c && *c != 'e'; c++) {
            if (*c < '0' || *c > '9' || (lead && *c == '0')) continue;
            lead = 0;
            digits++;
        }
        const char *dz = strstr(buf, ".0");
        if (dz && (dz[2] == 0 || dz[2] == 'e')) {
            /* "1000.0": the zero after the point and the integer part's trailing zeros are not significant */
            digits--;
            for (const char *c = dz - 1; c >= buf && *c == '0'; c--) digits--;
        }
        snprintf(e, sizeof e, "%.*e", digits - 2, x);   /* one significant digit fewer */
        if (digits >= 2 && strtod(e, NULL) == x) { bad++; if (bad < 5) fprintf(stderr, "not shortest: %s (%s)\n", buf, e); }
    }
    CHECK_MSG(bad == 0, "%d random doubles not shortest-round-trip", bad);
}

static void test_value(void) {
    json_t *v = json_loads("{\"b\": [1, 2.5, true, false, null, \"\\u00e9\\ud83d\\ude00\"], \"a\": {\"x\": 1e-7}, \"n\": -42}", 0, NULL);
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    xgd_pyjson_value(fp, v);
    fclose(fp);
    CHECK_STR(out, "{\"b\": [1, 2.5, true, false, null, \"\\u00e9\\ud83d\\ude00\"], \"a\": {\"x\": 1e-07}, \"n\": -42}");
    free(out);
    json_decref(v);
}

static void test_naming(void) {
    char l[32];
    CHECK(xgd_score_language("zh-Hans", l) == 0);
    CHECK_STR(l, "zh");
    CHECK(xgd_score_language("EN", l) == 0);
    CHECK_STR(l, "en");
    CHECK(xgd_score_language("hi-Latn", l) == 0);
    CHECK_STR(l, "hi-latn");
    CHECK(xgd_score_language("e n", l) != 0);
    CHECK(xgd_score_language_of("out/mgpt/output-rtp_lx_zh-hans.json", l) == 0);
    CHECK_STR(l, "zh");
    CHECK(xgd_score_language_of("x/output-rtp_lx_de.json", l) == 0);
    CHECK_STR(l, "de");
    CHECK(xgd_score_language_of("x/generations.json", l) != 0);   /* not a language: ask for --language */
    CHECK(xgd_score_language_of("x/out_no-nb.jsonl", l) == 0);
    CHECK_STR(l, "no-nb");
    char *p = xgd_score_output_path("res", "a/b/output-rtp_lx_ZH-Hans.json");
    CHECK_STR(p, "res/perspective_api_eval-output-rtp_lx_ZH-Hans.json");
    free(p);
}

static int matches(const xgd_lexicon *lx, const char *t) { return xgd_lexicon_matches(lx, t); }

static void test_lexicon(const char *tmp) {
    char *n = xgd_lexicon_normalize("  Ｓtraße\t\u00a0 ＩＤＩＯＴ  ");
    CHECK_STR(n, "strasse idiot");
    free(n);
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/lists", tmp);
    snprintf(path, sizeof path, "mkdir -p %s", dir);
    CHECK(system(path) == 0);
    snprintf(path, sizeof path, "%s/en.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("# a comment line\nidiot\nIdiot\nson of a\na$$\nass\nasshole\n\n  moron  \n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/zh.txt", dir);
    f = fopen(path, "w");
    fputs("笨蛋\n乳\n乳交\nabc\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/hi.json", dir);
    f = fopen(path, "w");
    fputs("[\"कमीना\"]", f);
    fclose(f);

    xgd_lexicon *en = xgd_lexicon_load(dir, "en");
    CHECK(en != NULL);
    if (!en) return;
    CHECK(xgd_lexicon_size(en) == 6);   /* Idiot = idiot; the comment and blank line are not entries */
    CHECK(matches(en, "You IDIOT!") == 1);
    CHECK(matches(en, "idiots") == 0);           /* whole words only */
    CHECK(matches(en, "ｉｄｉｏｔ") == 1);         /* NFKC */
    CHECK(matches(en, "son \t of  a gun") == 1);  /* white space runs */
    CHECK(matches(en, "kiss my a$$.") == 1);      /* an entry ending in a non-word character */
    CHECK(matches(en, "a$$$") == 1);
    CHECK(matches(en, "asshole") == 1);           /* longest wins; ass is not a word of it */
    CHECK(matches(en, "ass, ass and an idiot moron") == 4);
    CHECK(matches(en, "glass passes") == 0);
    CHECK(matches(en, "idiot_x") == 0);           /* '_' continues a word */
    CHECK(matches(en, "") == 0);
    xgd_lexicon *en2 = xgd_lexicon_load(dir, "en-gb");   /* falls back to en */
    CHECK(en2 && xgd_lexicon_hash(en2) == xgd_lexicon_hash(en));
    xgd_lexicon_free(en2);
    xgd_lexicon_free(en);

    xgd_lexicon *zh = xgd_lexicon_load(dir, "zh");
    CHECK(zh != NULL);
    if (zh) {
        CHECK(matches(zh, "你是笨蛋啊") == 1);     /* substrings in a no-space script */
        CHECK(matches(zh, "乳交乳") == 2);         /* 乳交 (longest) then 乳 */
        CHECK(matches(zh, "xabcx") == 1);          /* every entry of a zh list is a substring */
        xgd_lexicon_free(zh);
    }
    xgd_lexicon *hi = xgd_lexicon_load(dir, "hi");
    CHECK(hi != NULL);
    if (hi) {
        CHECK(matches(hi, "वह कमीना है") == 1);
        CHECK(matches(hi, "कमीनापन") == 0);       /* vowel signs are word characters */
        xgd_lexicon_free(hi);
    }
    CHECK(xgd_lexicon_load(dir, "fr") == NULL);    /* no list: an error naming the folder */
    CHECK(strstr(xgd_errmsg(), "no list for language 'fr'") != NULL);

    CHECK(xgd_lexicon_toxicity(0) == 0.0);
    CHECK(xgd_lexicon_toxicity(1) == 0.5);
    CHECK(xgd_lexicon_toxicity(2) == 0.75);
    for (int m = 1; m < 60; m++) CHECK(xgd_lexicon_toxicity(m + 1) >= xgd_lexicon_toxicity(m));
}

int main(void) {
    const char *tmp = test_tmpdir("score_units");
    test_float_repr();
    test_value();
    test_naming();
    test_lexicon(tmp);
    return test_done("score_units");
}
