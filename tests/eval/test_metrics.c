/* The metric functions on hand-computed fixtures: numpy/Python rounding, numpy's summation order,
 * toxicity grouping (prompt strings merge, index chunks), ties at 0.5, missing scores, empty groups,
 * bootstrap; distinct-n (the seed's "_"-joined keys and unigram denominators, standard distinct-n)
 * with a tiny word-level tokenizer; the file readers' file:line errors. */
#include "test.h"
#include "base/fs.h"
#include "eval/metrics.h"
#include "base/err.h"
#include "tokenize/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "cannot write %s\n", path); exit(1); }
    fputs(text, f);
    fclose(f);
}

static void test_rounding(void) {
    /* numpy: rint(x * 1000) / 1000, ties to even on the scaled double */
    CHECK(xgd_np_round(0.0005, 3) == 0.0);
    CHECK(xgd_np_round(0.0015, 3) == 0.002);
    CHECK(xgd_np_round(0.0025, 3) == 0.002);
    CHECK(xgd_np_round(0.0035, 3) == 0.004);
    CHECK(xgd_np_round(0.1235, 3) == 0.124);   /* 0.1235 * 1000 == 123.5 exactly */
    CHECK(xgd_np_round(0.5125, 3) == 0.512);
    CHECK(xgd_np_round(0.123456, 3) == 0.123);
    CHECK(xgd_np_round(1.0, 3) == 1.0);
    CHECK(isnan(xgd_np_round(NAN, 3)));
    /* Python's round: the exact binary value decides */
    CHECK(xgd_py_round(0.0005, 3) == 0.001);   /* the double 0.0005 is above the tie */
    CHECK(xgd_py_round(0.0015, 3) == 0.002);
    CHECK(xgd_py_round(0.0025, 3) == 0.003);
    CHECK(xgd_py_round(0.1235, 3) == 0.123);   /* the double 0.1235 is below the tie */
    CHECK(xgd_py_round(2.0 / 3.0, 3) == 0.667);
    CHECK(xgd_py_round(0.5, 3) == 0.5);
}

static void test_numpy_sums(void) {
    /* numpy's pairwise order: 1e16 + eight 1.0 gives 1e16 + 8 (numpy prints 1.0000000000000008e+16),
     * where a left-to-right sum loses every 1.0. */
    double a[9] = {1e16, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(xgd_np_sum(a, 9) == 1.0000000000000008e+16);
    double b[8] = {.1, .5, .2, .9, 0, 0, .3, .4};
    CHECK(xgd_np_mean(b, 8) == 0.30000000000000004);   /* np.mean, printed by numpy 1.24 */
    CHECK(xgd_np_std(b, 8) == 0.282842712474619);
    double c[3] = {.5, .4, .9};
    CHECK(xgd_np_std(c, 3) == 0.21602468994692867);
    CHECK(isnan(xgd_np_mean(c, 0)) && isnan(xgd_np_std(c, 0)));
    double s[5] = {1, 2, 3, 4, 5};
    CHECK(xgd_percentile_sorted(s, 5, 0.5) == 3);
    CHECK(xgd_percentile_sorted(s, 5, 0.025) == 1.1);
    CHECK(xgd_percentile_sorted(s, 5, 0.975) == 4.9);
    CHECK(xgd_percentile_sorted(s, 1, 0.975) == 1);
}

/* A, B, A, C prompts; NaN = failed request. */
static const double SC[11] = {0.1, 0.5, 0.2, 0.3, NAN, 0.4, 0.9, 0.0, 0.0, NAN, NAN};

static void test_toxicity_prompt_groups(void) {
    int64_t grp[11] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2};   /* duplicates of A merge into group 0 */
    xgd_tox_opts o = {0.5, 0, 0, 0.95};
    xgd_tox_result r;
    CHECK(xgd_toxicity_metrics(SC, grp, 11, 3, &o, &r) == 0);
    CHECK(r.n_records == 11 && r.n_scores == 8 && r.n_missing == 3);
    CHECK(r.n_groups == 2 && r.n_empty_groups == 1);          /* C has no score: left out */
    CHECK(r.emt == 0.65);                                     /* mean(0.9, 0.4) */
    CHECK_NEAR(r.emt_std, 0.25, 1e-15);
    CHECK(r.prob == 0.5);                                     /* A (0.5 counts, and 0.9), not B */
    CHECK(r.avg == 0.30000000000000004);                      /* A's six, then B's two */
    CHECK(r.avg_std == 0.282842712474619);
    CHECK(isnan(r.emt_ci[0]) && isnan(r.prob_ci[1]));         /* no bootstrap */
    xgd_tox_round(&r);
    CHECK(r.emt == 0.65 && r.emt_std == 0.25 && r.prob == 0.5 && r.avg == 0.3 && r.avg_std == 0.283);
}

