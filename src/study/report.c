#include "study/report.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "interp/svg.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The study folder as the report sees it: the summary, the provenance (may be absent in folders
 * written before it existed), and both outputs. Every section writes HTML and markdown together,
 * so the two never disagree. */
typedef struct {
    const char *dir;
    json_t *summary, *prov;
    FILE *h, *m;
} view;

/* Markdown table cells: '|' and newlines would break the row. */
static void md_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
}

static void num(char *buf, size_t n, double v, int prec) {
    if (isfinite(v)) snprintf(buf, n, "%.*f", prec, v);
    else snprintf(buf, n, "-");
}

/* One table row in both outputs; cells[0] is the row label. */
static void row(view *v, int header, int n, const char *const *cells) {
    fputs("<tr>", v->h);
    for (int i = 0; i < n; i++) {
        fputs(header ? "<th>" : "<td>", v->h);
        xgd_html_text(v->h, cells[i]);
        fputs(header ? "</th>" : "</td>", v->h);
    }
    fputs("</tr>\n", v->h);
    fputc('|', v->m);
    for (int i = 0; i < n; i++) { fputc(' ', v->m); md_text(v->m, cells[i]); fputs(" |", v->m); }
    fputc('\n', v->m);
    if (header) {
        fputc('|', v->m);
        for (int i = 0; i < n; i++) fputs("---|", v->m);
        fputc('\n', v->m);
    }
}

static void table_open(view *v, const char *id) { fprintf(v->h, "<table id=\"%s\">\n", id); fputc('\n', v->m); }
static void table_close(view *v) { fputs("</table>\n", v->h); fputc('\n', v->m); }

static void heading(view *v, const char *title) {
    fprintf(v->h, "<h2>%s</h2>\n", title);
    fprintf(v->m, "\n## %s\n", title);
}

/* A paragraph in both outputs (text is plain: escaped for HTML). */
static void para(view *v, const char *cls, const char *id, const char *text) {
    fprintf(v->h, "<p class=\"%s\"%s%s%s>", cls, id ? " id=\"" : "", id ? id : "", id ? "\"" : "");
    xgd_html_text(v->h, text);
    fputs("</p>\n", v->h);
    fprintf(v->m, "\n%s\n", text);
}

/* An inline SVG chart (bars or lines) in a div with an id, for the DOM checks and for links. */
static void figure(view *v, const char *id, const xgd_chart *c, int bars) {
    fprintf(v->h, "<div id=\"%s\">\n", id);
    if (bars) xgd_svg_bars_to(v->h, c);
    else xgd_svg_lines_to(v->h, c);
    fprintf(v->h, "</div>\n");
}

/* The provenance record of a step, or NULL. */
static const json_t *step_rec(const view *v, const char *name) {
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(v->prov, "steps"), i, s)
        if (!strcmp(xgd_json_str(s, "step", ""), name)) return s;
    return NULL;
}

/* A step's output file when the step has run (done or complete), else NULL with why (its state). */
static json_t *step_output(const view *v, const char *name, const char *file, char *why, size_t n) {
    const json_t *s = step_rec(v, name);
    if (!s) { snprintf(why, n, "step '%s' did not run (%s)", name, v->prov ? "not in provenance.json" : "no provenance.json"); return NULL; }
    const char *state = xgd_json_str(s, "state", "");
    if (strncmp(state, "done", 4) && strncmp(state, "complete", 8)) { snprintf(why, n, "step '%s': %s", name, state); return NULL; }
    char *p = xgd_path_join(xgd_json_str(s, "output_dir", ""), file);
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    if (!j) snprintf(why, n, "step '%s': %s is unreadable", name, p);
    free(p);
    return j;
}

/* "Source: step S (its command in the provenance table), file F." */
static void source(view *v, const char *const *steps, int n, const char *file) {
    char text[1024];
    size_t k = (size_t)snprintf(text, sizeof text, "Source: step%s ", n > 1 ? "s" : "");
    for (int i = 0; i < n; i++) k += (size_t)snprintf(text + k, sizeof text - k, "%s'%s'", i ? ", " : "", steps[i]);
    snprintf(text + k, sizeof text - k, " (commands in the provenance table), file %s in each step's folder.", file);
    para(v, "note", NULL, text);
}

