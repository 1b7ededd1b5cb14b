/* The Perspective API backend (pipeline-spec §5.1): one POST per text, sent through libcurl's multi
 * interface with a few requests in flight, paced by a token bucket at the granted QPS, retried with
 * jittered exponential backoff on 429, 5xx, timeouts, connection errors and unreadable bodies, and
 * never retried on 400 (the text itself is the problem: recorded with the API's errorType). A text
 * whose retries run out is recorded with our errorType (RATE_LIMITED, SERVER_ERROR, ...), unless the
 * endpoint never answered at all or 10 texts in a row ran out: then the run stops, so that a rerun
 * scores them instead of the file filling up with failures.
 *
 * The key is sent in the x-goog-api-key header (or ?key= with key_in_query) and never appears in a
 * message: anything printed that came from the server or libcurl is scrubbed of it first. */
#include "eval/score_internal.h"
#include "base/err.h"
#include "base/json.h"
#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_BODY = 16 << 20, EXHAUSTED_STOP = 10 };

typedef struct {
    CURL *h;
    int64_t item;           /* -1 when idle */
    char *buf;
    size_t len, cap;
    int overflow;
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct {
    xgd_score_opts o;
    char *key, *url;
    json_t *attrs;          /* ["TOXICITY", ...] */
    struct curl_slist *headers;
    CURLM *multi;
    slot *slots;
    int nslots;
    double interval, t_next; /* token bucket of capacity 1: the earliest time of the next request */
    int64_t answered;       /* HTTP answers received, any status */
    int exhausted_in_row;   /* texts in a row whose retries ran out */
    uint64_t rng;
} persp;

/* ---- small helpers -------------------------------------------------------------------------- */

static double uniform01(persp *p) {   /* xorshift64*: jitter only, no need for a stream per item */
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (double)((p->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Copy msg into out with every occurrence of the key replaced by "***", at most cap-1 bytes. */
static void scrub(const char *key, const char *msg, char *out, size_t cap) {
    size_t kl = key ? strlen(key) : 0, o = 0;
    for (const char *s = msg; *s && o + 4 < cap;) {
        if (kl && strncmp(s, key, kl) == 0) { memcpy(out + o, "***", 3); o += 3; s += kl; }
        else out[o++] = *s++;
    }
    out[o] = 0;
}

static int fail_scrubbed(persp *p, const char *what, const char *msg) {
    char clean[512];
    scrub(p->key, msg, clean, sizeof clean);
    return xgd_fail("perspective: %s: %s", what, clean);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    slot *s = user;
    size_t n = size * nmemb;
    if (s->len + n > MAX_BODY) { s->overflow = 1; return 0; }
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->buf = xgd_realloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = 0;
    return n;
}

/* ---- requests ------------------------------------------------------------------------------- */

static char *request_body(persp *p, const char *text, const char *lang) {
    json_t *attrs = json_object();
    for (size_t i = 0; i < json_array_size(p->attrs); i++)
        json_object_set_new(attrs, json_string_value(json_array_get(p->attrs, i)), json_object());
    json_t *req = json_pack("{s:{s:s}, s:[s], s:o}", "comment", "text", text, "languages", lang,
                            "requestedAttributes", attrs);
    if (!req) return NULL;   /* text is not valid UTF-8: cannot happen for text jansson parsed */
    if (!p->o.store) json_object_set_new(req, "doNotStore", json_true());
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return body;
}

static int start_request(persp *p, slot *s, int64_t item, const char *text, const char *lang) {
    char *body = request_body(p, text, lang);
    if (!body) return xgd_fail("perspective: text %lld cannot be encoded as JSON", (long long)item + 1);
    s->len = 0;
    s->overflow = 0;
    s->errbuf[0] = 0;
    s->item = item;
    curl_easy_setopt(s->h, CURLOPT_COPYPOSTFIELDS, body);
    free(body);
    CURLMcode mc = curl_multi_add_handle(p->multi, s->h);
    if (mc != CURLM_OK) return xgd_fail("perspective: curl_multi_add_handle: %s", curl_multi_strerror(mc));
    return 0;
}

static int slot_init(persp *p, slot *s) {
    s->item = -1;
    s->h = curl_easy_init();
    if (!s->h) return xgd_fail("perspective: curl_easy_init failed");
    curl_easy_setopt(s->h, CURLOPT_URL, p->url);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, (long)(p->o.timeout_s * 1000));
    curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, (long)(p->o.timeout_s * 1000));
    curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->h, CURLOPT_USERAGENT, "xgd-score");
    return 0;
}

/* ---- outcome of one finished request -------------------------------------------------------- */

typedef enum { OUT_OK, OUT_FAIL, OUT_RETRY, OUT_FATAL } outcome;

/* error.details[].errorType of a Perspective error body, "" when none. */
static const char *error_type_of(json_t *body) {
    json_t *d = json_object_get(json_object_get(body, "error"), "details");
    for (size_t i = 0; i < json_array_size(d); i++) {
        const char *t = xgd_json_str(json_array_get(d, i), "errorType", NULL);
        if (t) return t;
    }
    return "";
}

/* A bad key comes back as 400 INVALID_ARGUMENT with reason API_KEY_INVALID: that is not the text's fault. */
static int is_key_error(json_t *body) {
    json_t *e = json_object_get(body, "error"), *d = json_object_get(e, "details");
    for (size_t i = 0; i < json_array_size(d); i++) {
        const char *r = xgd_json_str(json_array_get(d, i), "reason", NULL);
        if (r && strstr(r, "API_KEY")) return 1;
    }
    const char *m = xgd_json_str(e, "message", NULL);
    return m && strstr(m, "API key") != NULL;
}

static outcome classify(persp *p, slot *s, CURLcode res, xgd_score_item *it, const char **kind) {
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    it->status = (int)status;
    if (status > 0) p->answered++;
    if (res != CURLE_OK) {
        it->status = 0;
        if (res == CURLE_OPERATION_TIMEDOUT) { *kind = "TIMEOUT"; return OUT_RETRY; }
        if (res == CURLE_WRITE_ERROR && s->overflow) { *kind = "MALFORMED_RESPONSE"; return OUT_RETRY; }
        if (res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT || res == CURLE_NOT_BUILT_IN ||
            res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE || res == CURLE_SSL_CERTPROBLEM) {
            fail_scrubbed(p, curl_easy_strerror(res), s->errbuf);
            return OUT_FATAL;
        }
        *kind = "CONNECTION_ERROR";
        return OUT_RETRY;
    }
    json_t *body = s->len ? json_loadb(s->buf, s->len, 0, NULL) : NULL;
    outcome out;
    if (status == 200) {
        if (json_is_object(body) && json_is_object(json_object_get(body, "attributeScores"))) {
            json_object_set_new(body, "xgd_backend", json_string("perspective"));
            it->response = body;
            return OUT_OK;
        }
        *kind = "MALFORMED_RESPONSE";
        out = OUT_RETRY;
    } else if (status == 400 && !is_key_error(body)) {
        const char *t = error_type_of(body);
        snprintf(it->error_type, sizeof it->error_type, "%s", *t ? t : "INVALID_REQUEST");
        out = OUT_FAIL;
    } else if (status == 429) { *kind = "RATE_LIMITED"; out = OUT_RETRY; }
    else if (status == 408) { *kind = "TIMEOUT"; out = OUT_RETRY; }
    else if (status >= 500) { *kind = "SERVER_ERROR"; out = OUT_RETRY; }
    else {
        /* 401/403/404 or a bad key: every further request would fail the same way */
        const char *m = xgd_json_str(json_object_get(body, "error"), "message", NULL);
        char what[64];
        snprintf(what, sizeof what, "HTTP %ld from the endpoint", status);
        fail_scrubbed(p, what, m ? m : "(no message)");
        out = OUT_FATAL;
    }
    json_decref(body);
    return out;
}

/* ---- the scoring loop ----------------------------------------------------------------------- */

typedef struct { int64_t item; double at; } retry_entry;

static double backoff(persp *p, int attempt, slot *s) {
    double d = p->o.backoff_s * pow(2.0, attempt - 1);
    if (d > p->o.max_backoff_s) d = p->o.max_backoff_s;
    d *= 0.5 + 0.5 * uniform01(p);   /* "equal jitter": spread the retries of a burst apart */
    curl_off_t ra = 0;
    if (curl_easy_getinfo(s->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0 && (double)ra > d)
        d = (double)ra < p->o.max_backoff_s ? (double)ra : p->o.max_backoff_s;
    return d;
}

static void abort_all(persp *p) {
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].item >= 0) { curl_multi_remove_handle(p->multi, p->slots[i].h); p->slots[i].item = -1; }
}

