/* Input side of the metrics: the folder's files, their language, their JSONL lines. */
#include "eval/metrics.h"
#include "eval/metrics_internal.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int xgd_metrics_list_files(const char *dir, char ***files, size_t *n) {
    *files = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return xgd_fail("%s: cannot read folder: %s", dir, strerror(errno));
    char **v = NULL;
    size_t k = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char *p = xgd_path_join(dir, e->d_name);
        if (!xgd_is_file(p)) { free(p); continue; }
        v = xgd_realloc(v, (k + 1) * sizeof *v);
        v[k++] = p;
    }
    closedir(d);
    if (!k) return xgd_fail("%s: no *.json files in this folder", dir);
    qsort(v, k, sizeof *v, cmp_str);
    *files = v;
    *n = k;
    return 0;
}

void xgd_metrics_free_files(char **files, size_t n) {
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
}

/* pathlib's stem drops the last suffix only: "a.b.json" -> "a.b"; then str.split("_")[-1]. */
char *xgd_metrics_language(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem_len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    const char *start = base;
    for (const char *p = base; p < base + stem_len; p++)
        if (*p == '_') start = p + 1;
    size_t n = (size_t)(base + stem_len - start);
    char *s = xgd_malloc(n + 1);
    memcpy(s, start, n);
    s[n] = 0;
    return s;
}

int xgd_jsonl_open(xgd_jsonl *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->fp = fopen(path, "rb");
    if (!r->fp) return xgd_fail("%s: cannot open: %s", path, strerror(errno));
    return 0;
}

int xgd_jsonl_next(xgd_jsonl *r, json_t **obj) {
    *obj = NULL;
    errno = 0;
    ssize_t got = getline(&r->buf, &r->cap, r->fp);
    if (got < 0) return ferror(r->fp) ? xgd_fail("%s: read error after line %ld", r->path, r->line) : 0;
    r->line++;
    size_t n = (size_t)got;
    while (n && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r')) n--;
    size_t i = 0;
    while (i < n && (r->buf[i] == ' ' || r->buf[i] == '\t')) i++;
    /* The seed's json.loads fails on a blank line too; name it rather than skip it, since a gap
     * shifts every following record's position. */
    if (i == n) return xgd_fail("%s:%ld: blank line", r->path, r->line);
    json_t *j = xgd_json_parse_line(r->buf, n, r->path, r->line);
    if (!j) return -1;
    if (!json_is_object(j)) { json_decref(j); return xgd_fail("%s:%ld: expected a JSON object", r->path, r->line); }
    *obj = j;
    return 1;
}

void xgd_jsonl_close(xgd_jsonl *r) {
    if (r->fp) fclose(r->fp);
    free(r->buf);
    memset(r, 0, sizeof *r);
}
