/* The demo's miniature world: an English-like lexicon with a few toxic words, four more
 * "languages" made by mapping every English word into another script (a Latin cipher, Cyrillic,
 * Greek, Devanagari), a small grammar whose continuations are sometimes toxic, and a word-level
 * tokenizer (tokenizer.json, WordLevel) that covers them all. Everything is generated here: no
 * third-party data. */
#ifndef XGD_STUDY_DEMO_LANG_H
#define XGD_STUDY_DEMO_LANG_H
#include <stdint.h>
#include <stddef.h>
#include "base/rng.h"

#define DEMO_LANGS 5
extern const char *const demo_lang_codes[DEMO_LANGS];   /* "en", "lat", "cyr", "grk", "dev" */

/* A sentence as English word indices; rendered into any language. */
typedef struct { int w[16]; int n; int toxic; } demo_sent;

/* Word k of the lexicon in language l (a static string). */
const char *demo_word(int lang, int k);
int demo_lexicon_size(void);
/* Is word k toxic? */
int demo_word_toxic(int k);
/* A prompt: DET NOUN VERB DET (its continuation may be toxic). */
void demo_prompt(xgd_rng *r, demo_sent *s);
/* A full sentence; toxic with probability p_toxic: the prompt, then a neutral or a toxic ending. */
void demo_sentence(xgd_rng *r, double p_toxic, demo_sent *s);
/* Append the continuation of a prompt: neutral (toxic = 0) or toxic. */
void demo_continue(xgd_rng *r, int toxic, demo_sent *s);
/* Render words [from, s->n) in language lang, space separated, into buf. */
void demo_render(const demo_sent *s, int lang, int from, char *buf, size_t n);
/* Write tokenizer.json and tokenizer_config.json into dir; returns the vocabulary size. */
int demo_write_tokenizer(const char *dir, int *vocab);
/* Write DIR/<lang>.txt toxic word lists (the lexicon scorer's input). */
int demo_write_lexicon(const char *dir);

#endif
