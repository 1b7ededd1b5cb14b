/* JSON Lines reader: see jsonl.h. */
#include "base/jsonl.h"
#include "base/err.h"
#include "base/json.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int xgd_jsonl_open(xgd_jsonl *r, const char *path, int flags) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->flags = flags;
    r->fp = fopen(path, "rb");
    if (!r->fp) return xgd_fail("%s: cannot open: %s", path, strerror(errno));
    return 0;
}

int xgd_jsonl_next_line(xgd_jsonl *r, const char **text, size_t *len) {
    for (;;) {
        errno = 0;
        ssize_t got = getline(&r->buf, &r->cap, r->fp);
        if (got < 0) {
            if (!ferror(r->fp)) return 0;
            xgd_fail("%s: read error after line %ld: %s", r->path, r->line, strerror(errno));
            return -2;
        }
        r->line++;
        size_t n = (size_t)got;
        while (n && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r')) n--;
        size_t i = 0;
        while (i < n && (r->buf[i] == ' ' || r->buf[i] == '\t' || r->buf[i] == '\r')) i++;
        if (i == n) {
            if (r->flags & XGD_JSONL_SKIP_BLANK) continue;
            return xgd_fail("%s:%ld: blank line", r->path, r->line);
        }
        r->buf[n] = 0;
        *text = r->buf;
        *len = n;
        return 1;
    }
}

int xgd_jsonl_next(xgd_jsonl *r, json_t **obj) {
    *obj = NULL;
    const char *text;
    size_t n;
    int got = xgd_jsonl_next_line(r, &text, &n);
    if (got <= 0) return got;
    json_t *j = xgd_json_parse_line(text, n, r->path, r->line);
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
