/* base/jsonl: line numbers, blank lines (skipped or an error), CRLF endings, a last line without a
 * newline, a malformed line reported and passed, and the listing rules of xgd_list_files. */
#include "test.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/jsonl.h"

static void write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

int main(void) {
    const char *tmp = test_tmpdir("jsonl");
    char path[4200];
    snprintf(path, sizeof path, "%s/a.jsonl", tmp);
    write(path, "{\"k\": 1}\r\n\n  \t\n{\"k\": 2}\n[1]\n{bad\n{\"k\": 3}");

    /* skipping blank lines: objects on lines 1, 4, 7; lines 5 (not an object) and 6 (bad JSON) fail */
    xgd_jsonl r;
    CHECK(xgd_jsonl_open(&r, path, XGD_JSONL_SKIP_BLANK) == 0);
    json_t *o;
    long want_line[] = {1, 4, 5, 6, 7};
    int want_got[] = {1, 1, -1, -1, 1};
    long want_k[] = {1, 2, 0, 0, 3};
    for (int i = 0; i < 5; i++) {
        int got = xgd_jsonl_next(&r, &o);
        CHECK_MSG(got == want_got[i] && r.line == want_line[i], "item %d: got %d at line %ld", i, got, r.line);
        if (got > 0) CHECK(json_integer_value(json_object_get(o, "k")) == want_k[i]);
        else CHECK(o == NULL && strstr(xgd_errmsg(), "a.jsonl:") != NULL);
        json_decref(o);
    }
    CHECK(strstr(xgd_errmsg(), "a.jsonl:6") != NULL);
    CHECK(xgd_jsonl_next(&r, &o) == 0 && o == NULL);
    xgd_jsonl_close(&r);

    /* without the flag, a blank line is an error naming its line, and reading goes on after it */
    CHECK(xgd_jsonl_open(&r, path, 0) == 0);
    CHECK(xgd_jsonl_next(&r, &o) == 1);
    json_decref(o);
    CHECK(xgd_jsonl_next(&r, &o) == -1 && strstr(xgd_errmsg(), "a.jsonl:2: blank line") != NULL);
    CHECK(xgd_jsonl_next(&r, &o) == -1 && r.line == 3);
    const char *text;
    size_t len;
    CHECK(xgd_jsonl_next_line(&r, &text, &len) == 1 && len == 8 && !strcmp(text, "{\"k\": 2}"));
    xgd_jsonl_close(&r);

    /* a missing file names itself */
    snprintf(path, sizeof path, "%s/none.jsonl", tmp);
    CHECK(xgd_jsonl_open(&r, path, 0) == -1 && strstr(xgd_errmsg(), "none.jsonl") != NULL);

    /* xgd_list_files: sorted, suffix-matched, no hidden files, no folders */
    char d[4200], p[4400];
    snprintf(d, sizeof d, "%s/list", tmp);
    xgd_remove_tree(d);
    xgd_mkdir_p(d);
    const char *names[] = {"b.json", "a.json", ".hidden.json", "c.jsonl", "x.json.tmp.12", NULL};
    for (int i = 0; names[i]; i++) { snprintf(p, sizeof p, "%s/%s", d, names[i]); write(p, "{}\n"); }
    snprintf(p, sizeof p, "%s/dir.json", d);
    xgd_mkdir_p(p);
    static const char *const sfx[] = {".json", NULL};
    char **files;
    size_t n;
    CHECK(xgd_list_files(d, sfx, &files, &n) == 0 && n == 2);
    if (n == 2) {
        CHECK(strstr(files[0], "/a.json") != NULL);
        CHECK(strstr(files[1], "/b.json") != NULL);
    }
    xgd_free_files(files, n);
    return test_done("jsonl");
}
