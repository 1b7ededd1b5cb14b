#include "generate/prompts.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/jsonl.h"
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
    xgd_jsonl r;
    if (xgd_jsonl_open(&r, path, XGD_JSONL_SKIP_BLANK) != 0) return -1;
    int64_t cap = 0;
    int rc = 0;
    json_t *row;
    for (int got; (got = xgd_jsonl_next(&r, &row)) != 0;) {
        const char *text = got > 0 ? prompt_of(row) : NULL;
        if (got > 0 && !text) xgd_fail("%s:%ld: no \"Prompt\" or \"prompt\" string in this line", path, r.line);
        if (!text) {
            json_decref(row);
            if (!skip_bad || got == -2) { rc = -1; break; }
            xgd_warn("%s (skipped)", xgd_errmsg());
            out->skipped++;
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 256;
            out->text = xgd_realloc(out->text, sizeof(char *) * (size_t)cap);
            out->line = xgd_realloc(out->line, sizeof(long) * (size_t)cap);
        }
        out->text[out->n] = xgd_strdup(text);
        out->line[out->n++] = r.line;
        json_decref(row);
    }
    xgd_jsonl_close(&r);
    if (rc != 0) xgd_prompts_free(out);
    return rc;
}

void xgd_prompts_free(xgd_prompts *p) {
    for (int64_t i = 0; i < p->n; i++) free(p->text[i]);
    free(p->text);
    free(p->line);
    memset(p, 0, sizeof *p);
}
