/* Prompt files: JSON Lines with a "Prompt" field (RTP-LX, the parallel prompts; RTP-LX files are
 * JSON Lines despite their .json name) or "prompt" (plain JSONL); a {"text": ...} object as the
 * value is accepted too (the original RealToxicityPrompts layout). */
#ifndef XGD_GENERATE_PROMPTS_H
#define XGD_GENERATE_PROMPTS_H
#include <stdint.h>

typedef struct {
    char **text;
    int64_t n;
    long *line;           /* 1-based line of each prompt in the file */
    long skipped;         /* malformed lines skipped (only with skip_bad) */
} xgd_prompts;

/* Read every prompt of path. A malformed line (invalid JSON, no prompt field, not a string) is an
 * error naming path:line, or with skip_bad a warning and the line is skipped. Blank lines are
 * ignored. */
int xgd_prompts_read(const char *path, int skip_bad, xgd_prompts *out);
void xgd_prompts_free(xgd_prompts *p);

#endif
