/* Shared by the metrics' file readers. Internal to src/eval. */
#ifndef XGD_EVAL_METRICS_INTERNAL_H
#define XGD_EVAL_METRICS_INTERNAL_H
#include <jansson.h>
#include <stdio.h>

/* A JSONL file read one object per line; errors name path:line. */
typedef struct {
    FILE *fp;
    const char *path;
    char *buf;
    size_t cap;
    long line;
} xgd_jsonl;

int xgd_jsonl_open(xgd_jsonl *r, const char *path);
/* The next line's object (new reference): 1, 0 at the end, -1 on error (a blank line, invalid
 * JSON, or not an object). */
int xgd_jsonl_next(xgd_jsonl *r, json_t **obj);
void xgd_jsonl_close(xgd_jsonl *r);

#endif
