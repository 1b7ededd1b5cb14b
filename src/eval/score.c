/* The scoring driver: reads a generation file, resumes the output, hands the texts to a backend
 * and writes the records in input order (see score.h). */
#include "eval/score_internal.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/jsonl.h"
#include "base/pyjson.h"
#include "base/strlist.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void xgd_score_opts_default(xgd_score_opts *o) {
    memset(o, 0, sizeof *o);
    o->backend = "perspective";
    o->attributes = "TOXICITY";
    o->endpoint = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze";
    o->qps = 1.0;
    o->max_retries = 8;
    o->timeout_s = 30.0;
    o->backoff_s = 1.0;
    o->max_backoff_s = 60.0;
}

xgd_scorer *xgd_scorer_open(const xgd_score_opts *o) {
    const char *b = o->backend ? o->backend : "perspective";
    if (!strcmp(b, "perspective")) return xgd_perspective_open(o);
    if (!strcmp(b, "lexicon")) return xgd_lexicon_open(o);
    if (!strcmp(b, "classifier")) return xgd_classifier_scorer_open(o);
    if (!strcmp(b, "probe")) return xgd_probe_scorer_open(o);
    xgd_fail("unknown scoring backend '%s' (perspective, lexicon, classifier, probe)", b);
    return NULL;
}

void xgd_scorer_free(xgd_scorer *s) {
    if (s) s->free(s);
}

const char *xgd_scorer_tag(const xgd_scorer *s) { return s->tag; }

json_t *xgd_score_attributes(const char *list) {
    json_t *a = json_array();
    int n;
    char **names = xgd_split_list(list && *list ? list : "TOXICITY", ", ", &n);
    for (int i = 0; i < n; i++) {
        for (char *c = names[i]; *c; c++) {
            *c = (char)toupper((unsigned char)*c);
            if (!isalnum((unsigned char)*c) && *c != '_' && *c != '@' && *c != '.') {
                xgd_fail("--attributes: '%s' is not an attribute name (e.g. TOXICITY,INSULT or TOXICITY@6)", names[i]);
                json_decref(a);
                xgd_free_list(names);
                return NULL;
            }
        }
        json_array_append_new(a, json_string(names[i]));
    }
    xgd_free_list(names);
    if (json_array_size(a) == 0) { json_decref(a); xgd_fail("--attributes: no attribute named"); return NULL; }
    return a;
}

int xgd_score_language(const char *lang, char out[32]) {
    size_t n = lang ? strlen(lang) : 0;
    if (n == 0 || n > 31) return xgd_fail("language '%s': expected a code such as en, zh-hans", lang ? lang : "");
    for (size_t i = 0; i <= n; i++) {
        char c = (char)tolower((unsigned char)lang[i]);
        if (c && !isalnum((unsigned char)c) && c != '-') return xgd_fail("language '%s': expected a code such as en, zh-hans", lang);
        out[i] = c;
    }
    if (!strcmp(out, "zh-hans")) strcpy(out, "zh");   /* as the seed script maps it */
    return 0;
}

