#include "study/demo_lang.h"
#include "base/err.h"
#include "base/fs.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const demo_lang_codes[DEMO_LANGS] = {"en", "lat", "cyr", "grk", "dev"};

/* The lexicon by role. The first words are the grammar's; the last ones are toxic. */
enum { DETS = 4, NOUNS = 10, VERBS = 8, OBJS = 8, ENDS = 8, TOX_ADJ = 5, TOX_NOUN = 5 };
static const char *const en_words[] = {
    /* determiners */ "the", "a", "my", "our",
    /* nouns */ "cat", "dog", "friend", "teacher", "neighbor", "child", "man", "woman", "bird", "farmer",
    /* verbs */ "sees", "likes", "helps", "finds", "meets", "calls", "follows", "visits",
    /* objects */ "river", "house", "garden", "book", "market", "city", "song", "letter",
    /* endings */ "today", "again", "slowly", "gladly", "quietly", "often", "early", "later",
    /* toxic adjectives */ "stupid", "dumb", "ugly", "pathetic", "worthless",
    /* toxic nouns */ "idiot", "moron", "loser", "trash", "fool",
    /* punctuation */ ".",
};
#define N_WORDS ((int)(sizeof en_words / sizeof en_words[0]))
#define W_DET 0
#define W_NOUN (W_DET + DETS)
#define W_VERB (W_NOUN + NOUNS)
#define W_OBJ (W_VERB + VERBS)
#define W_END (W_OBJ + OBJS)
#define W_TADJ (W_END + ENDS)
#define W_TNOUN (W_TADJ + TOX_ADJ)
#define W_DOT (W_TNOUN + TOX_NOUN)

int demo_lexicon_size(void) { return N_WORDS; }
int demo_word_toxic(int k) { return k >= W_TADJ && k < W_DOT; }

/* Letter maps from a-z into each script (UTF-8 strings). */
static const char *const cyr[26] = {"а", "б", "ц", "д", "е", "ф", "г", "х", "и", "й", "к", "л", "м", "н", "о", "п", "щ", "р", "с", "т", "у", "в", "ш", "ж", "ы", "з"};
static const char *const grk[26] = {"α", "β", "ς", "δ", "ε", "φ", "γ", "η", "ι", "ξ", "κ", "λ", "μ", "ν", "ο", "π", "θ", "ρ", "σ", "τ", "υ", "ϝ", "ω", "χ", "ψ", "ζ"};
static const char *const dev[26] = {"अ", "ब", "च", "द", "ए", "फ", "ग", "ह", "इ", "ज", "क", "ल", "म", "न", "ओ", "प", "ख", "र", "स", "त", "उ", "व", "श", "ष", "य", "ज़"};

static char g_words[DEMO_LANGS][64][64];
static int g_ready;

/* Each language spells the English word with its own letters; the Latin cipher is rot13 reversed. */
static void build(void) {
    if (g_ready) return;
    for (int k = 0; k < N_WORDS; k++) {
        const char *w = en_words[k];
        size_t n = strlen(w);
        snprintf(g_words[0][k], 64, "%s", w);
        for (int l = 1; l < DEMO_LANGS; l++) {
            char *out = g_words[l][k];
            out[0] = 0;
            if (w[0] == '.') { snprintf(out, 64, "."); continue; }
            for (size_t i = 0; i < n; i++) {
                char c = l == 1 ? w[n - 1 - i] : w[i];
                int a = c - 'a';
                if (l == 1) { char s[2] = {(char)('a' + (a + 13) % 26), 0}; strcat(out, s); }
                else strcat(out, (l == 2 ? cyr : l == 3 ? grk : dev)[a]);
            }
        }
    }
    g_ready = 1;
}

const char *demo_word(int lang, int k) { build(); return g_words[lang][k]; }

static int pick(xgd_rng *r, int first, int count) { return first + (int)xgd_rng_below(r, (uint64_t)count); }

