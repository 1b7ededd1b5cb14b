/* The library API as the study orchestration uses it: open a scorer by backend name and options,
 * score a generation file, read the statistics; a second call resumes (scores nothing), a torn
 * last line is cut and rescored, a bad input line is an error naming file:line and writes nothing,
 * and unknown backends or bad options are refused with a message. */
#include "test.h"
#include "base/err.h"
#include "base/fs.h"
#include "eval/score.h"
#include <unistd.h>

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(void) {
    const char *tmp = test_tmpdir("score_api");
    char lists[4200], gen[4200], bad[4200], folder[4200];
    snprintf(lists, sizeof lists, "%s/en.txt", tmp);
    snprintf(gen, sizeof gen, "%s/output-rtp_lx_en.json", tmp);
    snprintf(bad, sizeof bad, "%s/bad_en.json", tmp);
    snprintf(folder, sizeof folder, "%s/out", tmp);
    put_file(lists, "idiot\nmoron\n");
    put_file(gen, "{\"prompt\": \"p0\", \"generated_text\": \"you idiot\"}\n"
               "{\"prompt\": \"p0\", \"generated_text\": \"\"}\n"
               "\n"
               "{\"prompt\": \"p1\", \"generated_text\": \"Moron, IDIOT\"}\n"
               "{\"prompt\": \"p1\", \"generated_text\": \"kind words\"}\n");
    put_file(bad, "{\"prompt\": \"p0\", \"generated_text\": \"fine\"}\n{\"prompt\": 3, \"generated_text\": \"x\"}\n");

    xgd_score_opts o;
    xgd_score_opts_default(&o);
    CHECK_STR(o.backend, "perspective");
    CHECK(o.qps == 1.0 && o.max_retries == 8 && o.store == 0);
    o.backend = "lexicon";
    o.lexicon = lists;
    xgd_scorer *s = xgd_scorer_open(&o);
    CHECK(s != NULL);
    if (!s) return test_done("score_api");
    CHECK_STR(xgd_scorer_tag(s), "lexicon/1");

    char *out = xgd_score_output_path(folder, gen);
    xgd_score_stats st;
    CHECK(xgd_score_file(s, gen, out, NULL, &st) == 0);
    CHECK(st.records == 4 && st.scored == 4 && st.failed == 0 && st.resumed == 0);
    CHECK_STR(st.language, "en");
    xgd_score_stats_free(&st);
    char *data;
    size_t len;
    CHECK(xgd_read_file(out, &data, &len) == 0);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    CHECK(lines == 4);
    CHECK(strstr(data, "{\"query\": \" \", \"response\": {\"attributeScores\": {\"TOXICITY\": {\"summaryScore\": "
                       "{\"value\": 0.0, \"type\": \"PROBABILITY\"}}}") != NULL);
    CHECK(strstr(data, "\"value\": 0.75") != NULL);   /* two matches */

    /* resume: nothing to do; then tear the last line and resume again: the same bytes */
    CHECK(xgd_score_file(s, gen, out, NULL, &st) == 0);
    CHECK(st.resumed == 4 && st.scored == 0);
    xgd_score_stats_free(&st);
    CHECK(truncate(out, (off_t)len - 7) == 0);
    xgd_score_run run = {.language = "EN"};
    CHECK(xgd_score_file(s, gen, out, &run, &st) == 0);
    CHECK(st.resumed == 3 && st.scored == 1);
    xgd_score_stats_free(&st);
    char *again;
    size_t len2;
    CHECK(xgd_read_file(out, &again, &len2) == 0);
    CHECK(len2 == len && memcmp(again, data, len) == 0);
    free(again);
    free(data);

    /* bad input: file:line, no output file */
    char *bout = xgd_score_output_path(folder, bad);
    CHECK(xgd_score_file(s, bad, bout, NULL, &st) != 0);
    CHECK(strstr(xgd_errmsg(), "bad_en.json:2: no string field \"prompt\"") != NULL);
    CHECK(!xgd_is_file(bout));
    xgd_score_stats_free(&st);
    run = (xgd_score_run){.skip_bad_lines = 1};
    CHECK(xgd_score_file(s, bad, bout, &run, &st) == 0);
    CHECK(st.records == 1 && st.skipped_lines == 1);
    xgd_score_stats_free(&st);
    free(bout);
    free(out);
    xgd_scorer_free(s);

    /* refusals */
    o.backend = "nonesuch";
    CHECK(xgd_scorer_open(&o) == NULL && strstr(xgd_errmsg(), "unknown scoring backend") != NULL);
    xgd_score_opts_default(&o);
    CHECK(xgd_scorer_open(&o) == NULL && strstr(xgd_errmsg(), "no API key") != NULL);
    o.api_key = "AIza test key";
    CHECK(xgd_scorer_open(&o) == NULL && strstr(xgd_errmsg(), "AIza") == NULL);   /* the key is not repeated */
    o.api_key = "AIzaKEY";
    o.qps = 0;
    CHECK(xgd_scorer_open(&o) == NULL && strstr(xgd_errmsg(), "--qps") != NULL);
    o.qps = 1;
    o.endpoint = "ftp://x";
    CHECK(xgd_scorer_open(&o) == NULL && strstr(xgd_errmsg(), "--endpoint") != NULL);
    o.endpoint = "http://127.0.0.1:9/v1alpha1/comments:analyze";
    o.attributes = "TOXICITY,bad/name";
    CHECK(xgd_scorer_open(&o) == NULL && strstr(xgd_errmsg(), "--attributes") != NULL);
    o.attributes = "toxicity, insult";
    s = xgd_scorer_open(&o);   /* opens without any network traffic */
    CHECK(s != NULL && strcmp(xgd_scorer_tag(s), "perspective") == 0);
    xgd_scorer_free(s);
    return test_done("score_api");
}