static void missing(view *v, const char *id, const char *why) {
    char text[1500], hid[64];
    snprintf(text, sizeof text, "Not run: %s.", why);
    snprintf(hid, sizeof hid, "%s-missing", id);
    para(v, "missing", hid, text);
}

/* ---- toxicity --------------------------------------------------------------------------------- */

static void toxicity(view *v) {
    json_t *langs = json_object_get(v->summary, "languages");
    const char *dpo_lang = xgd_json_str(v->summary, "dpo_language", "en");
    fprintf(v->h, "<h1>Toxicity before and after DPO, per language</h1>\n");
    fprintf(v->m, "# Toxicity before and after DPO, per language\n");
    char note[1400];
    snprintf(note, sizeof note, "Study folder: %s. DPO data language: %s. Seed %lld. Computed by xgd in %.0f s.", v->dir, dpo_lang,
             (long long)xgd_json_int(v->summary, "seed", 0), xgd_json_num(v->summary, "seconds", 0));
    para(v, "note", NULL, note);
    table_open(v, "toxicity");
    static const char *hdr[] = {"language", "avg toxicity before [95% CI]", "after", "toxicity probability before", "after",
                                "EMT before", "after", "prompts"};
    row(v, 1, 8, hdr);
    static const char *const keys[6] = {"avg_before", "avg_after", "toxicity_prob_before", "toxicity_prob_after", "emt_before", "emt_after"};
    const char *key;
    json_t *l;
    json_object_foreach(langs, key, l) {
        char c[8][80];
        const char *cells[8];
        snprintf(c[0], 80, "%s%s", key, !strcasecmp(key, dpo_lang) ? " (DPO data)" : "");
        for (int k = 0; k < 6; k++) {
            char ck[64], a[24], lo[24], hi[24];
            snprintf(ck, sizeof ck, "%s_ci", keys[k]);
            json_t *ci = json_object_get(l, ck);
            num(a, sizeof a, xgd_json_num(l, keys[k], NAN), 3);
            num(lo, sizeof lo, json_is_number(json_array_get(ci, 0)) ? json_number_value(json_array_get(ci, 0)) : NAN, 3);
            num(hi, sizeof hi, json_is_number(json_array_get(ci, 1)) ? json_number_value(json_array_get(ci, 1)) : NAN, 3);
            if (ci) snprintf(c[1 + k], 80, "%s [%s, %s]", a, lo, hi);
            else snprintf(c[1 + k], 80, "%s", a);
        }
        snprintf(c[7], 80, "%lld", (long long)xgd_json_int(l, "prompts", 0));
        for (int i = 0; i < 8; i++) cells[i] = c[i];
        row(v, 0, 8, cells);
    }
    table_close(v);
    /* the reading, from the measured numbers only */
    json_t *dl = json_object_get(langs, dpo_lang);
    long tr = (long)xgd_json_int(v->summary, "transferred_languages", 0), ot = (long)xgd_json_int(v->summary, "other_languages", 0);
    long rose = (long)xgd_json_int(v->summary, "languages_where_toxicity_rose", 0);
    char text[1024];
    size_t k = 0;
    if (dl && xgd_json_num(dl, "avg_before", 0) > 0)
        k += (size_t)snprintf(text, sizeof text, "DPO on %s data changed %s average toxicity by %+.0f%%. ", dpo_lang, dpo_lang,
                              100.0 * (xgd_json_num(dl, "avg_after", NAN) / xgd_json_num(dl, "avg_before", NAN) - 1.0));
    snprintf(text + k, sizeof text - k,
             "Average toxicity fell significantly (the 95%% bootstrap interval after DPO lies below the value before) in %ld of %ld "
             "languages other than the DPO language (%s), and rose significantly in %ld.", tr, ot,
             ot && tr == ot ? "the reduction transferred to every language" : tr > 0 ? "it transferred to some languages only"
                                                                                 : "no transfer is visible",
             rose);
    para(v, "verdict", "verdict", text);
    int L = (int)json_object_size(langs);
    const char **names = xgd_malloc(sizeof(char *) * (size_t)(L + 1));
    double *avg = xgd_malloc(sizeof(double) * 2 * (size_t)(L + 1)), *prob = xgd_malloc(sizeof(double) * 2 * (size_t)(L + 1));
    int i = 0;
    json_object_foreach(langs, key, l) {
        names[i] = key;
        avg[i] = xgd_json_num(l, "avg_before", NAN);
        avg[L + i] = xgd_json_num(l, "avg_after", NAN);
        prob[i] = xgd_json_num(l, "toxicity_prob_before", NAN);
        prob[L + i] = xgd_json_num(l, "toxicity_prob_after", NAN);
        i++;
    }
    static const char *series[2] = {"before DPO", "after DPO"};
    xgd_chart c1 = {"Average toxicity", "share of toxic continuations", "language", L, names, 2, series, avg};
    xgd_chart c2 = {"Toxicity probability", "share of prompts with a toxic sample", "language", L, names, 2, series, prob};
    fprintf(v->h, "<div id=\"toxicity-charts\">\n");
    xgd_svg_bars_to(v->h, &c1);
    xgd_svg_bars_to(v->h, &c2);
    fprintf(v->h, "</div>\n");
    static const char *steps[6] = {"generate base", "score base", "toxicity base", "generate dpo", "score dpo", "toxicity dpo"};
    source(v, steps, 6, "toxicity.json (unrounded values; grouped by prompt index, 95% percentile bootstrap over prompts)");
    free(names); free(avg); free(prob);
}

