#include "study/step.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "interp/report.h"
#include "io/checkpoint.h"
#include <cblas.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utf8proc.h>

#ifndef XGD_VERSION
#define XGD_VERSION "0.1.0"
#endif

#define FNV_OFFSET 14695981039346656037ULL   /* 0xcbf29ce484222325 */
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * FNV_PRIME;
    return h;
}

/* Large files (model weights) count by size and mtime: reading gigabytes on every run would make
 * `xgd run --dry-run` slow, and a rewritten weight file changes its mtime anyway. */
#define FP_READ_LIMIT ((off_t)256 << 20)

static int file_hash(const char *path, uint64_t *h) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (st.st_size > FP_READ_LIMIT) {
        long long meta[3] = {(long long)st.st_size, (long long)st.st_mtim.tv_sec, (long long)st.st_mtim.tv_nsec};
        *h = fnv(FNV_OFFSET, meta, sizeof meta);
        return 0;
    }
    if (st.st_size == 0) { *h = FNV_OFFSET; return 0; }
    xgd_mapping mp;
    if (xgd_map_file(path, &mp) != 0) return -1;
    *h = fnv(FNV_OFFSET, mp.data, mp.size);
    xgd_unmap(&mp);
    return 0;
}

int xgd_fingerprint(const char *path, char out[17]) {
    uint64_t h = FNV_OFFSET;
    if (xgd_is_dir(path)) {
        static const char *const all[] = {"", NULL};
        char **f;
        size_t n;
        if (xgd_list_files(path, all, &f, &n) != 0) return -1;
        for (size_t i = 0; i < n; i++) {
            const char *name = strrchr(f[i], '/') + 1;
            uint64_t fh;
            if (name[0] == '.' || !xgd_is_file(f[i]) || file_hash(f[i], &fh) != 0) continue;   /* hidden, folders */
            h = fnv(fnv(h, name, strlen(name) + 1), &fh, sizeof fh);
        }
        xgd_free_files(f, n);
    } else if (!xgd_is_file(path) || file_hash(path, &h) != 0) return -1;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

/* Single quotes where the shell would otherwise split or expand. */
static void quote(char **s, size_t *n, size_t *cap, const char *a) {
    int plain = *a != 0;
    for (const char *c = a; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%", *c)) plain = 0;
    size_t need = *n + 4 * strlen(a) + 4;
    if (need > *cap) { *cap = 2 * need; *s = xgd_realloc(*s, *cap); }
    char *p = *s + *n;
    if (plain) p += sprintf(p, "%s", a);
    else {
        *p++ = '\'';
        for (const char *c = a; *c; c++) {
            if (*c == '\'') { memcpy(p, "'\\''", 4); p += 4; }
            else *p++ = *c;
        }
        *p++ = '\'';
    }
    *p = 0;
    *n = (size_t)(p - *s);
}

void xgd_arg_num(char *buf, size_t n, const json_t *v) {
    if (json_is_integer(v)) { snprintf(buf, n, "%lld", (long long)json_integer_value(v)); return; }
    double x = json_number_value(v);
    if (x == floor(x) && fabs(x) < 1e15) { snprintf(buf, n, "%.0f", x); return; }   /* 10.0 as "10", not "1e+01" */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

char *xgd_command_line(const char *const *argv) {
    size_t cap = 256, n = 3;
    char *s = xgd_malloc(cap);
    strcpy(s, "xgd");
    for (int i = 0; argv[i]; i++) {
        s[n++] = ' ';
        s[n] = 0;
        quote(&s, &n, &cap, argv[i]);
    }
    return s;
}

json_t *xgd_versions(void) {
    char pcre[64] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    const char *blas = openblas_get_config();
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "xgd", XGD_VERSION, "openblas", blas ? blas : "?", "jansson",
                     jansson_version_str(), "libcurl", curl_version_info(CURLVERSION_NOW)->version, "pcre2", pcre,
                     "utf8proc", utf8proc_version());
}

void xgd_argv_add(xgd_argv *a, const char *s) {
    if (a->n < 63) a->v[a->n++] = xgd_strdup(s);
    a->v[a->n] = NULL;
}

void xgd_argv_opt(xgd_argv *a, const char *flag, const char *val) { xgd_argv_add(a, flag); xgd_argv_add(a, val); }

void xgd_argv_keys(xgd_argv *a, const json_t *o, const char *keys) {
    char list[512], *save = NULL;
    snprintf(list, sizeof list, "%s", keys);
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        json_t *v = json_object_get(o, k);
        char flag[128], num[64];
        snprintf(flag, sizeof flag, "--%s", k);
        if (json_is_true(v)) xgd_argv_add(a, flag);
        else if (json_is_string(v)) xgd_argv_opt(a, flag, json_string_value(v));
        else if (json_is_number(v)) { xgd_arg_num(num, sizeof num, v); xgd_argv_opt(a, flag, num); }
    }
}

long long xgd_argv_seed(xgd_argv *a, const json_t *o, const char *key, long long def) {
    long long seed = xgd_json_int(o, key, def);
    char sd[32];
    snprintf(sd, sizeof sd, "%lld", seed);
    xgd_argv_opt(a, "--seed", sd);
    return seed;
}

void xgd_argv_free(xgd_argv *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    a->n = 0;
}

void xgd_inputs_add(xgd_inputs *in, const char *p) {
    if (p && in->n < 15) in->v[in->n++] = xgd_strdup(p);
    in->v[in->n] = NULL;
}

void xgd_inputs_local(xgd_inputs *in, const char *p) {
    if (!p) return;
    if (xgd_is_dir(p) || xgd_is_file(p)) { xgd_inputs_add(in, p); return; }
    char *snap = strchr(p, '/') ? xgd_resolve_model(p) : NULL;   /* "org/name": the cached snapshot */
    if (snap) xgd_inputs_add(in, snap);
    free(snap);
}

void xgd_inputs_free(xgd_inputs *in) {
    for (int i = 0; i < in->n; i++) free(in->v[i]);
    in->n = 0;
    in->v[0] = NULL;
}

int xgd_step_cmd(xgd_steps *s, const char *name, const char *dir, xgd_argv *a, xgd_inputs *in, long long seed) {
    const char *const *cmd = (const char *const *)a->v;
    xgd_step st = {name, dir, &cmd, 1, (const char *const *)in->v, seed, 0};
    int rc = xgd_step_run(s, &st);
    xgd_argv_free(a);
    xgd_inputs_free(in);
    return rc;
}

void xgd_step_record(xgd_steps *s, const char *name, const char *state, double seconds, json_t *extra) {
    json_t *r = json_pack("{s:s, s:s, s:f}", "step", name, "state", state, "seconds", seconds);
    if (extra) { json_object_update(r, extra); json_decref(extra); }
    json_array_append_new(s->steps, r);
    printf("%-34s %s\n", name, state);
    fflush(stdout);
}

void xgd_step_skip(xgd_steps *s, const char *name, const char *why) {
    char state[512];
    snprintf(state, sizeof state, "not configured (%s)", why);
    xgd_step_record(s, name, state, 0, NULL);
}

/* Run xgd argv in a child process (the running binary), stdout and stderr into log. */
static int spawn(const char *const *argv, const char *log) {
    int n = 0;
    while (argv[n]) n++;
    char **av = xgd_malloc(sizeof(char *) * (size_t)(n + 2));
    av[0] = "xgd";
    for (int i = 0; i < n; i++) av[i + 1] = (char *)argv[i];
    av[n + 1] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { free(av); return xgd_fail("fork: %s", strerror(errno)); }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
        /* /proc/self/exe is this very binary, even if its file was replaced since it started */
        execv("/proc/self/exe", av);
        fprintf(stderr, "xgd: error: cannot execute /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    free(av);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return xgd_fail("waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    /* the child's last line is its error message */
    char *buf = NULL, *last = "";
    size_t len = 0;
    if (xgd_read_file(log, &buf, &len) == 0) {
        while (len && (buf[len - 1] == '\n')) buf[--len] = 0;
        last = strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf;
    }
    int rc = xgd_fail("exit status %d: %s (log: %s)", WIFEXITED(status) ? WEXITSTATUS(status) : -1, last, log);
    free(buf);
    return rc;
}

/* The state of a step: 0 complete, else the reason it (would) run, in why; *stale when the
 * folder's content is invalid (another command or input made it). */
static int decide(const xgd_step *st, const json_t *want, const char *marker, char *why, size_t n, int *stale) {
    json_t *inputs = json_object_get(want, "inputs");
    const char *in;
    json_t *fp;
    *stale = 0;
    json_object_foreach(inputs, in, fp)
        if (json_is_null(fp)) { snprintf(why, n, "missing: %s is not made yet", in); return 1; }
    if (!xgd_is_dir(st->dir)) { snprintf(why, n, "missing"); return 1; }
    json_error_t e;
    json_t *have = json_load_file(marker, 0, &e);
    if (!have) { snprintf(why, n, st->resumable ? "interrupted: resumes" : "interrupted"); return 1; }
    if (!json_equal(json_object_get(have, "command"), json_object_get(want, "command"))) { snprintf(why, n, "stale: the command changed"); *stale = 1; }
    else json_object_foreach(inputs, in, fp)
        if (!json_equal(json_object_get(json_object_get(have, "inputs"), in), fp)) { snprintf(why, n, "stale: %s changed", in); *stale = 1; break; }
    json_decref(have);
    return *stale;
}

int xgd_step_run(xgd_steps *s, const xgd_step *st) {
    char *marker = xgd_path_join(st->dir, ".xgd-step"), *log = xgd_path_join(st->dir, ".xgd-step.log");
    json_t *inputs = json_object(), *cmds = json_array(), *argvs = json_array();
    size_t cap = 1, len = 0;
    char *cmd = xgd_calloc(1, 1);   /* the commands joined by " && " */
    for (int c = 0; c < st->ncmd; c++) {
        char *one = xgd_command_line(st->cmds[c]);
        json_t *a = json_array();
        for (int i = 0; st->cmds[c][i]; i++) json_array_append_new(a, json_string(st->cmds[c][i]));
        json_array_append_new(argvs, a);
        json_array_append_new(cmds, json_string(one));
        if (len + strlen(one) + 5 > cap) { cap = 2 * (len + strlen(one) + 5); cmd = xgd_realloc(cmd, cap); }
        len += (size_t)sprintf(cmd + len, "%s%s", c ? " && " : "", one);
        free(one);
    }
    for (int i = 0; st->inputs && st->inputs[i]; i++) {
        char fp[17];
        json_object_set_new(inputs, st->inputs[i], xgd_fingerprint(st->inputs[i], fp) == 0 ? json_string(fp) : json_null());
    }
    json_t *want = json_pack("{s:s, s:o}", "command", cmd, "inputs", inputs);
    char why[1200], state[1300];
    int stale, todo = decide(st, want, marker, why, sizeof why, &stale), rc = 0;
    double t0 = xgd_now();
    if (!todo) snprintf(state, sizeof state, "complete (skipped)");
    else if (s->dry) snprintf(state, sizeof state, "would run (%s)", why);
    else {
        /* a redo starts from an empty folder: no partial or stale file survives */
        if (xgd_is_dir(st->dir) && (stale || !st->resumable)) rc = xgd_remove_tree(st->dir);
        if (rc == 0) rc = xgd_mkdir_p(st->dir);
        for (int c = 0; c < st->ncmd && rc == 0; c++) rc = spawn(st->cmds[c], log);
        if (rc == 0) rc = xgd_json_write(marker, want);
        if (rc != 0) xgd_err_context("step '%s' (%s)", st->name, cmd);
        snprintf(state, sizeof state, "done (%s)", why);
    }
    if (rc == 0) {
        json_t *extra = json_pack("{s:s, s:O, s:O, s:O, s:s, s:s}", "command", cmd, "commands", cmds, "argv", argvs, "inputs",
                                  json_object_get(want, "inputs"), "output_dir", st->dir, "log", log);
        if (st->seed >= 0) json_object_set_new(extra, "seed", json_integer(st->seed));
        xgd_step_record(s, st->name, state, todo && !s->dry ? xgd_now() - t0 : 0, extra);
        if (s->dry && todo) printf("    %s\n", cmd);   /* what would run, exactly */
    }
    json_decref(want);
    json_decref(cmds);
    json_decref(argvs);
    free(cmd);
    free(marker);
    free(log);
    return rc;
}