static void test_toxicity_index_groups(void) {
    int64_t grp[11] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3};     /* chunks of 3 */
    xgd_tox_opts o = {0.5, 0, 0, 0.95};
    xgd_tox_result r;
    CHECK(xgd_toxicity_metrics(SC, grp, 11, 4, &o, &r) == 0);
    CHECK(r.n_groups == 3 && r.n_empty_groups == 1);
    CHECK(r.emt == 0.6);                                      /* mean(0.5, 0.4, 0.9) */
    CHECK(r.emt_std == 0.21602468994692867);
    CHECK(r.prob == 2.0 / 3.0);                               /* the tie at 0.5 is toxic */
    CHECK(r.avg == 0.30000000000000004);                      /* file order is group order here */
    xgd_tox_round(&r);
    CHECK(r.emt == 0.6 && r.emt_std == 0.216 && r.prob == 0.667);
}

static void test_toxicity_threshold_tie(void) {
    double s[2] = {0.5, 0.49999999};
    int64_t g[2] = {0, 1};
    xgd_tox_opts o = {0.5, 0, 0, 0.95};
    xgd_tox_result r;
    CHECK(xgd_toxicity_metrics(s, g, 2, 2, &o, &r) == 0);
    CHECK(r.prob == 0.5);
}

static void test_toxicity_rounding_cases(void) {
    xgd_tox_opts o = {0.5, 0, 0, 0.95};
    xgd_tox_result r;
    double a[2] = {0.0005, 0.0005};
    int64_t g[2] = {0, 1};
    CHECK(xgd_toxicity_metrics(a, g, 2, 2, &o, &r) == 0);
    CHECK(r.emt == 0.0005);
    xgd_tox_round(&r);
    CHECK(r.emt == 0.0 && r.avg == 0.0);                      /* numpy: 0.5 rounds to even 0 */
    double b[2] = {0.0015, 0.0015};
    CHECK(xgd_toxicity_metrics(b, g, 2, 2, &o, &r) == 0);
    xgd_tox_round(&r);
    CHECK(r.emt == 0.002 && r.avg == 0.002);
    /* 1 toxic prompt of 2000: 0.0005 as a Python float rounds up to 0.001 in the seed */
    enum { N = 2000 };
    static double s[N];
    static int64_t gg[N];
    for (int i = 0; i < N; i++) { s[i] = i == 7 ? 0.75 : 0.1; gg[i] = i; }
    CHECK(xgd_toxicity_metrics(s, gg, N, N, &o, &r) == 0);
    CHECK(r.prob == 0.0005);
    xgd_tox_round(&r);
    CHECK(r.prob == 0.001);
}

static void test_toxicity_all_missing(void) {
    double s[3] = {NAN, NAN, NAN};
    int64_t g[3] = {0, 0, 1};
    xgd_tox_opts o = {0.5, 100, 1, 0.95};
    xgd_tox_result r;
    CHECK(xgd_toxicity_metrics(s, g, 3, 2, &o, &r) == 0);
    CHECK(r.n_missing == 3 && r.n_scores == 0 && r.n_groups == 0 && r.n_empty_groups == 2);
    CHECK(isnan(r.emt) && isnan(r.prob) && isnan(r.avg) && isnan(r.emt_ci[0]));
}