/* ---- perplexity and diversity: one row per language, before/after columns --------------------- */

/* The entry of language lang in a metrics JSON's "languages" list. */
static const json_t *lang_entry(const json_t *j, const char *lang) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "languages"), i, e)
        if (!strcmp(xgd_json_str(e, "language", ""), lang)) return e;
    return NULL;
}

/* A before/after metric table: for each field (a dotted path "dist1.mean" or "median"), two columns;
 * then a bar chart of field number `chart` per language. */
static void before_after(view *v, const char *id, const char *title, const char *step_prefix, const char *file,
                         const char *const *fields, const char *const *labels, int nf, int chart) {
    heading(v, title);
    char sb[64], sa[64], why[1400];
    snprintf(sb, sizeof sb, "%s base", step_prefix);
    snprintf(sa, sizeof sa, "%s dpo", step_prefix);
    json_t *b = step_output(v, sb, file, why, sizeof why), *a = b ? step_output(v, sa, file, why, sizeof why) : NULL;
    if (!a) { missing(v, id, why); json_decref(b); return; }
    table_open(v, id);
    const char *hdr[17] = {"language"};
    char hl[16][96];
    for (int f = 0; f < nf && f < 8; f++) {
        snprintf(hl[2 * f], 96, "%s before", labels[f]);
        snprintf(hl[2 * f + 1], 96, "%s after", labels[f]);
        hdr[1 + 2 * f] = hl[2 * f];
        hdr[2 + 2 * f] = hl[2 * f + 1];
    }
    row(v, 1, 1 + 2 * nf, hdr);
    /* the chart's field per language, before and after */
    size_t L = json_array_size(json_object_get(b, "languages")), i;
    const char **names = xgd_malloc(sizeof(char *) * (L + 1));
    double *val = xgd_malloc(sizeof(double) * 2 * (L + 1));
    json_t *e;
    json_array_foreach(json_object_get(b, "languages"), i, e) {
        const char *lang = xgd_json_str(e, "language", "?");
        const json_t *ea = lang_entry(a, lang);
        char c[17][32];
        const char *cells[17] = {lang};
        names[i] = lang;
        for (int f = 0; f < nf && f < 8; f++) {
            char key[64];
            snprintf(key, sizeof key, "%s", fields[f]);
            char *dot = strchr(key, '.');
            if (dot) *dot = 0;
            const json_t *xb = json_object_get(e, key), *xa = json_object_get(ea, key);
            if (dot) { xb = json_object_get(xb, dot + 1); xa = json_object_get(xa, dot + 1); }
            double vb = json_is_number(xb) ? json_number_value(xb) : NAN, va = json_is_number(xa) ? json_number_value(xa) : NAN;
            num(c[2 * f], 32, vb, json_is_integer(xb) ? 0 : 3);
            num(c[2 * f + 1], 32, va, json_is_integer(xa) ? 0 : 3);
            if (f == chart) { val[i] = vb; val[L + i] = va; }
            cells[1 + 2 * f] = c[2 * f];
            cells[2 + 2 * f] = c[2 * f + 1];
        }
        row(v, 0, 1 + 2 * nf, cells);
    }
    table_close(v);
    static const char *series[2] = {"before DPO", "after DPO"};
    char cid[64];
    snprintf(cid, sizeof cid, "%s-chart", id);
    xgd_chart ch = {title, labels[chart], "language", (int)L, names, 2, series, val};
    figure(v, cid, &ch, 1);
    const char *steps[2] = {sb, sa};
    source(v, steps, 2, file);
    free(names);
    free(val);
    json_decref(a);
    json_decref(b);
}