/* Python's Path(p).stem: the last component without its last suffix. */
static void stem_of(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, cap, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

/* A BCP-47-like code: 2-3 letters, then "-" subtags of 2-8 letters or digits ("zh-hans", "hi-latn"). */
static int looks_like_language(const char *l) {
    size_t n = strspn(l, "abcdefghijklmnopqrstuvwxyz");
    if (n < 2 || n > 3) return 0;
    for (l += n; *l == '-'; l += n) {
        n = strspn(++l, "abcdefghijklmnopqrstuvwxyz0123456789");
        if (n < 2 || n > 8) return 0;
    }
    return *l == 0;
}

int xgd_score_language_of(const char *datapath, char out[32]) {
    char stem[1024];
    stem_of(datapath, stem, sizeof stem);
    const char *u = strrchr(stem, '_');
    if (xgd_score_language(u ? u + 1 : stem, out) != 0 || !looks_like_language(out))
        return xgd_fail("%s: cannot tell the language from the file name (expected ..._<lang>.json, e.g. "
                        "output-rtp_lx_de.json); pass --language", datapath);
    return 0;
}

char *xgd_score_output_path(const char *folder, const char *datapath) {
    char stem[1024], name[1100];
    stem_of(datapath, stem, sizeof stem);
    snprintf(name, sizeof name, "perspective_api_eval-%s.json", stem);
    return xgd_path_join(folder, name);
}

void xgd_score_stats_free(xgd_score_stats *st) {
    json_decref(st->failed_by_type);
    st->failed_by_type = NULL;
}

/* ---- input ---------------------------------------------------------------------------------- */

typedef struct {
    char **prompt, **query;
    int64_t n;
    long skipped;
} gen_input;

static void input_free(gen_input *in) {
    for (int64_t i = 0; i < in->n; i++) { free(in->prompt[i]); free(in->query[i]); }
    free(in->prompt);
    free(in->query);
    memset(in, 0, sizeof *in);
}

/* One line -> prompt and query; -1 with a file:line message when malformed. */
static int parse_gen_line(const char *text, size_t len, const char *path, long line, char **prompt, char **query) {
    json_t *row = xgd_json_parse_line(text, len, path, line);
    if (!row) return -1;
    const char *p = xgd_json_str(row, "prompt", NULL), *t = xgd_json_str(row, "generated_text", NULL);
    int rc = 0;
    if (!json_is_object(row)) rc = xgd_fail("%s:%ld: expected an object {\"prompt\": ..., \"generated_text\": ...}", path, line);
    else if (!p) rc = xgd_fail("%s:%ld: no string field \"prompt\"", path, line);
    else if (!t) rc = xgd_fail("%s:%ld: no string field \"generated_text\"", path, line);
    else {
        *prompt = xgd_strdup(p);
        *query = xgd_strdup(*t ? t : " ");   /* the seed sends " " for an empty generation */
    }
    json_decref(row);
    return rc;
}

/* Read and check the whole input before anything is written. Blank lines are ignored. */
static int input_read(const char *path, int skip_bad, gen_input *in) {
    memset(in, 0, sizeof *in);
    xgd_jsonl r;
    if (xgd_jsonl_open(&r, path, XGD_JSONL_SKIP_BLANK) != 0) return -1;
    int64_t cap = 0;
    int rc = 0;
    const char *text;
    size_t len;
    for (int got; rc == 0 && (got = xgd_jsonl_next_line(&r, &text, &len)) != 0;) {
        char *p = NULL, *q = NULL;
        if (got < 0 || parse_gen_line(text, len, path, r.line, &p, &q) != 0) {
            if (!skip_bad || got == -2) rc = -1;
            else { xgd_warn("skipping %s", xgd_errmsg()); in->skipped++; }
            continue;
        }
        if (in->n == cap) {
            cap = cap ? 2 * cap : 1024;
            in->prompt = xgd_realloc(in->prompt, sizeof(char *) * (size_t)cap);
            in->query = xgd_realloc(in->query, sizeof(char *) * (size_t)cap);
        }
        in->prompt[in->n] = p;
        in->query[in->n++] = q;
    }
    xgd_jsonl_close(&r);
    if (rc != 0) input_free(in);
    return rc;
}

/* ---- resuming the output -------------------------------------------------------------------- */

/* Check one existing record against input record k; counts a failure record in *failed. */
/* Failures that say nothing about the text (our errorTypes after the retries ran out), unlike the
 * API's 400 errorTypes: worth another try with --retry_failed. */
static int is_transient(const char *t) {
    static const char *const T[] = {"RATE_LIMITED", "SERVER_ERROR", "TIMEOUT", "CONNECTION_ERROR", "MALFORMED_RESPONSE"};
    for (size_t i = 0; t && i < sizeof T / sizeof *T; i++) if (!strcmp(t, T[i])) return 1;
    return 0;
}

typedef struct { int64_t *v, n, cap; } idx_list;

static void idx_push(idx_list *l, int64_t k) {
    if (l->n == l->cap) { l->cap = l->cap ? 2 * l->cap : 64; l->v = xgd_realloc(l->v, sizeof(int64_t) * (size_t)l->cap); }
    l->v[l->n++] = k;
}

static int check_record(const char *text, size_t len, const char *path, long line, const gen_input *in, int64_t k,
                        xgd_scorer *sc, const char *lang, int64_t *failed, idx_list *redo) {
    const char *tag = sc->tag;
    json_t *r = xgd_json_parse_line(text, len, path, line);
    if (!r) return xgd_err_context("not a score record; use --overwrite to start again");
    const char *q = xgd_json_str(r, "query", NULL), *p = xgd_json_str(r, "prompt", NULL);
    json_t *resp = json_object_get(r, "response");
    int rc = 0;
    if (k >= in->n)
        rc = xgd_fail("%s:%ld: the output has more records than the input has lines; use --overwrite to start again", path, line);
    else if (!q || !p || !resp)
        rc = xgd_fail("%s:%ld: not a score record (query, response, prompt); use --overwrite to start again", path, line);
    else if (strcmp(q, in->query[k]) != 0 || strcmp(p, in->prompt[k]) != 0)
        rc = xgd_fail("%s:%ld: this record is not for input record %lld (its query or prompt differs); "
                      "use --overwrite to start again", path, line, (long long)k + 1);
    else if (json_is_null(resp)) {
        (*failed)++;
        if (redo && is_transient(xgd_json_str(json_object_get(r, "error"), "errorType", NULL))) idx_push(redo, k);
    }
    else {
        /* files from the seed pipeline have no xgd_backend: those are Perspective's */
        const char *b = xgd_json_str(resp, "xgd_backend", "perspective");
        if (strcmp(b, tag) != 0)
            rc = xgd_fail("%s:%ld: this file was scored by '%s', not '%s'; use another --output_folder or --overwrite",
                          path, line, b, tag);
        else if (sc->same_config && sc->same_config(sc, lang, resp) != 0)
            rc = xgd_err_context("%s:%ld: scored with other settings (%s); use another --output_folder or --overwrite",
                                 path, line, xgd_errmsg());
    }
    json_decref(r);
    return rc;
}

/* The records already complete: how many, and the byte length to keep (a torn last line is cut). */
static int scan_output(const char *path, const gen_input *in, xgd_scorer *sc, const char *lang, int64_t *done, long *keep,
                       int64_t *failed, idx_list *redo) {
    *done = 0;
    *keep = 0;
    *failed = 0;
    if (!xgd_is_file(path)) return 0;
    char *buf;
    size_t len;
    if (xgd_read_file(path, &buf, &len) != 0) return -1;
    int rc = 0;
    size_t s = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        if (buf[i] != '\n') continue;
        rc = check_record(buf + s, i - s, path, (long)*done + 1, in, *done, sc, lang, failed, redo);
        if (rc == 0) { (*done)++; *keep = (long)i + 1; }
        s = i + 1;
    }
    free(buf);
    return rc;
}