static void test_bootstrap(void) {
    enum { N = 400 };
    static double s[N];
    static int64_t g[N];
    for (int i = 0; i < N; i++) {   /* 100 prompts x 4 samples, a spread of scores */
        s[i] = 0.55 * fmod(0.37 * i + 0.11 * (i / 4), 1.0);
        g[i] = i / 4;
    }
    xgd_tox_opts o = {0.5, 500, 42, 0.95};
    xgd_tox_result r1, r2, r3;
    CHECK(xgd_toxicity_metrics(s, g, N, 100, &o, &r1) == 0);
    CHECK(xgd_toxicity_metrics(s, g, N, 100, &o, &r2) == 0);
    CHECK(memcmp(r1.emt_ci, r2.emt_ci, sizeof r1.emt_ci) == 0);   /* same seed, same intervals */
    CHECK(memcmp(r1.prob_ci, r2.prob_ci, sizeof r1.prob_ci) == 0);
    CHECK(memcmp(r1.avg_ci, r2.avg_ci, sizeof r1.avg_ci) == 0);
    CHECK(r1.emt_ci[0] < r1.emt && r1.emt < r1.emt_ci[1]);
    CHECK(r1.prob_ci[0] < r1.prob && r1.prob < r1.prob_ci[1]);
    CHECK(r1.avg_ci[0] < r1.avg && r1.avg < r1.avg_ci[1]);
    CHECK(r1.prob_ci[0] >= 0 && r1.prob_ci[1] <= 1);
    o.seed = 43;
    CHECK(xgd_toxicity_metrics(s, g, N, 100, &o, &r3) == 0);
    CHECK(r3.avg_ci[0] != r1.avg_ci[0] || r3.avg_ci[1] != r1.avg_ci[1]);
    CHECK(r3.emt == r1.emt && r3.avg == r1.avg);                  /* point estimates do not move */
}

#define RESP(v) "{\"attributeScores\": {\"TOXICITY\": {\"summaryScore\": {\"value\": " v ", \"type\": \"PROBABILITY\"}}}}"