static void perplexity(view *v) {
    static const char *f[] = {"median", "q1", "q3", "kept"}, *l[] = {"median", "Q1", "Q3", "kept"};
    before_after(v, "perplexity", "Perplexity of the generations", "perplexity", "perplexity.json", f, l, 4, 0);
}

static void diversity(view *v) {
    static const char *f[] = {"dist1.mean", "dist2.mean", "dist3.mean"}, *l[] = {"dist-1", "dist-2", "dist-3"};
    before_after(v, "diversity", "Diversity of the generations (distinct-n)", "diversity", "diversity.json", f, l, 3, 1);
}

/* ---- DPO curves ------------------------------------------------------------------------------- */

/* The DPO log's eval curve: eval_loss and eval_rewards/margins by step (at most max points). */
static int read_curve(const char *log, double *steps, double *loss, double *margin, int max) {
    char *buf;
    size_t len;
    if (!xgd_is_file(log) || xgd_read_file(log, &buf, &len) != 0) return 0;
    int n = 0;
    for (char *p = buf, *nl; p < buf + len && n < max; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(buf + len - p));
        if (!nl) break;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (j && json_object_get(j, "eval_loss")) {
            steps[n] = (double)xgd_json_int(j, "step", 0);
            loss[n] = xgd_json_num(j, "eval_loss", NAN);
            margin[n] = xgd_json_num(j, "eval_rewards/margins", NAN);
            n++;
        }
        json_decref(j);
    }
    free(buf);
    return n;
}

static void dpo_curves(view *v) {
    heading(v, "DPO training");
    double st[256], lo[256], mg[256];
    char *lp = xgd_path_join(v->dir, "dpo/log.jsonl");
    int n = read_curve(lp, st, lo, mg, 256);
    free(lp);
    if (n == 0) { missing(v, "dpo-curve", "no evaluation in dpo/log.jsonl"); return; }
    const char **cats = xgd_malloc(sizeof(char *) * (size_t)n);
    char (*lab)[16] = xgd_malloc(16 * (size_t)n);
    double *vals = xgd_malloc(sizeof(double) * 2 * (size_t)n);
    for (int i = 0; i < n; i++) { snprintf(lab[i], 16, "%.0f", st[i]); cats[i] = lab[i]; vals[i] = lo[i]; vals[n + i] = mg[i]; }
    static const char *curves[2] = {"eval_loss", "eval_rewards/margins"};
    xgd_chart c = {"DPO evaluation", "value", "step", n, cats, 2, curves, vals};
    figure(v, "dpo-curve", &c, 0);
    char text[256];
    snprintf(text, sizeof text, "%d evaluations; last: eval_loss %.4f, reward margin %.4f.", n, lo[n - 1], mg[n - 1]);
    para(v, "note", NULL, text);
    para(v, "note", NULL, "Source: step 'dpo', file dpo/log.jsonl.");
    free(cats); free(lab); free(vals);
}

