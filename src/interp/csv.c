/* RFC 4180 reader: one pass over the text, a small state machine per field. */
#include "interp/csv.h"
#include "base/err.h"
#include "base/fs.h"
#include <stdlib.h>
#include <string.h>

typedef struct { char **v; int64_t n, cap; } strvec;

static void push(strvec *s, char *x) {
    if (s->n == s->cap) s->v = xgd_realloc(s->v, sizeof(char *) * (size_t)(s->cap = s->cap ? s->cap * 2 : 64));
    s->v[s->n++] = x;
}

/* Parse one field starting at *p; advances past it (not past the separator). *line counts the
 * newlines consumed inside quotes. Returns a new string or NULL on a syntax error. */
static char *field(const char **p, const char *end, long *line, const char *path, long row_line) {
    const char *s = *p;
    if (s < end && *s == '"') {
        char *buf = xgd_malloc((size_t)(end - s) + 1);
        size_t n = 0;
        s++;
        for (;;) {
            if (s >= end) { free(buf); xgd_fail("%s:%ld: unterminated quoted field", path, row_line); return NULL; }
            if (*s == '"') {
                if (s + 1 < end && s[1] == '"') { buf[n++] = '"'; s += 2; continue; }
                s++;
                break;
            }
            if (*s == '\n') (*line)++;
            buf[n++] = *s++;
        }
        if (s < end && *s != ',' && *s != '\n' && !(*s == '\r' && s + 1 < end && s[1] == '\n') && !(*s == '\r' && s + 1 == end)) {
            free(buf);
            xgd_fail("%s:%ld: unexpected character after a closing quote", path, *line);
            return NULL;
        }
        buf[n] = 0;
        *p = s;
        return buf;
    }
    const char *b = s;
    while (s < end && *s != ',' && *s != '\n' && !(*s == '\r' && (s + 1 == end || s[1] == '\n'))) {
        if (*s == '"') { xgd_fail("%s:%ld: a quote inside an unquoted field", path, *line); return NULL; }
        s++;
    }
    char *x = xgd_malloc((size_t)(s - b) + 1);
    memcpy(x, b, (size_t)(s - b));
    x[s - b] = 0;
    *p = s;
    return x;
}

int xgd_csv_parse(const char *text, size_t len, const char *path, xgd_csv *out) {
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) p += 3; /* BOM */
    strvec cells = {0}, row = {0};
    long line = 1, *lines = NULL;
    int64_t nrow = 0, lcap = 0;
    int ncol = -1;
    while (p < end) {
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) { p += *p == '\r' ? 2 : 1; line++; continue; } /* blank line */
        long row_line = line;
        row.n = 0;
        for (;;) {
            char *f = field(&p, end, &line, path, row_line);
            if (!f) goto fail;
            push(&row, f);
            if (p < end && *p == ',') { p++; continue; }
            break;
        }
        if (p < end && *p == '\r') p++;
        if (p < end && *p == '\n') { p++; line++; }
        if (ncol < 0) {
            ncol = (int)row.n;
            out->header = xgd_malloc(sizeof(char *) * (size_t)ncol);
            memcpy(out->header, row.v, sizeof(char *) * (size_t)ncol);
            out->ncol = ncol;
            row.n = 0; /* the header owns them now */
            continue;
        }
        if (row.n != ncol) {
            xgd_fail("%s:%ld: %lld fields, the header has %d", path, row_line, (long long)row.n, ncol);
            goto fail;
        }
        for (int64_t i = 0; i < row.n; i++) push(&cells, row.v[i]);
        if (nrow == lcap) lines = xgd_realloc(lines, sizeof(long) * (size_t)(lcap = lcap ? lcap * 2 : 64));
        lines[nrow++] = row_line;
    }
    free(row.v);
    if (ncol < 0) { free(cells.v); free(lines); return xgd_fail("%s: empty CSV (no header)", path); }
    out->cells = cells.v;
    out->nrow = nrow;
    out->line = lines;
    return 0;
fail:
    for (int64_t i = 0; i < row.n; i++) free(row.v[i]); /* the fields of the row being read */
    free(row.v);
    for (int64_t i = 0; i < cells.n; i++) free(cells.v[i]);
    free(cells.v);
    free(lines);
    for (int i = 0; i < out->ncol; i++) free(out->header[i]);
    free(out->header);
    memset(out, 0, sizeof *out);
    return -1;
}

int xgd_csv_read(const char *path, xgd_csv *out) {
    char *text;
    size_t len;
    if (xgd_read_file(path, &text, &len) != 0) return -1;
    int rc = xgd_csv_parse(text, len, path, out);
    free(text);
    return rc;
}

void xgd_csv_free(xgd_csv *c) {
    for (int64_t i = 0; i < c->nrow * c->ncol; i++) free(c->cells[i]);
    for (int i = 0; i < c->ncol; i++) free(c->header[i]);
    free(c->cells);
    free(c->header);
    free(c->line);
    memset(c, 0, sizeof *c);
}

int xgd_csv_col(const xgd_csv *c, const char *name) {
    for (int i = 0; i < c->ncol; i++)
        if (!strcmp(c->header[i], name)) return i;
    return -1;
}
