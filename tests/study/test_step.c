/* The study runner's small parts: command lines a shell reads back as the same argv, flag values
 * in the fewest exact digits, fingerprints of files and folders, library versions. */
#include "test.h"
#include "base/fs.h"
#include "study/step.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write(const char *dir, const char *name, const char *text) {
    char *p = xgd_path_join(dir, name);
    xgd_write_file_atomic(p, text, strlen(text));
    free(p);
}

int main(void) {
    /* quoting: plain words stay bare; spaces, braces, quotes and empty strings are single-quoted */
    const char *argv[] = {"activations", "--prompt_pattern", "RTP_LX_{LANG}.json", "--x", "it's a b", "--e", "", "--p", "/a/b-c_d.json", NULL};
    char *c = xgd_command_line(argv);
    CHECK_STR(c, "xgd activations --prompt_pattern 'RTP_LX_{LANG}.json' --x 'it'\\''s a b' --e '' --p /a/b-c_d.json");
    free(c);

    char buf[64];
    json_t *v = json_real(0.1);
    xgd_arg_num(buf, sizeof buf, v);
    CHECK_STR(buf, "0.1");
    json_decref(v);
    v = json_real(1e-6);
    xgd_arg_num(buf, sizeof buf, v);
    CHECK_STR(buf, "1e-06");
    json_decref(v);
    v = json_real(1.0 / 3.0);
    xgd_arg_num(buf, sizeof buf, v);
    CHECK(strtod(buf, NULL) == 1.0 / 3.0);
    json_decref(v);
    v = json_real(10.0);
    xgd_arg_num(buf, sizeof buf, v);
    CHECK_STR(buf, "10");
    json_decref(v);
    v = json_integer(150);
    xgd_arg_num(buf, sizeof buf, v);
    CHECK_STR(buf, "150");
    json_decref(v);

    /* fingerprints: FNV-1a 64 of the bytes; a folder's changes with a file's content or name, not
     * with hidden files (the step's own marker and log) */
    const char *dir = test_tmpdir("study_step");
    write(dir, "a.txt", "a");
    char fa[17], fd1[17], fd2[17], fd3[17], fd4[17];
    char *pa = xgd_path_join(dir, "a.txt");
    CHECK(xgd_fingerprint(pa, fa) == 0);
    CHECK_STR(fa, "af63dc4c8601ec8c");   /* FNV-1a 64 of "a" (the published test vector) */
    CHECK(xgd_fingerprint(dir, fd1) == 0);
    write(dir, ".xgd-step.log", "anything");
    CHECK(xgd_fingerprint(dir, fd2) == 0);
    CHECK_STR(fd1, fd2);
    write(dir, "a.txt", "b");
    CHECK(xgd_fingerprint(dir, fd3) == 0);
    CHECK(strcmp(fd1, fd3) != 0);
    write(dir, "a.txt", "a");
    write(dir, "b.txt", "");
    CHECK(xgd_fingerprint(dir, fd4) == 0);
    CHECK(strcmp(fd1, fd4) != 0);
    char *missing = xgd_path_join(dir, "nope");
    CHECK(xgd_fingerprint(missing, fa) == -1);
    free(missing);
    free(pa);

    /* inputs: a hub id counts as its snapshot folder in the local cache; an unknown id not at all */
    char hub[4200], snap[4400], cmd[16000];
    snprintf(hub, sizeof hub, "%s/hub", dir);
    snprintf(snap, sizeof snap, "%s/models--org--tiny/snapshots/0123456789abcdef0123456789abcdef01234567", hub);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s/models--org--tiny/refs' && printf 0123456789abcdef0123456789abcdef01234567 > '%s/models--org--tiny/refs/main'",
             snap, hub, hub);
    CHECK(system(cmd) == 0);
    write(snap, "config.json", "{}");
    setenv("HF_HUB_CACHE", hub, 1);
    xgd_inputs in = {{0}, 0};
    xgd_inputs_local(&in, "org/tiny");
    xgd_inputs_local(&in, "org/absent");
    xgd_inputs_local(&in, dir);
    CHECK(in.n == 2);
    CHECK_STR(in.v[0], snap);
    CHECK_STR(in.v[1], dir);
    CHECK(in.v[2] == NULL);
    xgd_inputs_free(&in);

    json_t *ver = xgd_versions();
    const char *keys[] = {"xgd", "openblas", "jansson", "libcurl", "pcre2", "utf8proc"};
    for (int i = 0; i < 6; i++) CHECK_MSG(json_string_length(json_object_get(ver, keys[i])) > 0, "version of %s", keys[i]);
    CHECK(json_object_size(ver) == 6);
    json_decref(ver);
    return test_done("study_step");
}