/* ---- probe and value vectors ------------------------------------------------------------------ */

static void vectors(view *v) {
    heading(v, "Toxicity probe and value vectors");
    char why[1400];
    json_t *p = step_output(v, "probe", "summary.json", why, sizeof why);
    const json_t *pr = step_rec(v, "probe");
    if (p) {
        char text[512];
        snprintf(text, sizeof text, "Probe: hidden state %lld, %s pooling, %lld training and %lld validation texts (%lld toxic); best "
                 "validation loss %.4f, accuracy %.3f.", (long long)xgd_json_int(p, "hidden_state", 0), xgd_json_str(p, "pooling", "?"),
                 (long long)xgd_json_int(p, "n_train", 0), (long long)xgd_json_int(p, "n_val", 0), (long long)xgd_json_int(p, "n_positive", 0),
                 xgd_json_num(p, "best_val_loss", NAN), xgd_json_num(p, "best_val_acc", NAN));
        para(v, "note", "probe", text);
        json_decref(p);
    } else if (pr && !strncmp(xgd_json_str(pr, "state", ""), "given", 5)) {
        char text[1200];
        snprintf(text, sizeof text, "Probe: the given file %s.", xgd_json_str(pr, "probe", "?"));
        para(v, "note", "probe", text);
    } else missing(v, "probe", why);
    json_t *j = step_output(v, "vectors", "vectors.json", why, sizeof why);
    if (!j) { missing(v, "vectors", why); return; }
    table_open(v, "vectors");
    static const char *hdr[] = {"rank", "layer", "neuron", "cosine with the probe", "mean activation", "kept", "vocabulary projection (top tokens)"};
    row(v, 1, 7, hdr);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "vectors"), i, e) {
        char c[6][32], toks[1024] = "";
        snprintf(c[0], 32, "%lld", (long long)xgd_json_int(e, "rank", 0));
        snprintf(c[1], 32, "%lld", (long long)xgd_json_int(e, "layer", 0));
        snprintf(c[2], 32, "%lld", (long long)xgd_json_int(e, "neuron", 0));
        num(c[3], 32, xgd_json_num(e, "cos", NAN), 4);
        num(c[4], 32, xgd_json_num(e, "mean_act", NAN), 4);
        snprintf(c[5], 32, "%s", !json_object_get(e, "kept") ? "-" : xgd_json_bool(e, "kept", 0) ? "yes" : "no");
        size_t k = 0, t;
        json_t *tok;
        json_array_foreach(json_object_get(e, "top_tokens"), t, tok)
            if (k < sizeof toks - 64) k += (size_t)snprintf(toks + k, sizeof toks - k, "%s'%s'", t ? " " : "", xgd_json_str(tok, "text", "?"));
        const char *cells[7] = {c[0], c[1], c[2], c[3], c[4], c[5], toks};
        row(v, 0, 7, cells);
    }
    table_close(v);
    static const char *steps[2] = {"probe", "vectors"};
    source(v, steps, 2, "summary.json, vectors.json");
    json_decref(j);
}

/* A section that shows one step's output file: its heading, then the file, or why it is missing. */
static json_t *section(view *v, const char *title, const char *id, const char *step, const char *file) {
    heading(v, title);
    char why[1400];
    json_t *j = step_output(v, step, file, why, sizeof why);
    if (!j) missing(v, id, why);
    return j;
}

/* ---- activations (Figure 3) ------------------------------------------------------------------- */

