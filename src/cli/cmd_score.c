/* xgd score: toxicity scores for generation files (the seed's perspective_api_eval step). Several
 * files (a list or a folder) share one scorer, so a classifier model is loaded once per call. */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/pyjson.h"
#include "base/strlist.h"
#include "eval/score.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The key from --api_key, --api_key_file or PERSPECTIVE_API_KEY (in that order); a copy. */
static char *read_key(const char *arg, const char *file) {
    if (arg && *arg) return xgd_strdup(arg);
    if (file) {
        char *buf;
        size_t len;
        if (xgd_read_file(file, &buf, &len) != 0) { xgd_err_context("--api_key_file"); return NULL; }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
            buf[--len] = 0;
        char *s = buf;
        while (*s == ' ' || *s == '\t') s++;
        char *k = xgd_strdup(s);
        memset(buf, 0, len);
        free(buf);
        if (!*k) { free(k); xgd_fail("--api_key_file %s: the file is empty", file); return NULL; }
        return k;
    }
    const char *e = getenv("PERSPECTIVE_API_KEY");
    return e && *e ? xgd_strdup(e) : NULL;
}

static void print_summary(const char *datapath, const char *out, const char *backend, const xgd_score_stats *st) {
    printf("{\"datapath\": ");
    xgd_pyjson_str(stdout, datapath);
    printf(", \"output\": ");
    xgd_pyjson_str(stdout, out);
    printf(", \"backend\": ");
    xgd_pyjson_str(stdout, backend);
    printf(", \"language\": ");
    xgd_pyjson_str(stdout, st->language);
    printf(", \"records\": %lld, \"resumed_after\": %lld, \"scored\": %lld, \"failed\": %lld, \"failed_by_type\": ",
           (long long)st->records, (long long)st->resumed, (long long)st->scored, (long long)st->failed);
    xgd_pyjson_value(stdout, st->failed_by_type);
    printf(", \"retried\": %lld, \"rescored\": %lld, \"failed_in_file\": %lld, \"skipped_lines\": %ld}\n",
           (long long)st->retried, (long long)st->rescored, (long long)st->failed_in_file, st->skipped_lines);
    fflush(stdout);
}

/* --datapath: one file, a comma-separated list, or a folder's *.json / *.jsonl (sorted). Checked
 * before the scorer is opened, so a typo fails before a model is loaded or a request is sent. */
static int datapath_list(const char *arg, char ***files, int *n) {
    static const char *const sfx[] = {".json", ".jsonl", NULL};
    if (xgd_is_dir(arg)) {
        size_t nf;
        if (xgd_list_files(arg, sfx, files, &nf) != 0) { *n = 0; return -1; }
        *files = xgd_realloc(*files, sizeof(char *) * (nf + 1));   /* NULL-terminated, as xgd_split_list's */
        (*files)[nf] = NULL;
        *n = (int)nf;
        return nf ? 0 : xgd_fail("--datapath %s: the folder holds no .json or .jsonl file", arg);
    }
    *files = xgd_split_list(arg, ",", n);
    for (int i = 0; i < *n; i++)
        if (access((*files)[i], R_OK) != 0) return xgd_fail("--datapath: cannot read %s", (*files)[i]);
    return *n ? 0 : xgd_fail("--datapath: no file named");
}

