/* Fast reading of model.vocab and model.merges from tokenizer.json text (load_json_fast.c). */
#ifndef XGD_TOKENIZE_LOAD_JSON_FAST_H
#define XGD_TOKENIZE_LOAD_JSON_FAST_H
#include <stddef.h>
#include "tokenize/tk.h"

typedef struct { const char *vocab, *vocab_end, *merges, *merges_end; } tk_fast_spans;

/* Locate model.vocab (an object) and model.merges (an array) in the text; 1 if either is found. */
int tk_fast_find(const char *text, size_t len, tk_fast_spans *s);
/* Fill the model's vocabulary / merges from the spans (same checks and messages as the jansson path). */
int tk_fast_vocab(tk_model *m, const tk_fast_spans *s);
int tk_fast_merges(tk_model *m, const tk_fast_spans *s);

#endif
