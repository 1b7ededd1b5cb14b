#include "generate/output.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/pyjson.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Scan the existing file: the byte offset after the last complete group, and how many groups. */
static int scan(const char *path, int N, const xgd_prompts *p, int64_t *groups, long *keep_bytes) {
    char *buf;
    size_t len;
    *groups = 0;
    *keep_bytes = 0;
    if (!xgd_is_file(path)) return 0;
    if (xgd_read_file(path, &buf, &len) != 0) return -1;
    long lines = 0, off = 0, group_end = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') {
            lines++;
            off = (long)i + 1;
            if (lines % N == 0) group_end = off;
        }
    int64_t g = lines / N;
    int rc = 0;
    /* the prompts already there must be the input's, in order: check each group's first line */
    long line = 0, start = 0;
    for (size_t i = 0; i < (size_t)group_end && rc == 0; i++) {
        if (buf[i] != '\n') continue;
        if (line % N == 0) {
            int64_t k = line / N;
            json_t *row = xgd_json_parse_line(buf + start, i - (size_t)start, path, line + 1);
            const char *pr = json_string_value(json_object_get(row, "prompt"));
            if (!row) rc = -1;
            else if (!pr || k >= p->n || strcmp(pr, p->text[k]) != 0)
                rc = xgd_fail("%s:%ld: this output does not belong to the prompt file (prompt %lld differs); "
                              "use --overwrite to start again", path, line + 1, (long long)k);
            json_decref(row);
        }
        line++;
        start = (long)i + 1;
    }
    free(buf);
    *groups = g;
    *keep_bytes = group_end;
    return rc;
}

int xgd_gen_file_open(xgd_gen_file *f, const char *path, int N, const xgd_prompts *p, int overwrite) {
    memset(f, 0, sizeof *f);
    f->N = N;
    f->path = xgd_strdup(path);
    int64_t groups = 0;
    long keep = 0;
    if (!overwrite && scan(path, N, p, &groups, &keep) != 0) { free(f->path); return -1; }
    if (overwrite || !xgd_is_file(path)) {
        f->fp = fopen(path, "wb");
    } else {
        if (truncate(path, keep) != 0) { free(f->path); return xgd_fail("%s: cannot truncate: %s", path, strerror(errno)); }
        f->fp = fopen(path, "ab");
    }
    if (!f->fp) { int e = errno; free(f->path); return xgd_fail("%s: cannot open for writing: %s", path, strerror(e)); }
    f->done = groups;
    return 0;
}

int xgd_gen_file_append(xgd_gen_file *f, const char *prompt, char *const *texts) {
    for (int k = 0; k < f->N; k++) {
        fputs("{\"prompt\": ", f->fp);
        xgd_pyjson_str(f->fp, prompt);
        fputs(", \"generated_text\": ", f->fp);
        xgd_pyjson_str(f->fp, texts[k]);
        fputs("}\n", f->fp);
    }
    if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0 || ferror(f->fp))
        return xgd_fail("%s: write failed: %s", f->path, strerror(errno));
    f->done++;
    return 0;
}

int xgd_gen_file_close(xgd_gen_file *f) {
    int rc = 0;
    if (f->fp && fclose(f->fp) != 0) rc = xgd_fail("%s: close failed", f->path);
    free(f->path);
    f->fp = NULL;
    f->path = NULL;
    return rc;
}

static char *base_name(const char *path, size_t *len) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    *len = n - s;
    return (char *)path + s;
}

char *xgd_gen_output_path(const char *out_dir, const char *model, const char *prompt_file) {
    size_t ml;
    const char *last = base_name(model, &ml);
    char name[2200];
    snprintf(name, sizeof name, "%.*s", (int)(ml < 1000 ? ml : 1000), last);
    if (strstr(name, "checkpoint") && last > model) {
        size_t pl;
        char parent[1024];
        snprintf(parent, sizeof parent, "%.*s", (int)(last - model < 1000 ? last - model : 1000), model);
        const char *pb = base_name(parent, &pl);
        snprintf(name, sizeof name, "%.*s_%.*s", (int)pl, pb, (int)(ml < 1000 ? ml : 1000), last);
    }
    size_t fl;
    const char *file = base_name(prompt_file, &fl);
    char stem[1024];
    snprintf(stem, sizeof stem, "%.*s", (int)fl, file);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    for (char *c = stem; *c; c++) *c = (char)tolower((unsigned char)*c);
    size_t n = strlen(out_dir) + strlen(name) + strlen(stem) + 32;
    char *out = xgd_malloc(n);
    snprintf(out, n, "%s/%s/output-%s.json", out_dir, name, stem);
    return out;
}