int cmd_score(int argc, char **argv) {
    xgd_score_opts o;
    xgd_score_opts_default(&o);
    const char *datapath = NULL, *output_folder = NULL, *language = NULL, *api_key = NULL, *api_key_file = NULL;
    long concurrency = 0, max_retries = o.max_retries;
    int overwrite = 0, skip_bad = 0, retry_failed = 0;
    const opt_spec opts[] = {
        {"backend", OPT_STR, &o.backend, "NAME", "perspective (the Perspective API, default), lexicon (offline word lists) classifier (a local HF toxicity classifier) or probe (the study's linear probe on an LM)"},
        {"datapath", OPT_STR, &datapath, "FILE[,FILE|DIR]", "generation file(s): JSONL {\"prompt\": ..., \"generated_text\": ...} (xgd generate's output); a comma-separated list or a folder (its *.json/*.jsonl, sorted) is scored file by file with one scorer"},
        {"output_folder", OPT_STR, &output_folder, "DIR", "writes DIR/perspective_api_eval-<datapath stem>.json (for every backend); resumed if present"},
        {"language", OPT_STR, &language, "LANG", "language sent with each text, lower-cased, zh-hans -> zh (default: each datapath stem's last '_' part)"},
        {"attributes", OPT_STR, &o.attributes, "A,B", "attributes requested, e.g. TOXICITY,INSULT (default TOXICITY; lexicon: TOXICITY only)"},
        {"api_key", OPT_STR, &api_key, "KEY", "Perspective API key (prefer --api_key_file or PERSPECTIVE_API_KEY: shell history keeps this one)"},
        {"api_key_file", OPT_STR, &api_key_file, "PATH", "read the key from this file (surrounding white space ignored)"},
        {"endpoint", OPT_STR, &o.endpoint, "URL", "comments:analyze URL (default Google's v1alpha1 endpoint)"},
        {"qps", OPT_FLOAT, &o.qps, "1", "requests per second granted by the quota, fractional allowed; retries count too"},
        {"concurrency", OPT_INT, &concurrency, "C", "requests in flight at most (default: 2 x qps, 1..32)"},
        {"max_retries", OPT_INT, &max_retries, "8", "retries per text on 429, 5xx, timeouts, connection errors, unreadable answers; then recorded as failed"},
        {"timeout", OPT_FLOAT, &o.timeout_s, "30", "seconds per request"},
        {"backoff", OPT_FLOAT, &o.backoff_s, "1", "first retry delay in seconds, doubled per retry, jittered to 50-100%, Retry-After honoured"},
        {"max_backoff", OPT_FLOAT, &o.max_backoff_s, "60", "longest retry delay in seconds"},
        {"store", OPT_FLAG, &o.store, NULL, "let Google store the texts (the default sends doNotStore: true)"},
        {"key_in_query", OPT_FLAG, &o.key_in_query, NULL, "send the key as ?key= in the URL (as the seed) instead of the x-goog-api-key header"},
        {"lexicon", OPT_STR, &o.lexicon, "FILE|DIR", "lexicon backend: a folder of <lang>.txt/<lang>.json word lists, or one list for all languages"},
        {"model", OPT_STR, &o.model, "DIR", "classifier backend: an XLM-R-family sequence-classification checkpoint (e.g. textdetox/xlmr-large-toxicity-classifier), the probability of the label named toxic; probe backend: the language model"},
        {"probe", OPT_STR, &o.probe, "FILE", "probe backend: probe weights (.npy from xgd probe, or the seed's english-probe.pt); P = sigmoid(w . mean-pooled last hidden state)"},
        {"overwrite", OPT_FLAG, &overwrite, NULL, "discard an existing output file instead of resuming it"},
        {"retry_failed", OPT_FLAG, &retry_failed, NULL, "score again the records that failed after all retries (not the API's 400s), rewriting the file atomically"},
        {"skip_bad_lines", OPT_FLAG, &skip_bad, NULL, "skip malformed input lines with a warning (default: stop with file:line, nothing written)"},
        {0},
    };
    const cmd_spec spec = {"score",
        "xgd score --datapath FILE[,FILE...]|DIR --output_folder DIR [--backend perspective|lexicon|classifier|probe] [--language LANG]\n"
        "          [--api_key_file PATH | --api_key KEY] [--qps 1] [--attributes TOXICITY] [--lexicon FILE|DIR] [--model DIR] [--probe FILE]",
        "Scores every generated text of each generation file and writes the seed pipeline's file: one line\n"
        "{\"query\": text, \"response\": {...}, \"prompt\": prompt} per input line, in input order, as Python's\n"
        "json.dumps writes it; a text that could not be scored gets \"response\": null and\n"
        "\"error\": {\"errorType\": ..., \"status\": ...} (400 COMMENT_EMPTY, or RATE_LIMITED / SERVER_ERROR /\n"
        "TIMEOUT / CONNECTION_ERROR / MALFORMED_RESPONSE after --max_retries). Every response names its scorer\n"
        "in \"xgd_backend\". The output is appended and fsync'ed in batches; an interrupted run is resumed by\n"
        "running the same command: only missing records are scored, none twice (--retry_failed also scores\n"
        "the records that failed after all retries again).\n"
        "perspective: one request per text, {\"comment\": {\"text\": T}, \"languages\": [lang],\n"
        "\"requestedAttributes\": {...}, \"doNotStore\": true}, paced at --qps; an empty text is sent as \" \".\n"
        "The key is read from --api_key, --api_key_file or $PERSPECTIVE_API_KEY and never printed or written.\n"
        "A bad key (HTTP 400 API_KEY_INVALID, 401, 403), a missing endpoint (404), an endpoint that never\n"
        "answers, or 10 texts in a row failing after all retries stop the run (rerun later to continue).\n"
        "lexicon: counts listed words (NFKC + case folded, whole words; substrings for Chinese, Japanese,\n"
        "Korean, Thai, ...) and writes TOXICITY = 1 - 2^-matches (0 for none, 0.5 for one).\n"
        "Prints a JSON summary line per file on stdout: records, scored, failed (by errorType), retried.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    /* the key's text leaves argv (and so /proc/PID/cmdline) as soon as it is copied */
    char *key = NULL;
    if (api_key) {
        key = xgd_strdup(api_key);
        memset((char *)api_key, 'x', strlen(api_key));
        api_key = key;
    }
    if (args_require(&spec, "datapath", datapath) || args_require(&spec, "output_folder", output_folder)) {
        free(key);
        return 2;
    }
    /* a peer that closes a TLS connection must give an error to retry, not kill the process */
    signal(SIGPIPE, SIG_IGN);
    o.concurrency = (int)concurrency;
    o.max_retries = (int)max_retries;
    int rc = 0;
    if (!strcmp(o.backend, "perspective")) {
        char *k = read_key(api_key, api_key_file);
        free(key);
        key = k;
        if (!key && api_key_file) return cli_error();
        o.api_key = key;
    }
    char **files = NULL;
    int nfiles = 0;
    xgd_scorer *s = datapath_list(datapath, &files, &nfiles) == 0 ? xgd_scorer_open(&o) : NULL;
    if (!s) rc = -1;
    for (int i = 0; rc == 0 && i < nfiles; i++) {
        char *out = xgd_score_output_path(output_folder, files[i]);
        xgd_score_stats st = {0};
        xgd_progress bar;
        xgd_progress_start(&bar, "score", 0, "texts");
        xgd_score_run run = {.language = language, .skip_bad_lines = skip_bad, .overwrite = overwrite,
                             .retry_failed = retry_failed, .bar = &bar};
        rc = xgd_score_file(s, files[i], out, &run, &st);
        xgd_progress_end(&bar);
        /* a summary even after a fatal error: what this run did before it stopped */
        if (rc == 0 || st.scored + st.failed > 0) print_summary(files[i], out, xgd_scorer_tag(s), &st);
        xgd_score_stats_free(&st);
        free(out);
    }
    xgd_free_list(files);
    xgd_scorer_free(s);
    if (key) { memset(key, 0, strlen(key)); free(key); }
    return rc == 0 ? 0 : cli_error();
}
