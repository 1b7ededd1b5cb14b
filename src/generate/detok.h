/* The text of a sample as vLLM produces it (incremental detokenization, vLLM 0.4-0.5): the
 * generated ids are decoded against a context of the prompt's last ids, and a piece of text is
 * emitted only once it no longer ends in an incomplete character (U+FFFD). Special tokens are
 * skipped, no clean-up of spaces is applied (vLLM calls convert_tokens_to_string). */
#ifndef XGD_GENERATE_DETOK_H
#define XGD_GENERATE_DETOK_H
#include <stdint.h>
#include "tokenize/tokenizer.h"

/* Returns a new NUL-terminated string, or NULL on error. */
char *xgd_detok_vllm(const xgd_tokenizer *t, const int32_t *prompt, int n_prompt, const int32_t *gen, int n_gen);

#endif
