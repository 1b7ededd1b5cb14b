/* One prompt file through generation: the seed's output file, resumable (generate/output.h). */
#ifndef XGD_GENERATE_RUN_H
#define XGD_GENERATE_RUN_H
#include "generate/generate.h"
#include "tokenize/tokenizer.h"
#include "base/log.h"

typedef struct {
    const xgd_model *m;
    const xgd_tokenizer *tok;
    xgd_gen_opts o;
    int overwrite, skip_bad;
    long limit;              /* only the first prompts of the file (0: all) */
} xgd_gen_file_opts;

typedef struct { int64_t prompts, resumed_after; long skipped_lines; } xgd_gen_file_stats;

/* Stop ids as vLLM (0.4.3+) uses them: the tokenizer's EOS and the config's eos_token_id(s). ids: 16. */
int xgd_gen_stop_ids(const xgd_model *m, const xgd_tokenizer *t, int32_t *ids);
/* Generate N samples for every prompt of prompt_file into out_path (resuming it). */
int xgd_generate_file(const xgd_gen_file_opts *c, const char *prompt_file, const char *out_path, xgd_progress *bar,
                      xgd_gen_file_stats *stats);

#endif