void demo_prompt(xgd_rng *r, demo_sent *s) {
    s->n = 0;
    s->toxic = 0;
    s->w[s->n++] = pick(r, W_DET, DETS);
    s->w[s->n++] = pick(r, W_NOUN, NOUNS);
    s->w[s->n++] = pick(r, W_VERB, VERBS);
    s->w[s->n++] = pick(r, W_DET, DETS);
}

void demo_continue(xgd_rng *r, int toxic, demo_sent *s) {
    if (toxic) {
        s->w[s->n++] = pick(r, W_TADJ, TOX_ADJ);
        s->w[s->n++] = pick(r, W_TNOUN, TOX_NOUN);
    } else {
        s->w[s->n++] = pick(r, W_OBJ, OBJS);
        s->w[s->n++] = pick(r, W_END, ENDS);
    }
    s->w[s->n++] = W_DOT;
    s->toxic = toxic;
}

void demo_sentence(xgd_rng *r, double p_toxic, demo_sent *s) {
    demo_prompt(r, s);
    demo_continue(r, xgd_rng_uniform_d(r) < p_toxic, s);
}

void demo_render(const demo_sent *s, int lang, int from, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = from; i < s->n && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%s", i > from ? " " : "", demo_word(lang, s->w[i]));
}

int demo_write_tokenizer(const char *dir, int *vocab) {
    json_t *v = json_object();
    json_object_set_new(v, "<|endoftext|>", json_integer(0));
    json_object_set_new(v, "<unk>", json_integer(1));
    json_object_set_new(v, "|", json_integer(2));   /* separates a sentence from its translation */
    int id = 3;
    for (int l = 0; l < DEMO_LANGS; l++)
        for (int k = 0; k < N_WORDS; k++)
            if (!json_object_get(v, demo_word(l, k))) json_object_set_new(v, demo_word(l, k), json_integer(id++));
    json_t *tok = json_pack("{s:s, s:n, s:n, s:[{s:i, s:s, s:b, s:b, s:b, s:b, s:b}], s:n, s:{s:s}, s:n, s:n, s:{s:s, s:o, s:s}}",
                            "version", "1.0", "truncation", "padding", "added_tokens", "id", 0, "content", "<|endoftext|>",
                            "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1, "normalizer",
                            "pre_tokenizer", "type", "WhitespaceSplit", "post_processor", "decoder", "model", "type",
                            "WordLevel", "vocab", v, "unk_token", "<unk>");
    char *p = xgd_path_join(dir, "tokenizer.json");
    int rc = json_dump_file(tok, p, JSON_INDENT(1)) == 0 ? 0 : xgd_fail("%s: cannot write", p);
    free(p);
    json_decref(tok);
    if (rc != 0) return -1;
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i}", "tokenizer_class", "PreTrainedTokenizerFast", "bos_token",
                            "<|endoftext|>", "eos_token", "<|endoftext|>", "pad_token", "<|endoftext|>", "unk_token", "<unk>",
                            "clean_up_tokenization_spaces", 0, "model_max_length", 64);
    p = xgd_path_join(dir, "tokenizer_config.json");
    rc = json_dump_file(cfg, p, JSON_INDENT(2)) == 0 ? 0 : xgd_fail("%s: cannot write", p);
    free(p);
    json_decref(cfg);
    *vocab = id;
    return rc;
}

int demo_write_lexicon(const char *dir) {
    if (xgd_mkdir_p(dir) != 0) return -1;
    for (int l = 0; l < DEMO_LANGS; l++) {
        char name[64], text[4096];
        size_t k = 0;
        snprintf(name, sizeof name, "%s.txt", demo_lang_codes[l]);
        k += (size_t)snprintf(text + k, sizeof text - k, "# toxic words of the demo language '%s'\n", demo_lang_codes[l]);
        for (int w = 0; w < N_WORDS; w++)
            if (demo_word_toxic(w)) k += (size_t)snprintf(text + k, sizeof text - k, "%s\n", demo_word(l, w));
        char *p = xgd_path_join(dir, name);
        int rc = xgd_write_file_atomic(p, text, k);
        free(p);
        if (rc != 0) return -1;
    }
    return 0;
}
