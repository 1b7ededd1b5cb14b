#include "train/dpo_data.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/jsonl.h"
#include "base/log.h"
#include "base/rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t code_points(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int read_file(const char *path, int max_chars, int skip_bad, xgd_dpo_set *out, int64_t *cap) {
    xgd_jsonl r;
    if (xgd_jsonl_open(&r, path, XGD_JSONL_SKIP_BLANK) != 0) return -1;
    int rc = 0;
    json_t *row;
    for (int got; (got = xgd_jsonl_next(&r, &row)) != 0;) {
        const char *pr = NULL, *ch = NULL, *rj = NULL;
        if (got > 0) {
            pr = json_string_value(json_object_get(row, "prompt_text"));
            ch = json_string_value(json_object_get(row, "unpert_gen_text"));
            rj = json_string_value(json_object_get(row, "pert_gen_text"));
            if (!pr && !ch && !rj) {
                pr = json_string_value(json_object_get(row, "prompt"));
                ch = json_string_value(json_object_get(row, "chosen"));
                rj = json_string_value(json_object_get(row, "rejected"));
            }
            if (!pr || !ch || !rj)
                xgd_fail("%s:%ld: expected string fields prompt_text/unpert_gen_text/pert_gen_text or prompt/chosen/rejected", path, r.line);
        }
        if (!pr || !ch || !rj) {
            json_decref(row);
            if (!skip_bad || got == -2) { rc = -1; break; }
            xgd_warn("%s (skipped)", xgd_errmsg());
            continue;
        }
        out->read++;
        size_t lp = code_points(pr);
        if (max_chars > 0 && (lp + code_points(ch) > (size_t)max_chars || lp + code_points(rj) > (size_t)max_chars)) {
            out->filtered++;
        } else {
            if (out->n == *cap) out->rows = xgd_realloc(out->rows, sizeof(xgd_dpo_pair) * (size_t)(*cap = *cap ? 2 * *cap : 1024));
            out->rows[out->n++] = (xgd_dpo_pair){xgd_strdup(pr), xgd_strdup(ch), xgd_strdup(rj), xgd_strdup(path), r.line};
        }
        json_decref(row);
    }
    xgd_jsonl_close(&r);
    return rc;
}

int xgd_dpo_read(const char *dir, int max_chars, int skip_bad, xgd_dpo_set *out) {
    memset(out, 0, sizeof *out);
    int64_t cap = 0;
    if (xgd_is_file(dir)) return read_file(dir, max_chars, skip_bad, out, &cap);
    static const char *const sfx[] = {".jsonl", NULL};
    char **files;
    size_t nf;
    if (xgd_list_files(dir, sfx, &files, &nf) != 0) return -1;
    int rc = nf ? 0 : xgd_fail("%s: no *.jsonl files", dir);
    for (size_t i = 0; i < nf && rc == 0; i++) rc = read_file(files[i], max_chars, skip_bad, out, &cap);
    xgd_free_files(files, nf);
    if (rc == 0 && out->n == 0) rc = xgd_fail("%s: no usable preference pairs (%lld read, %lld dropped by the length filter)",
                                              dir, (long long)out->read, (long long)out->filtered);
    if (rc != 0) xgd_dpo_set_free(out);
    return rc;
}

void xgd_dpo_set_free(xgd_dpo_set *s) {
    for (int64_t i = 0; i < s->n; i++) {
        free(s->rows[i].prompt); free(s->rows[i].chosen); free(s->rows[i].rejected); free(s->rows[i].file);
    }
    free(s->rows);
    memset(s, 0, sizeof *s);
}