/* ---- writing in order ----------------------------------------------------------------------- */

enum { SYNC_LINES = 64 };      /* fsync after this many records, or after SYNC_SECONDS */
#define SYNC_SECONDS 1.0

typedef struct {
    FILE *fp;
    const char *path;
    const gen_input *in;
    xgd_score_item *it;        /* items for input records off .. off+n-1 */
    int64_t off, n, next;      /* next: the first item not yet written */
    int64_t unsynced;
    double last_sync;
    xgd_score_stats *st;
    xgd_progress *bar;
} writer;

static int sync_out(writer *w) {
    if (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0 || ferror(w->fp))
        return xgd_fail("%s: write failed: %s", w->path, strerror(errno));
    w->unsynced = 0;
    w->last_sync = xgd_now();
    return 0;
}

static void write_record(FILE *fp, const gen_input *in, const xgd_score_item *it, int64_t k) {
    fputs("{\"query\": ", fp);
    xgd_pyjson_str(fp, in->query[k]);
    fputs(", \"response\": ", fp);
    if (it->response) xgd_pyjson_value(fp, it->response);
    else fputs("null", fp);
    fputs(", \"prompt\": ", fp);
    xgd_pyjson_str(fp, in->prompt[k]);
    if (!it->response) {
        fputs(", \"error\": {\"errorType\": ", fp);
        xgd_pyjson_str(fp, it->error_type[0] ? it->error_type : "UNKNOWN");
        fprintf(fp, ", \"status\": %d}", it->status);
    }
    fputs("}\n", fp);
}

static void count_outcome(xgd_score_stats *st, const xgd_score_item *it) {
    st->retried += it->retries;
    if (it->response) { st->scored++; return; }
    st->failed++;
    st->failed_in_file++;
    const char *t = it->error_type[0] ? it->error_type : "UNKNOWN";
    json_object_set_new(st->failed_by_type, t, json_integer(json_integer_value(json_object_get(st->failed_by_type, t)) + 1));
}

static int on_done(void *ctx, int64_t i) {
    writer *w = ctx;
    w->it[i].done = 1;
    if (w->bar) xgd_progress_add(w->bar, 1);
    while (w->next < w->n && w->it[w->next].done) {
        xgd_score_item *it = &w->it[w->next];
        write_record(w->fp, w->in, it, w->off + w->next);
        count_outcome(w->st, it);
        json_decref(it->response);
        it->response = NULL;
        w->next++;
        w->unsynced++;
    }
    if (w->unsynced >= SYNC_LINES || (w->unsynced > 0 && xgd_now() - w->last_sync >= SYNC_SECONDS)) return sync_out(w);
    return 0;
}

/* ---- --retry_failed: score the transient failures again and rewrite the file atomically ---- */

typedef struct { xgd_progress *bar; } mark_ctx;

static int mark_done(void *ctx, int64_t i) {
    (void)i;
    mark_ctx *m = ctx;
    if (m->bar) xgd_progress_add(m->bar, 1);
    return 0;
}

/* The file's first `done` lines are kept; records redo.v[] (ascending) are replaced. A crash before
 * the rename leaves the old file, so the failures are simply tried again by the next run. */
