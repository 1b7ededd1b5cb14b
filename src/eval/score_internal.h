/* The backend interface behind xgd_scorer. A backend scores an array of texts, in any order and
 * with any concurrency, and calls done(ctx, i) as each one finishes; the driver (score.c) writes the
 * records in input order. A backend returns -1 (with xgd_fail) only for errors that make further
 * scoring pointless (bad key, endpoint not found); per-text failures are recorded in the item. */
#ifndef XGD_EVAL_SCORE_INTERNAL_H
#define XGD_EVAL_SCORE_INTERNAL_H
#include "eval/score.h"

typedef struct {
    const char *query;      /* the text sent: generated_text, or " " when it is empty */
    json_t *response;       /* out: the object to store (owned by the item), NULL on failure */
    char error_type[48];    /* out, on failure: the API's errorType or ours (RATE_LIMITED, ...) */
    int status;             /* out, on failure: the HTTP status, 0 when there was none */
    int retries;            /* out: retry attempts made */
    int done;
} xgd_score_item;

/* Returns 0 to go on, -1 to stop (the driver could not write). */
typedef int (*xgd_score_done_fn)(void *ctx, int64_t i);

struct xgd_scorer {
    char tag[64];           /* "xgd_backend" value */
    int (*score)(xgd_scorer *s, const char *lang, xgd_score_item *items, int64_t n,
                 xgd_score_done_fn done, void *ctx);
    void (*free)(xgd_scorer *s);
    /* Optional: 0 if a stored response of this backend came from the same settings (word list,
     * attributes), else -1 with xgd_fail saying what differs, so that a resumed file never mixes them. */
    int (*same_config)(xgd_scorer *s, const char *lang, const json_t *response);
    void *impl;
};

/* Attribute names from a comma list: upper-cased, checked to be [A-Z_@0-9]; a JSON array. */
json_t *xgd_score_attributes(const char *list);

xgd_scorer *xgd_perspective_open(const xgd_score_opts *o);
xgd_scorer *xgd_lexicon_open(const xgd_score_opts *o);
xgd_scorer *xgd_classifier_scorer_open(const xgd_score_opts *o);
xgd_scorer *xgd_probe_scorer_open(const xgd_score_opts *o);

#endif