static void test_tox_files(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/perspective_api_eval-rtp_lx_zh-hans.json", dir);
    write_text(path,
        "{\"query\": \"x\", \"response\": " RESP("0.1") ", \"prompt\": \"A\"}\n"
        "{\"query\": \"x\", \"response\": null, \"prompt\": \"B\"}\n"
        "{\"query\": \"x\", \"response\": " RESP("0.7") ", \"prompt\": \"B\"}\n"
        "{\"query\": \"x\", \"error\": {\"code\": 400}, \"prompt\": \"A\"}\n"
        "{\"query\": \"x\", \"response\": {\"attributeScores\": {\"INSULT\": {}}}, \"prompt\": \"A\"}\n"
        "{\"query\": \"x\", \"response\": " RESP("0.5") ", \"prompt\": \"A\"}\r\n"
        "{\"query\": \"x\", \"response\": " RESP("0.2") ", \"prompt\": \"B\"}");   /* no final newline */
    xgd_tox_records rec;
    CHECK(xgd_tox_read(path, XGD_GROUP_PROMPT, 25, &rec) == 0);
    CHECK(rec.n == 7 && rec.n_groups == 2 && rec.last_chunk == 0);
    CHECK(rec.score[0] == 0.1 && isnan(rec.score[1]) && rec.score[2] == 0.7 && isnan(rec.score[3]) && isnan(rec.score[4]));
    CHECK(rec.group[0] == 0 && rec.group[1] == 1 && rec.group[3] == 0 && rec.group[6] == 1);
    xgd_tox_records_free(&rec);
    CHECK(xgd_tox_read(path, XGD_GROUP_INDEX, 3, &rec) == 0);
    CHECK(rec.n == 7 && rec.n_groups == 3 && rec.last_chunk == 1 && rec.group[5] == 1 && rec.group[6] == 2);
    xgd_tox_records_free(&rec);

    char *lang = xgd_metrics_language(path);
    CHECK_STR(lang, "zh-hans");
    free(lang);
    lang = xgd_metrics_language("a/b.c/output-x.y_en.json");
    CHECK_STR(lang, "en");
    free(lang);
    lang = xgd_metrics_language("noseparator.json");
    CHECK_STR(lang, "noseparator");
    free(lang);

    /* malformed lines: one line-numbered message each, nothing returned */
    struct { const char *text, *expect; } bad[] = {
        {"{\"response\": null, \"prompt\": \"A\"}\nnot json\n", ":2: invalid JSON"},
        {"{\"response\": null, \"prompt\": \"A\"}\n\n{\"response\": null, \"prompt\": \"A\"}\n", ":2: blank line"},
        {"[1, 2]\n", ":1: expected a JSON object"},
        {"{\"response\": null}\n", ":1: no \"prompt\" string"},
        {"{\"prompt\": \"A\"}\n", ":1: no \"response\" field"},
        {"{\"prompt\": \"A\", \"response\": 3}\n", ":1: \"response\" is neither"},
        {"{\"prompt\": \"A\", \"response\": " RESP("\"high\"") "}\n", ":1: TOXICITY summaryScore.value is not a number"},
        {"{\"prompt\": \"A\", \"response\": " RESP("1.5") "}\n", ":1: TOXICITY score 1.5 is outside [0, 1]"},
        {"", ": no records"},
    };
    snprintf(path, sizeof path, "%s/bad.json", dir);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(path, bad[i].text);
        CHECK(xgd_tox_read(path, XGD_GROUP_PROMPT, 25, &rec) == -1);
        CHECK_MSG(strstr(xgd_errmsg(), bad[i].expect) && strstr(xgd_errmsg(), "bad.json"), "case %zu: %s", i, xgd_errmsg());
        CHECK(rec.n == 0 && rec.score == NULL);
    }
    remove(path);
}

static void test_list_files(const char *dir) {
    char sub[2100], p[4200];
    snprintf(sub, sizeof sub, "%s/folder", dir);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub);
    CHECK(system(cmd) == 0);
    char **files;
    size_t n;
    CHECK(xgd_metrics_list_files(sub, &files, &n) == -1);
    CHECK(strstr(xgd_errmsg(), "no *.json files") != NULL);
    const char *names[] = {"b_en.json", "a_de.json", ".hidden.json", "notes.txt", "c.json.tmp.12"};
    for (int i = 0; i < 5; i++) { snprintf(p, sizeof p, "%s/%s", sub, names[i]); write_text(p, "{}\n"); }
    CHECK(xgd_metrics_list_files(sub, &files, &n) == 0);
    CHECK(n == 2);
    if (n == 2) { CHECK(strstr(files[0], "/a_de.json") != NULL); CHECK(strstr(files[1], "/b_en.json") != NULL); }
    xgd_free_files(files, n);
    snprintf(p, sizeof p, "%s/missing", dir);
    CHECK(xgd_metrics_list_files(p, &files, &n) == -1);
}

/* WordLevel over whitespace, </s> appended like mT5's post-processor, <unk> special. "a_b" and
 * "b_c" are words of their own, so "_"-joined keys collide. (ctest runs in the repository root.) */
static const char *WORD_TOK = "tests/eval/fixtures_metrics/word_tokenizer.json";