static int persp_score(xgd_scorer *sc, const char *lang, xgd_score_item *items, int64_t n, xgd_score_done_fn done,
                       void *ctx) {
    persp *p = sc->impl;
    retry_entry *rq = xgd_malloc(sizeof *rq * (size_t)n);   /* items waiting to be sent again */
    int active = 0;
    int64_t nr = 0, fresh = 0, finished = 0;
    int rc = 0;
    while (rc == 0 && finished < n) {
        double now = xgd_now();
        /* send while a slot is free, a token is there, and something is due */
        while (active < p->nslots && now >= p->t_next) {
            int64_t pick = -1;
            for (int64_t r = 0; r < nr; r++)
                if (rq[r].at <= now && (pick < 0 || rq[r].item < rq[pick].item)) pick = r;
            int64_t item;
            if (pick >= 0) { item = rq[pick].item; rq[pick] = rq[--nr]; }
            else if (fresh < n) item = fresh++;
            else break;
            slot *s = NULL;
            for (int i = 0; i < p->nslots && !s; i++) if (p->slots[i].item < 0) s = &p->slots[i];
            if ((rc = start_request(p, s, item, items[item].query, lang)) != 0) break;
            active++;
            p->t_next = now + p->interval;
        }
        if (rc != 0) break;
        /* sleep until a transfer moves, the next token, or the next retry is due */
        double wake = now + 0.5;
        int waiting = fresh < n || nr > 0;
        if (active < p->nslots && waiting && p->t_next < wake) wake = p->t_next;
        for (int64_t r = 0; r < nr; r++) if (rq[r].at < wake) wake = rq[r].at;
        int ms = (int)ceil((wake - now) * 1000);
        curl_multi_poll(p->multi, NULL, 0, ms > 0 ? ms : 0, NULL);
        int running;
        curl_multi_perform(p->multi, &running);
        CURLMsg *m;
        int left;
        while (rc == 0 && (m = curl_multi_info_read(p->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            for (int i = 0; i < p->nslots; i++) if (p->slots[i].h == m->easy_handle) s = &p->slots[i];
            CURLcode res = m->data.result;
            curl_multi_remove_handle(p->multi, s->h);
            int64_t item = s->item;
            s->item = -1;
            active--;
            xgd_score_item *it = &items[item];
            const char *kind = "";
            outcome o = classify(p, s, res, it, &kind);
            if (o == OUT_FATAL) { rc = -1; break; }
            if (o == OUT_RETRY && it->retries < p->o.max_retries) {
                it->retries++;
                double d = backoff(p, it->retries, s);
                xgd_debug("perspective: text %lld: %s (HTTP %d), retry %d in %.2fs", (long long)item + 1, kind,
                          it->status, it->retries, d);
                rq[nr++] = (retry_entry){item, xgd_now() + d};
                continue;
            }
            if (o == OUT_RETRY) {
                /* an endpoint that never answered, or that keeps failing, would turn every remaining
                 * text into a failure record: stop instead, so that a rerun scores them */
                if (p->answered == 0) {
                    rc = xgd_fail("perspective: the endpoint never answered (%s after %d retries); nothing recorded "
                                  "for this text, rerun to continue", kind, it->retries);
                    break;
                }
                if (++p->exhausted_in_row >= EXHAUSTED_STOP) {
                    rc = xgd_fail("perspective: %d texts in a row failed after %d retries (last: %s, HTTP %d); stopped, "
                                  "rerun later to continue", EXHAUSTED_STOP, p->o.max_retries, kind, it->status);
                    break;
                }
                snprintf(it->error_type, sizeof it->error_type, "%s", kind);
            } else p->exhausted_in_row = 0;
            finished++;
            if (done(ctx, item) != 0) rc = -1;
        }
    }
    abort_all(p);
    free(rq);
    return rc;
}

/* A resumed file keeps the attributes it was started with: the stored answer has exactly them. */
static int persp_same_config(xgd_scorer *sc, const char *lang, const json_t *resp) {
    (void)lang;
    persp *p = sc->impl;
    json_t *scores = json_object_get(resp, "attributeScores");
    int same = json_object_size(scores) == json_array_size(p->attrs);
    for (size_t i = 0; same && i < json_array_size(p->attrs); i++) {
        char name[64];
        /* "TOXICITY@6" pins a version; the answer names the attribute without it */
        snprintf(name, sizeof name, "%s", json_string_value(json_array_get(p->attrs, i)));
        char *at = strchr(name, '@');
        if (at) *at = 0;
        same = json_object_get(scores, name) != NULL;
    }
    return same ? 0 : xgd_fail("its attributes differ from --attributes");
}

/* ---- open / free ---------------------------------------------------------------------------- */

static void persp_free(xgd_scorer *sc) {
    persp *p = sc->impl;
    for (int i = 0; i < p->nslots; i++) {
        if (p->slots[i].h) curl_easy_cleanup(p->slots[i].h);
        free(p->slots[i].buf);
    }
    free(p->slots);
    if (p->multi) curl_multi_cleanup(p->multi);
    curl_slist_free_all(p->headers);
    json_decref(p->attrs);
    if (p->key) { memset(p->key, 0, strlen(p->key)); free(p->key); }
    if (p->url) { memset(p->url, 0, strlen(p->url)); free(p->url); }
    free(p);
    free(sc);
}

/* Keys are printable ASCII without spaces (Google's are 39 characters of [A-Za-z0-9_-]). */
static int key_ok(const char *k) {
    if (!k || !*k) return 0;
    for (const unsigned char *c = (const unsigned char *)k; *c; c++)
        if (*c <= ' ' || *c >= 0x7F) return 0;
    return 1;
}

xgd_scorer *xgd_perspective_open(const xgd_score_opts *o) {
    if (!o->api_key || !*o->api_key) {
        xgd_fail("perspective: no API key (--api_key, --api_key_file or PERSPECTIVE_API_KEY)");
        return NULL;
    }
    if (!key_ok(o->api_key)) { xgd_fail("perspective: the API key has spaces or non-printable characters"); return NULL; }
    if (!(o->qps > 0) || o->qps > 1000) { xgd_fail("perspective: --qps must be in (0, 1000]"); return NULL; }
    if (o->max_retries < 0 || !(o->timeout_s > 0) || o->backoff_s < 0 || o->max_backoff_s < 0 || o->concurrency < 0 ||
        o->concurrency > 256) {
        xgd_fail("perspective: need --max_retries >= 0, --timeout > 0, --backoff >= 0, 0 <= --concurrency <= 256");
        return NULL;
    }
    const char *ep = o->endpoint;
    if (!ep || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)) {
        xgd_fail("perspective: --endpoint must be an http:// or https:// URL");
        return NULL;
    }
    json_t *attrs = xgd_score_attributes(o->attributes);
    if (!attrs) return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) { json_decref(attrs); xgd_fail("perspective: curl_global_init failed"); return NULL; }
    persp *p = xgd_calloc(1, sizeof *p);
    xgd_scorer *sc = xgd_calloc(1, sizeof *sc);
    sc->impl = p;
    sc->score = persp_score;
    sc->free = persp_free;
    sc->same_config = persp_same_config;
    snprintf(sc->tag, sizeof sc->tag, "perspective");
    p->o = *o;
    p->attrs = attrs;
    p->key = xgd_strdup(o->api_key);
    p->interval = 1.0 / o->qps;
    p->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^ 1;
    /* in flight: enough to keep the rate up with about a second of latency; each waits for its token */
    p->nslots = o->concurrency > 0 ? o->concurrency : (int)fmin(32, fmax(1, ceil(2 * o->qps)));
    p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    p->headers = curl_slist_append(p->headers, "Expect:");
    size_t ul = strlen(ep) + strlen(p->key) * 3 + 16;
    p->url = xgd_malloc(ul);
    if (o->key_in_query) {
        char *esc = curl_easy_escape(NULL, p->key, 0);
        snprintf(p->url, ul, "%s%ckey=%s", ep, strchr(ep, '?') ? '&' : '?', esc);
        memset(esc, 0, strlen(esc));
        curl_free(esc);
    } else {
        snprintf(p->url, ul, "%s", ep);
        size_t hl = strlen(p->key) + 32;
        char *h = xgd_malloc(hl);
        snprintf(h, hl, "x-goog-api-key: %s", p->key);
        p->headers = curl_slist_append(p->headers, h);
        memset(h, 0, hl);
        free(h);
    }
    p->multi = curl_multi_init();
    p->slots = xgd_calloc((size_t)p->nslots, sizeof(slot));
    int rc = p->multi && p->headers ? 0 : xgd_fail("perspective: libcurl initialisation failed");
    for (int i = 0; i < p->nslots && rc == 0; i++) rc = slot_init(p, &p->slots[i]);
    if (rc != 0) { persp_free(sc); return NULL; }
    return sc;
}