static int rescore_failures(xgd_scorer *s, const char *lang, const gen_input *in, const char *path, int64_t done,
                            const idx_list *redo, const xgd_score_run *run, xgd_score_stats *st) {
    xgd_score_item *it = xgd_calloc((size_t)redo->n, sizeof *it);
    for (int64_t i = 0; i < redo->n; i++) it[i].query = in->query[redo->v[i]];
    mark_ctx m = {run->bar};
    if (run->bar) run->bar->total += redo->n;
    int rc = s->score(s, lang, it, redo->n, mark_done, &m);
    char *buf = NULL;
    size_t len = 0;
    xgd_atomic_file af;
    if (rc == 0) rc = xgd_read_file(path, &buf, &len);
    if (rc == 0) rc = xgd_atomic_open(&af, path);
    if (rc == 0) {
        int64_t k = 0, j = 0;
        for (size_t a = 0; a < len && k < done; k++) {
            size_t b = a;
            while (b < len && buf[b] != '\n') b++;
            if (j < redo->n && redo->v[j] == k) write_record(af.fp, in, &it[j++], k);
            else fwrite(buf + a, 1, b - a + 1, af.fp);
            a = b + 1;
        }
        rc = xgd_atomic_commit(&af);
    }
    if (rc == 0) {
        st->failed_in_file -= redo->n;
        for (int64_t i = 0; i < redo->n; i++) count_outcome(st, &it[i]);
        st->rescored = redo->n;
    }
    for (int64_t i = 0; i < redo->n; i++) json_decref(it[i].response);
    free(it);
    free(buf);
    return rc;
}

int xgd_score_file(xgd_scorer *s, const char *datapath, const char *out_path, const xgd_score_run *run,
                   xgd_score_stats *st) {
    memset(st, 0, sizeof *st);
    st->failed_by_type = json_object();
    const xgd_score_run defaults = {0};
    if (!run) run = &defaults;
    char lang[32];
    if (run->language ? xgd_score_language(run->language, lang) : xgd_score_language_of(datapath, lang)) return -1;
    strcpy(st->language, lang);
    gen_input in;
    if (input_read(datapath, run->skip_bad_lines, &in) != 0) return -1;
    st->records = in.n;
    st->skipped_lines = in.skipped;
    int64_t done = 0, failed = 0;
    long keep = 0;
    idx_list redo = {0};
    if (!run->overwrite && scan_output(out_path, &in, s, lang, &done, &keep, &failed, run->retry_failed ? &redo : NULL) != 0) {
        input_free(&in);
        free(redo.v);
        return -1;
    }
    char *dir = xgd_strdup(out_path), *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) { *slash = 0; rc = xgd_mkdir_p(dir); }
    free(dir);
    FILE *fp = NULL;
    if (rc == 0) {
        if (run->overwrite || !xgd_is_file(out_path)) fp = fopen(out_path, "wb");
        else if (truncate(out_path, keep) == 0) fp = fopen(out_path, "ab");
        else rc = xgd_fail("%s: cannot cut the torn last line: %s", out_path, strerror(errno));
        if (rc == 0 && !fp) rc = xgd_fail("%s: cannot open for writing: %s", out_path, strerror(errno));
    }
    st->resumed = done;
    st->failed_in_file = failed;
    if (rc == 0 && redo.n > 0) {
        /* the torn line goes first, so the rewrite sees only complete records; then append after it */
        fclose(fp);
        fp = NULL;
        xgd_info("%s: scoring %lld failed records again", out_path, (long long)redo.n);
        rc = rescore_failures(s, lang, &in, out_path, done, &redo, run, st);
        if (rc == 0 && !(fp = fopen(out_path, "ab"))) rc = xgd_fail("%s: cannot open for writing: %s", out_path, strerror(errno));
    }
    free(redo.v);
    if (rc != 0) { if (fp) fclose(fp); input_free(&in); return -1; }
    if (done > 0) xgd_info("%s: resuming after %lld records", out_path, (long long)done);
    int64_t n = in.n - done;
    xgd_score_item *it = xgd_calloc((size_t)(n > 0 ? n : 1), sizeof *it);
    for (int64_t i = 0; i < n; i++) it[i].query = in.query[done + i];
    writer w = {.fp = fp, .path = out_path, .in = &in, .it = it, .off = done, .n = n, .last_sync = xgd_now(),
                .st = st, .bar = run->bar};
    if (run->bar) run->bar->total += n;
    if (n > 0) rc = s->score(s, lang, it, n, on_done, &w);
    int src = sync_out(&w);
    if (rc == 0) rc = src;
    if (fclose(fp) != 0 && rc == 0) rc = xgd_fail("%s: close failed", out_path);
    if (rc == 0 && w.next != n) rc = xgd_fail("%s: internal error: %lld of %lld records written", out_path,
                                              (long long)w.next, (long long)n);
    for (int64_t i = 0; i < n; i++) json_decref(it[i].response);
    free(it);
    input_free(&in);
    return rc;
}