void xgd_dpo_split(const xgd_dpo_set *s, double frac, uint64_t seed, xgd_dpo_set *train, xgd_dpo_set *eval) {
    int64_t n = s->n, ne = (int64_t)ceil(frac * (double)n);
    if (ne >= n) ne = n > 1 ? 1 : 0;
    int64_t *perm = xgd_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    xgd_rng r;
    xgd_rng_init(&r, seed, 0x5eed5);
    for (int64_t i = n - 1; i > 0; i--) { int64_t j = (int64_t)xgd_rng_below(&r, (uint64_t)i + 1), t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    eval->rows = xgd_malloc(sizeof(xgd_dpo_pair) * (size_t)(ne ? ne : 1));
    train->rows = xgd_malloc(sizeof(xgd_dpo_pair) * (size_t)(n - ne ? n - ne : 1));
    for (int64_t i = 0; i < n; i++) {
        if (i < ne) eval->rows[eval->n++] = s->rows[perm[i]];
        else train->rows[train->n++] = s->rows[perm[i]];
    }
    free(perm);
}

/* tok(text, add_special_tokens=False).input_ids */
static int enc(const xgd_tokenizer *t, const char *text, xgd_encoding *e) { return xgd_encode(t, text, strlen(text), 0, e); }

typedef struct { int32_t *prompt, *answer; int np, na; } split_ids;

/* TRL build_tokenized_answer: tokenise prompt+answer jointly; the prompt part is the joint
 * tokens up to len(tok(prompt)), one less if the tokens merged across the join. */
static int build_answer(const xgd_tokenizer *t, const char *prompt, const char *answer, const xgd_encoding *pp, split_ids *out, const xgd_dpo_pair *row) {
    size_t lp = strlen(prompt), la = strlen(answer);
    char *joint = xgd_malloc(lp + la + 1);
    memcpy(joint, prompt, lp);
    memcpy(joint + lp, answer, la + 1);
    xgd_encoding f = {0};
    int rc = enc(t, joint, &f);
    free(joint);
    if (rc != 0) return xgd_err_context("%s:%ld", row->file, row->line);
    if (pp->n > f.n) { xgd_encoding_free(&f); return xgd_fail("%s:%ld: the prompt has more tokens alone than joined with its answer", row->file, row->line); }
    int start = (int)pp->n;
    if (memcmp(pp->ids, f.ids, sizeof(int32_t) * (size_t)start) != 0) start--;
    out->np = start;
    out->na = (int)f.n - start;
    out->prompt = xgd_malloc(sizeof(int32_t) * (size_t)(out->np + 1));
    out->answer = xgd_malloc(sizeof(int32_t) * (size_t)(out->na + 2));
    memcpy(out->prompt, f.ids, sizeof(int32_t) * (size_t)out->np);
    memcpy(out->answer, f.ids + start, sizeof(int32_t) * (size_t)out->na);
    xgd_encoding_free(&f);
    return 0;
}

/* keep_end keeps the last max_prompt_length prompt tokens, keep_start the first. */
static void cut_prompt(int32_t *ids, int *n, const xgd_dpo_tok_opts *o) {
    if (*n <= o->max_prompt_length) return;
    if (!o->keep_start) memmove(ids, ids + (*n - o->max_prompt_length), sizeof(int32_t) * (size_t)o->max_prompt_length);
    *n = o->max_prompt_length;
}

static void sequence(const split_ids *s, int32_t **ids, int32_t **labels, int *len) {
    *len = s->np + s->na;
    *ids = xgd_malloc(sizeof(int32_t) * (size_t)(*len ? *len : 1));
    *labels = xgd_malloc(sizeof(int32_t) * (size_t)(*len ? *len : 1));
    memcpy(*ids, s->prompt, sizeof(int32_t) * (size_t)s->np);
    memcpy(*ids + s->np, s->answer, sizeof(int32_t) * (size_t)s->na);
    for (int i = 0; i < *len; i++) (*labels)[i] = i < s->np ? -100 : (*ids)[i];
}

int xgd_dpo_tokenize(const xgd_tokenizer *t, const xgd_dpo_pair *row, const xgd_dpo_tok_opts *o, xgd_dpo_tok *out) {
    memset(out, 0, sizeof *out);
    if (o->bos < 0) return xgd_fail("DPO needs a BOS token (TRL prepends one to every prompt); the tokenizer has none");
    if (o->eos < 0) return xgd_fail("DPO needs an EOS token; the tokenizer has none");
    xgd_encoding pp = {0};
    if (enc(t, row->prompt, &pp) != 0) return xgd_err_context("%s:%ld", row->file, row->line);
    split_ids c = {0}, r = {0};
    int rc = build_answer(t, row->prompt, row->chosen, &pp, &c, row);
    if (rc == 0) rc = build_answer(t, row->prompt, row->rejected, &pp, &r, row);
    if (rc == 0) {
        /* TRL's consistency check between the two prompt tokenisations */
        int tokens = 0, nmin = c.np < r.np ? c.np : r.np;
        for (int i = 0; i < nmin; i++) tokens += c.prompt[i] != r.prompt[i];
        if (tokens > 1 || abs(c.np - r.np) > 1)
            rc = xgd_fail("%s:%ld: chosen and rejected tokenise the prompt differently (more than one token)", row->file, row->line);
    }
    if (rc == 0) {
        /* BOS before each prompt, EOS after each answer */
        split_ids *both[2] = {&c, &r};
        for (int k = 0; k < 2; k++) {
            memmove(both[k]->prompt + 1, both[k]->prompt, sizeof(int32_t) * (size_t)both[k]->np);
            both[k]->prompt[0] = o->bos;
            both[k]->np++;
            both[k]->answer[both[k]->na++] = o->eos;
        }
        int R = c.na > r.na ? c.na : r.na;
        for (int k = 0; k < 2; k++)
            if (both[k]->np + R > o->max_length) cut_prompt(both[k]->prompt, &both[k]->np, o);
        for (int k = 0; k < 2; k++)
            if (both[k]->np + R > o->max_length && both[k]->na > o->max_length - o->max_prompt_length)
                both[k]->na = o->max_length - o->max_prompt_length;
        sequence(&c, &out->c_ids, &out->c_labels, &out->c_len);
        sequence(&r, &out->r_ids, &out->r_labels, &out->r_len);
        out->prompt_len = c.np;
    }
    free(c.prompt); free(c.answer); free(r.prompt); free(r.answer);
    xgd_encoding_free(&pp);
    return rc;
}

void xgd_dpo_tok_free(xgd_dpo_tok *x) {
    free(x->c_ids); free(x->c_labels); free(x->r_ids); free(x->r_labels);
    memset(x, 0, sizeof *x);
}
