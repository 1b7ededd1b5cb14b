/* Toxicity scoring of generation files, the seed pipeline's perspective_api_eval step, with
 * pluggable backends: the Perspective API (remote, rate-limited) and a word-list lexicon (offline).
 *
 * Input: the generation file of §4.1, one {"prompt": P, "generated_text": T} per line.
 * Output: one line per input line, in input order, as Python's json.dumps writes
 *   {"query": T or " ", "response": <backend's JSON object>, "prompt": P}
 * and, when a text could not be scored,
 *   {"query": ..., "response": null, "prompt": ..., "error": {"errorType": E, "status": S}}.
 * The response object carries "xgd_backend" (e.g. "perspective", "lexicon/1"), so every score says
 * which scorer made it. The file is appended in order and fsync'ed in batches: after a crash, a
 * rerun cuts a torn last line, checks that the records present belong to the input (same query and
 * prompt, same backend), and scores only the rest, so each input line gets exactly one record.
 *
 * Library use (the study orchestration):
 *   xgd_score_opts o; xgd_score_opts_default(&o); o.backend = "lexicon"; o.lexicon = "lists/";
 *   xgd_scorer *s = xgd_scorer_open(&o);
 *   char *out = xgd_score_output_path(folder, gen_file);
 *   xgd_score_stats st; xgd_score_file(s, gen_file, out, NULL, &run, &st); ... xgd_score_stats_free(&st);
 */
#ifndef XGD_EVAL_SCORE_H
#define XGD_EVAL_SCORE_H
#include <jansson.h>
#include <stdint.h>
#include "base/log.h"

typedef struct {
    const char *backend;     /* "perspective", "lexicon", "classifier" or "probe" */
    const char *attributes;  /* comma-separated attribute names; default "TOXICITY" */
    /* perspective */
    const char *api_key;     /* never printed, logged or written */
    const char *endpoint;    /* default: Google's comments:analyze URL */
    double qps;              /* requests per second granted (token bucket, burst 1); may be fractional */
    int concurrency;         /* requests in flight at most; 0 = from qps */
    int max_retries;         /* per text, on 429, 5xx, timeouts, connection errors, malformed bodies */
    double timeout_s;        /* per request */
    double backoff_s, max_backoff_s; /* first retry delay (doubled per retry, jittered), its cap */
    int store;               /* 0: send doNotStore=true (default) */
    int key_in_query;        /* send the key as ?key= (as the seed) instead of the x-goog-api-key header */
    /* lexicon */
    const char *lexicon;     /* a folder of <lang>.txt / <lang>.json lists, or one list for every language */
    /* classifier / probe */
    const char *model;       /* classifier: a sequence-classification checkpoint (XLM-R family); probe: the LM */
    const char *probe;       /* probe: the probe's weights (.npy from xgd probe, or the seed's .pt) */
} xgd_score_opts;

void xgd_score_opts_default(xgd_score_opts *o);

typedef struct xgd_scorer xgd_scorer;
/* Open a scorer; NULL with xgd_errmsg() on a bad option or unreadable list. */
xgd_scorer *xgd_scorer_open(const xgd_score_opts *o);
void xgd_scorer_free(xgd_scorer *s);
/* The "xgd_backend" value this scorer writes, e.g. "lexicon/1". */
const char *xgd_scorer_tag(const xgd_scorer *s);

typedef struct {
    const char *language;    /* NULL: from the file name (stem's last "_" part), as metrics does */
    int skip_bad_lines;      /* skip malformed input lines with a warning instead of failing */
    int overwrite;           /* discard an existing output instead of resuming it */
    int retry_failed;        /* score again the records that failed after all retries (not the API's 400s);
                              * the file is rewritten atomically once they are done */
    xgd_progress *bar;       /* optional */
} xgd_score_run;

typedef struct {
    int64_t records;         /* input lines to score (after skipped ones) */
    int64_t resumed;         /* records already in the output file */
    int64_t scored, failed;  /* in this run */
    int64_t retried;         /* retry attempts in this run */
    int64_t failed_in_file;  /* failure records in the whole file after this run */
    int64_t rescored;        /* failure records scored again (retry_failed) */
    long skipped_lines;
    json_t *failed_by_type;  /* {"COMMENT_EMPTY": 3, ...} for this run */
    char language[32];       /* as sent */
} xgd_score_stats;
void xgd_score_stats_free(xgd_score_stats *st);

/* Score datapath into out_path (resuming it). Returns 0, or -1 with xgd_errmsg() naming file:line
 * for bad input, or the cause of a fatal backend error (bad key, endpoint missing); what was
 * scored before the error stays in the file. */
int xgd_score_file(xgd_scorer *s, const char *datapath, const char *out_path, const xgd_score_run *run,
                   xgd_score_stats *st);

/* "<folder>/perspective_api_eval-<datapath stem>.json", the seed's name (for every backend, so that
 * the toxicity metric reads the folder unchanged). */
char *xgd_score_output_path(const char *folder, const char *datapath);

/* The language as the seed sends it: lower case, "zh-hans" -> "zh". out needs 32 bytes. */
int xgd_score_language(const char *lang, char out[32]);
/* The language from a generation file name: the stem's last "_"-separated part. out: 32 bytes. */
int xgd_score_language_of(const char *datapath, char out[32]);

#endif
