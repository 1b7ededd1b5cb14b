/* JSON Lines input, one reader for every JSONL file the pipeline reads (prompts, DPO pairs,
 * generations, scores): streamed line by line (getline), "\r\n" endings accepted, every error
 * naming path:line. A malformed line is reported (-1) and then passed, so a caller that skips bad
 * lines (with a warning) just calls next again; a read error (-2) ends the file for good. */
#ifndef XGD_BASE_JSONL_H
#define XGD_BASE_JSONL_H
#include <jansson.h>
#include <stdio.h>

enum {
    /* Blank (white-space only) lines are passed over. Without it a blank line is an error, as in
     * the seed scripts' json.loads: a gap would shift every following record's position. */
    XGD_JSONL_SKIP_BLANK = 1,
};

typedef struct {
    FILE *fp;
    const char *path;
    char *buf;
    size_t cap;
    long line;     /* number of the line last returned (1-based) */
    int flags;
} xgd_jsonl;

int xgd_jsonl_open(xgd_jsonl *r, const char *path, int flags);
/* The next line's text, without its line ending: 1 with *text, *len (valid until the next call),
 * 0 at the end, -1 on a blank line (unless skipped), -2 on a read error. */
int xgd_jsonl_next_line(xgd_jsonl *r, const char **text, size_t *len);
/* The next line's object (new reference): 1, 0 at the end, -1 on a bad line (blank, invalid
 * JSON, or not an object), -2 on a read error. */
int xgd_jsonl_next(xgd_jsonl *r, json_t **obj);
void xgd_jsonl_close(xgd_jsonl *r);

#endif
