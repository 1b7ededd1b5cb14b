#include "generate/prompts.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include <stdlib.h>
#include <string.h>

static const char *prompt_of(json_t *row) {
    json_t *v = json_object_get(row, "Prompt");
    if (!v) v = json_object_get(row, "prompt");
    if (json_is_object(v)) v = json_object_get(v, "text");
    return json_string_value(v);
}

int xgd_prompts_read(const char *path, int skip_bad, xgd_prompts *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    if (xgd_read_file(path, &buf, &len) != 0) return -1;
    int64_t cap = 0;
    long line = 0;
    int rc = 0;
    for (char *p = buf; p < buf + len; ) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
        line++;
        char *next = nl ? nl + 1 : buf + len;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == n) { p = next; continue; }
        json_t *row = xgd_json_parse_line(p, n, path, line);
        const char *text = row ? prompt_of(row) : NULL;
        if (row && !text) xgd_fail("%s:%ld: no \"Prompt\" or \"prompt\" string in this line", path, line);
        if (!text) {
            json_decref(row);
            if (!skip_bad) { rc = -1; break; }
            xgd_warn("%s (skipped)", xgd_errmsg());
            out->skipped++;
            p = next;
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 256;
            out->text = xgd_realloc(out->text, sizeof(char *) * (size_t)cap);
            out->line = xgd_realloc(out->line, sizeof(long) * (size_t)cap);
        }
        out->text[out->n] = xgd_strdup(text);
        out->line[out->n++] = line;
        json_decref(row);
        p = next;
    }
    free(buf);
    if (rc != 0) xgd_prompts_free(out);
    return rc;
}

void xgd_prompts_free(xgd_prompts *p) {
    for (int64_t i = 0; i < p->n; i++) free(p->text[i]);
    free(p->text);
    free(p->line);
    memset(p, 0, sizeof *p);
}