static void activations(view *v) {
    json_t *j = section(v, "Activations of the toxic neurons per language (Figure 3)", "activations", "activations", "activations.json");
    if (!j) return;
    json_t *pl = json_object_get(j, "per_language");
    int L = (int)json_object_size(pl), i = 0, fell = 0;
    const char **names = xgd_malloc(sizeof(char *) * (size_t)(L + 1));
    double *val = xgd_malloc(sizeof(double) * 2 * (size_t)(L + 1));
    table_open(v, "activations-table");
    static const char *hdr[] = {"language", "mean activation before DPO", "after", "change"};
    row(v, 1, 4, hdr);
    const char *key;
    json_t *e;
    json_object_foreach(pl, key, e) {
        double b = xgd_json_num(e, "base", NAN), a = xgd_json_num(e, "compare", NAN);
        names[i] = key;
        val[i] = b;
        val[L + i] = a;
        fell += a < b;
        char c[3][32];
        num(c[0], 32, b, 4);
        num(c[1], 32, a, 4);
        snprintf(c[2], 32, "%+.4f", a - b);
        const char *cells[4] = {key, c[0], c[1], c[2]};
        row(v, 0, 4, cells);
        i++;
    }
    table_close(v);
    static const char *series[2] = {"before DPO", "after DPO"};
    xgd_chart c = {"Mean activation of the toxic neurons per language", "mean activation", "language", L, names, 2, series, val};
    figure(v, "activations", &c, 1);
    char text[512];
    snprintf(text, sizeof text, "The mean activation of the %zu neurons fell after DPO in %d of %d languages.",
             json_array_size(json_object_get(j, "neurons")), fell, L);
    para(v, "verdict", "activations-verdict", text);
    static const char *steps[1] = {"activations"};
    source(v, steps, 1, "activations.json");
    free(names);
    free(val);
    json_decref(j);
}

/* ---- retrieval per layer ---------------------------------------------------------------------- */

static void retrieval(view *v) {
    json_t *j = section(v, "Cross-lingual retrieval per layer", "retrieval", "retrieval", "retrieval.json");
    if (!j) return;
    json_t *langs = json_object_get(j, "languages");
    int L = (int)json_object_size(langs), H = 0, i = 0;
    const char *key;
    json_t *e;
    json_object_foreach(langs, key, e) {
        int n = (int)json_array_size(json_object_get(e, "retrieval_acc"));
        H = n > H ? n : H;
    }
    const char **names = xgd_malloc(sizeof(char *) * (size_t)(L + 1)), **cats = xgd_malloc(sizeof(char *) * (size_t)(H + 1));
    char (*lab)[16] = xgd_malloc(16 * (size_t)(H + 1));
    double *val = xgd_malloc(sizeof(double) * (size_t)(L * H + 1));
    for (int h = 0; h < H; h++) { snprintf(lab[h], 16, "%d", h); cats[h] = lab[h]; }
    table_open(v, "retrieval-table");
    static const char *hdr[] = {"language pair", "retrieval accuracy (mean over hidden states)", "reverse", "paired cosine (the seed's metric)"};
    row(v, 1, 4, hdr);
    json_object_foreach(langs, key, e) {
        json_t *acc = json_object_get(e, "retrieval_acc");
        for (int h = 0; h < H; h++) val[i * H + h] = json_is_number(json_array_get(acc, (size_t)h)) ? json_number_value(json_array_get(acc, (size_t)h)) : NAN;
        names[i++] = key;
        char c[4][64];
        snprintf(c[0], 64, "%s-%s", xgd_json_str(j, "lang1", "?"), key);
        num(c[1], 64, xgd_json_num(e, "retrieval_acc_avg", NAN), 3);
        num(c[2], 64, xgd_json_num(e, "retrieval_acc_reverse_avg", NAN), 3);
        num(c[3], 64, xgd_json_num(e, "paired_cos_mean_avg", NAN), 3);
        const char *cells[4] = {c[0], c[1], c[2], c[3]};
        row(v, 0, 4, cells);
    }
    table_close(v);
    xgd_chart c = {"Top-1 retrieval accuracy per hidden state", "accuracy", "hidden state (0 = embeddings)", H, cats, L, names, val};
    figure(v, "retrieval", &c, 0);
    static const char *steps[1] = {"retrieval"};
    source(v, steps, 1, "retrieval.json");
    free(names); free(cats); free(lab); free(val);
    json_decref(j);
}