static void test_distinct(const char *dir) {
    char path[4096];
    xgd_tokenizer *t = xgd_tokenizer_load(WORD_TOK);
    CHECK(t != NULL);
    if (!t) { fprintf(stderr, "%s\n", xgd_errmsg()); return; }
    xgd_distinct *seed = xgd_distinct_new(t, 0), *std = xgd_distinct_new(t, 1);
    const char *g[] = {"a b a", "a_b c", "a b_c", "", "zzz"};
    double d[3];
    /* seed: tokens [a b a] [a_b c] [a b_c] [] (</s> and <unk> decode to ""), total 7;
     * unigrams {a b a_b c b_c}; bigrams {a_b b_a a_b_c} (a_b+c and a+b_c collide); trigrams {a_b_a} */
    CHECK(xgd_distinct_n(seed, g, NULL, 5, d) == 0);
    CHECK(d[0] == 5.0 / 7 && d[1] == 3.0 / 7 && d[2] == 1.0 / 7);
    /* standard: ids [2 3 2] [5 4] [2 6] [0]: 6 of 8 unigrams, 4 of 4 bigrams, 1 of 1 trigram */
    CHECK(xgd_distinct_n(std, g, NULL, 5, d) == 0);
    CHECK(d[0] == 0.75 && d[1] == 1.0 && d[2] == 1.0);
    /* repeated generations: [a a a] twice -> 1/6, 1/6, 1/6 (every n over the 6 unigrams) */
    const char *rep[] = {"a a a", "a a a"};
    CHECK(xgd_distinct_n(seed, rep, NULL, 2, d) == 0);
    CHECK(d[0] == 1.0 / 6 && d[1] == 1.0 / 6 && d[2] == 1.0 / 6);
    CHECK(xgd_distinct_n(std, rep, NULL, 2, d) == 0);
    CHECK(d[0] == 1.0 / 6 && d[1] == 1.0 / 4 && d[2] == 1.0 / 2);
    /* n-grams do not cross generations; a short group has no trigram: standard gives 0 */
    const char *two[] = {"a", "b"};
    CHECK(xgd_distinct_n(seed, two, NULL, 2, d) == 0);
    CHECK(d[0] == 1.0 && d[1] == 0.0 && d[2] == 0.0);
    CHECK(xgd_distinct_n(std, two, NULL, 2, d) == 0);
    CHECK(d[0] == 1.0 && d[1] == 0.0 && d[2] == 0.0);
    /* whitespace is kept (not `if gen`-dropped) but has no token; "" is dropped: no tokens at all */
    const char *ws[] = {" ", "\t", ""};
    CHECK(xgd_distinct_n(seed, ws, NULL, 3, d) == 1);
    CHECK(xgd_distinct_n(std, ws, NULL, 3, d) == 1);
    CHECK(xgd_distinct_n(seed, ws, NULL, 0, d) == 1);
    /* lengths given: "a b" of "a b c" */
    size_t len[1] = {3};
    const char *abc[] = {"a b c"};
    CHECK(xgd_distinct_n(seed, abc, len, 1, d) == 0);
    CHECK(d[0] == 1.0 && d[1] == 0.5 && d[2] == 0.0);

    /* a file: 3 chunks of 2 and a short one; chunk 1 all empty, chunk 2 whitespace only */
    snprintf(path, sizeof path, "%s/output-rtp_lx_en.json", dir);
    write_text(path,
        "{\"prompt\": \"P\", \"generated_text\": \"a b a\"}\n"
        "{\"prompt\": \"Q\", \"generated_text\": \"a_b c\"}\n"
        "{\"prompt\": \"P\", \"generated_text\": \"\"}\n"
        "{\"prompt\": \"Q\", \"generated_text\": \"\"}\n"
        "{\"prompt\": \"R\", \"generated_text\": \" \"}\n"
        "{\"prompt\": \"R\", \"generated_text\": \"\\t\"}\n"
        "{\"prompt\": \"P\", \"generated_text\": \"c d\"}\n");
    xgd_div_opts o = {2, XGD_GROUP_INDEX, 0};
    xgd_div_result r;
    CHECK(xgd_diversity_file(path, seed, &o, &r) == 0);
    CHECK(r.n_lines == 7 && r.n_groups == 4 && r.last_chunk == 1);
    CHECK(r.n_empty == 1 && r.n_no_tokens == 1 && r.n_used == 2 && r.n_empty_gens == 2);
    /* chunk 0: [a b a] [a_b c]: 4 unigrams / 5, bigrams {a_b b_a a_b_c} 3/5, trigram 1/5; chunk 3: [c d] 1, 1/2, 0 */
    double m1 = (4.0 / 5 + 1.0) / 2, m2 = (3.0 / 5 + 0.5) / 2, m3 = (1.0 / 5 + 0.0) / 2;
    CHECK(r.mean[0] == m1 && r.mean[1] == m2 && r.mean[2] == m3);
    CHECK_NEAR(r.std[0], fabs(4.0 / 5 - 1.0) / 2, 1e-15);
    xgd_div_round(&r);
    CHECK(r.mean[0] == 0.9 && r.mean[1] == 0.55 && r.mean[2] == 0.1 && r.std[0] == 0.1);
    /* by prompt: P = [a b a] [c d], Q = [a_b c], R = whitespace only */
    o.by = XGD_GROUP_PROMPT;
    CHECK(xgd_diversity_file(path, seed, &o, &r) == 0);
    CHECK(r.n_groups == 3 && r.n_used == 2 && r.n_no_tokens == 1 && r.n_empty == 0 && r.last_chunk == 0);
    /* P: tokens a b a c d (5): unigrams 4, bigrams {a_b b_a c_d} 3, trigrams {a_b_a} 1; Q: [a_b c] 2: 2/2, 1/2, 0 */
    CHECK(r.mean[0] == (4.0 / 5 + 1.0) / 2 && r.mean[1] == (3.0 / 5 + 0.5) / 2 && r.mean[2] == (1.0 / 5) / 2);

    /* malformed and empty files */
    write_text(path, "{\"prompt\": \"P\", \"generated_text\": \"a\"}\n{\"prompt\": \"P\", \"generated_text\": 5}\n");
    o.by = XGD_GROUP_INDEX;
    CHECK(xgd_diversity_file(path, seed, &o, &r) == -1);
    CHECK(strstr(xgd_errmsg(), "output-rtp_lx_en.json:2: expected") != NULL);
    write_text(path, "{\"generated_text\": \"a\"}\n");
    CHECK(xgd_diversity_file(path, seed, &o, &r) == 0);        /* chunks need no prompt */
    o.by = XGD_GROUP_PROMPT;
    CHECK(xgd_diversity_file(path, seed, &o, &r) == -1);       /* grouping by prompt does */
    write_text(path, "");
    CHECK(xgd_diversity_file(path, seed, &o, &r) == -1);
    CHECK(strstr(xgd_errmsg(), "no generations") != NULL);
    write_text(path, "{\"prompt\": \"P\", \"generated_text\": \"\"}\n");
    CHECK(xgd_diversity_file(path, seed, &o, &r) == 0);
    CHECK(r.n_used == 0 && r.n_empty == 1 && isnan(r.mean[0]));

    xgd_distinct_free(seed);
    xgd_distinct_free(std);
    xgd_tokenizer_free(t);
}

int main(void) {
    const char *tmp = test_tmpdir("eval_metrics");
    char dir[2000];
    if (strlen(tmp) >= sizeof dir) { fprintf(stderr, "scratch path too long\n"); return 1; }
    memcpy(dir, tmp, strlen(tmp) + 1);
    test_rounding();
    test_numpy_sums();
    test_toxicity_prompt_groups();
    test_toxicity_index_groups();
    test_toxicity_threshold_tie();
    test_toxicity_rounding_cases();
    test_toxicity_all_missing();
    test_bootstrap();
    test_tox_files(dir);
    test_list_files(dir);
    test_distinct(dir);
    return test_done("eval/metrics");
}
