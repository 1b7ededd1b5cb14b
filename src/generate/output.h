/* The seed pipeline's generation file, written so that an interrupted run resumes without losing
 * or duplicating a line: N lines {"prompt": ..., "generated_text": ...} per prompt, prompts in
 * input order, each prompt's group appended and fsync'ed whole. On reopening, a torn last line or
 * an incomplete group is cut off, and the prompts already present are checked against the input. */
#ifndef XGD_GENERATE_OUTPUT_H
#define XGD_GENERATE_OUTPUT_H
#include <stdint.h>
#include <stdio.h>
#include "generate/prompts.h"

typedef struct {
    FILE *fp;
    char *path;
    int N;
    int64_t done;   /* prompts already complete in the file */
} xgd_gen_file;

/* Open (or create) path for prompts p with N samples each; overwrite discards what is there. */
int xgd_gen_file_open(xgd_gen_file *f, const char *path, int N, const xgd_prompts *p, int overwrite);
/* Append one prompt's N samples and make them durable. */
int xgd_gen_file_append(xgd_gen_file *f, const char *prompt, char *const *texts);
int xgd_gen_file_close(xgd_gen_file *f);

/* "<output_dir>/<model name>/output-<prompt file stem, lower case>.json", the seed's naming:
 * model name = the last path component, or "<parent>_<last>" when the last contains "checkpoint". */
char *xgd_gen_output_path(const char *output_dir, const char *model, const char *prompt_file);

#endif