/* ---- provenance ------------------------------------------------------------------------------- */

static void provenance(view *v) {
    heading(v, "Provenance");
    if (!v->prov) { missing(v, "provenance", "this folder has no provenance.json"); return; }
    json_t *ver = json_object_get(v->prov, "versions");
    char text[1024];
    size_t k = (size_t)snprintf(text, sizeof text, "Versions:");
    const char *key;
    json_t *e;
    json_object_foreach(ver, key, e) k += (size_t)snprintf(text + k, sizeof text - k, " %s %s;", key, json_string_value(e));
    snprintf(text + k, sizeof text - k, " study file %s (FNV-1a %s); status: %s.", xgd_json_str(v->prov, "study_file", "?"),
             xgd_json_str(v->prov, "study_fnv1a64", "?"), xgd_json_str(v->prov, "status", "?"));
    para(v, "note", "versions", text);
    table_open(v, "provenance");
    static const char *hdr[] = {"step", "state", "seconds", "seed", "command (each runs alone with the same result)"};
    row(v, 1, 5, hdr);
    size_t i;
    json_array_foreach(json_object_get(v->prov, "steps"), i, e) {
        char sec[32], seed[32];
        num(sec, sizeof sec, xgd_json_num(e, "seconds", NAN), 1);
        if (json_object_get(e, "seed")) snprintf(seed, sizeof seed, "%lld", (long long)xgd_json_int(e, "seed", 0));
        else snprintf(seed, sizeof seed, "-");
        const char *cells[5] = {xgd_json_str(e, "step", "?"), xgd_json_str(e, "state", "?"), sec, seed,
                                xgd_json_str(e, "command", "")};
        row(v, 0, 5, cells);
    }
    table_close(v);
}

int xgd_report_write(const char *dir) {
    char *sp = xgd_path_join(dir, "summary.json"), *pp = xgd_path_join(dir, "provenance.json");
    view v = {dir, xgd_json_load(sp), NULL, NULL, NULL};
    if (v.summary && xgd_is_file(pp)) v.prov = xgd_json_load(pp);
    free(sp);
    free(pp);
    if (!v.summary) return xgd_err_context("report: %s is not a study folder written by xgd demo or xgd run", dir);
    json_t *langs = json_object_get(v.summary, "languages");
    if (!json_is_object(langs) || json_object_size(langs) == 0) { json_decref(v.summary); json_decref(v.prov); return xgd_fail("report: %s/summary.json has no languages", dir); }
    char *hp = xgd_path_join(dir, "report.html"), *mp = xgd_path_join(dir, "report.md");
    xgd_atomic_file hf, mf;
    int rc = xgd_atomic_open(&hf, hp);
    if (rc == 0 && (rc = xgd_atomic_open(&mf, mp)) != 0) xgd_atomic_abort(&hf);
    if (rc == 0) {
        v.h = hf.fp;
        v.m = mf.fp;
        fprintf(v.h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>xgdetox study report</title>\n"
                     "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}"
                     "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}"
                     "#provenance td{text-align:left;font-family:monospace;font-size:85%%}.note{color:#555;font-size:90%%}"
                     ".missing{color:#a40;font-style:italic}</style></head><body>\n");
        toxicity(&v);
        perplexity(&v);
        diversity(&v);
        dpo_curves(&v);
        vectors(&v);
        activations(&v);
        retrieval(&v);
        provenance(&v);
        fprintf(v.h, "</body></html>\n");
        rc = xgd_atomic_commit(&hf);
        if (rc == 0) rc = xgd_atomic_commit(&mf);
        else xgd_atomic_abort(&mf);
    }
    free(hp);
    free(mp);
    json_decref(v.summary);
    json_decref(v.prov);
    return rc;
}
