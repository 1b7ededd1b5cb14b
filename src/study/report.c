#include "study/report.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "interp/svg.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

/* The DPO log's eval curve: eval_loss and eval_rewards/margins by step (at most 256 points). */
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

int xgd_report_write(const char *dir) {
    char *sp = xgd_path_join(dir, "summary.json");
    json_t *s = xgd_json_load(sp);
    free(sp);
    if (!s) return xgd_err_context("report: %s is not a study folder written by xgd demo or xgd run", dir);
    json_t *langs = json_object_get(s, "languages");
    if (!json_is_object(langs) || json_object_size(langs) == 0) { json_decref(s); return xgd_fail("report: %s/summary.json has no languages", dir); }
    int L = (int)json_object_size(langs);
    const char **names = xgd_malloc(sizeof(char *) * (size_t)L);
    double *avg = xgd_malloc(sizeof(double) * 2 * (size_t)L), *prob = xgd_malloc(sizeof(double) * 2 * (size_t)L);
    int k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(langs, key, v) {
        names[k] = key;
        avg[k] = xgd_json_num(v, "avg_before", NAN);
        avg[L + k] = xgd_json_num(v, "avg_after", NAN);
        prob[k] = xgd_json_num(v, "toxicity_prob_before", NAN);
        prob[L + k] = xgd_json_num(v, "toxicity_prob_after", NAN);
        k++;
    }
    char *hp = xgd_path_join(dir, "report.html");
    xgd_atomic_file af;
    int rc = xgd_atomic_open(&af, hp);
    free(hp);
    if (rc == 0) {
        FILE *f = af.fp;
        fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>xgdetox study report</title>\n"
                   "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}"
                   "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}"
                   ".note{color:#555;font-size:90%%}</style></head><body>\n");
        fprintf(f, "<h1>Toxicity before and after DPO, per language</h1>\n<p class=\"note\">Study folder: ");
        html_text(f, dir);
        fprintf(f, ". DPO data language: %s. Seed %lld. Computed by xgd in %.0f s.</p>\n",
                xgd_json_str(s, "dpo_language", "?"), (long long)xgd_json_int(s, "seed", 0), xgd_json_num(s, "seconds", 0));
        fprintf(f, "<table id=\"toxicity\"><tr><th>language</th><th>avg toxicity before</th><th>after</th><th>95%% CI after</th>"
                   "<th>toxicity probability before</th><th>after</th><th>EMT before</th><th>after</th><th>prompts</th></tr>\n");
        json_object_foreach(langs, key, v) {
            json_t *ci = json_object_get(v, "avg_after_ci");
            fprintf(f, "<tr><td>");
            html_text(f, key);
            fprintf(f, "</td><td>%.3f</td><td>%.3f</td><td>[%.3f, %.3f]</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%lld</td></tr>\n",
                    xgd_json_num(v, "avg_before", NAN), xgd_json_num(v, "avg_after", NAN), json_number_value(json_array_get(ci, 0)),
                    json_number_value(json_array_get(ci, 1)), xgd_json_num(v, "toxicity_prob_before", NAN),
                    xgd_json_num(v, "toxicity_prob_after", NAN), xgd_json_num(v, "emt_before", NAN), xgd_json_num(v, "emt_after", NAN),
                    (long long)xgd_json_int(v, "prompts", 0));
        }
        fprintf(f, "</table>\n");
        long tr = (long)xgd_json_int(s, "transferred_languages", 0), ot = (long)xgd_json_int(s, "other_languages", 0);
        long rose = (long)xgd_json_int(s, "languages_where_toxicity_rose", 0);
        fprintf(f, "<p id=\"verdict\">Average toxicity fell significantly (the 95%% bootstrap interval after DPO lies below the value "
                   "before) in <b>%ld of %ld</b> languages other than the DPO language, and rose significantly in %ld.</p>\n", tr, ot, rose);
        static const char *series[2] = {"before DPO", "after DPO"};
        xgd_chart c1 = {"Average toxicity", "share of toxic continuations", "language", L, names, 2, series, avg};
        xgd_chart c2 = {"Toxicity probability", "share of prompts with a toxic sample", "language", L, names, 2, series, prob};
        fprintf(f, "<h2>Charts</h2>\n");
        xgd_svg_bars_to(f, &c1);
        xgd_svg_bars_to(f, &c2);
        double st[256], lo[256], mg[256];
        char *lp = xgd_path_join(dir, "dpo/log.jsonl");
        int n = read_curve(lp, st, lo, mg, 256);
        free(lp);
        if (n > 0) {
            const char **cats = xgd_malloc(sizeof(char *) * (size_t)n);
            char (*lab)[16] = xgd_malloc(16 * (size_t)n);
            double *vals = xgd_malloc(sizeof(double) * 2 * (size_t)n);
            for (int i = 0; i < n; i++) { snprintf(lab[i], 16, "%.0f", st[i]); cats[i] = lab[i]; vals[i] = lo[i]; vals[n + i] = mg[i]; }
            static const char *curves[2] = {"eval_loss", "eval_rewards/margins"};
            xgd_chart c3 = {"DPO evaluation", "value", "step", n, cats, 2, curves, vals};
            fprintf(f, "<h2>DPO training</h2>\n");
            xgd_svg_lines_to(f, &c3);
            free(cats); free(lab); free(vals);
        }
        fprintf(f, "<h2>Provenance</h2>\n<ul class=\"note\"><li>generations: <code>generations/base</code>, <code>generations/dpo</code> "
                   "(xgd generate)</li><li>scores: <code>scores/base</code>, <code>scores/dpo</code> (xgd score, lexicon backend; every "
                   "response names its backend)</li><li>metrics: toxicity as the seed's metric_toxicity.py, grouped by prompt index, 95%% "
                   "percentile bootstrap over prompts</li><li>DPO log: <code>dpo/log.jsonl</code>; models: <code>model-base</code>, "
                   "<code>dpo/final_checkpoint</code></li></ul>\n</body></html>\n");
        rc = xgd_atomic_commit(&af);
    }
    /* the terminal summary: a markdown table of the same numbers */
    if (rc == 0) {
        char *dst = xgd_path_join(dir, "report.md");
        xgd_atomic_file mf;
        if ((rc = xgd_atomic_open(&mf, dst)) == 0) {
            fprintf(mf.fp, "| language | avg toxicity before | after [95%% CI] | toxicity probability before | after | EMT before | after |\n"
                           "|---|---|---|---|---|---|---|\n");
            json_object_foreach(langs, key, v) {
                json_t *ci = json_object_get(v, "avg_after_ci");
                fprintf(mf.fp, "| %s | %.3f | %.3f [%.3f, %.3f] | %.3f | %.3f | %.3f | %.3f |\n", key, xgd_json_num(v, "avg_before", NAN),
                        xgd_json_num(v, "avg_after", NAN), json_number_value(json_array_get(ci, 0)), json_number_value(json_array_get(ci, 1)),
                        xgd_json_num(v, "toxicity_prob_before", NAN), xgd_json_num(v, "toxicity_prob_after", NAN),
                        xgd_json_num(v, "emt_before", NAN), xgd_json_num(v, "emt_after", NAN));
            }
            fprintf(mf.fp, "\nAverage toxicity fell significantly in %lld of %lld languages other than the DPO language (%s) and rose in %lld.\n",
                    (long long)xgd_json_int(s, "transferred_languages", 0), (long long)xgd_json_int(s, "other_languages", 0),
                    xgd_json_str(s, "dpo_language", "?"), (long long)xgd_json_int(s, "languages_where_toxicity_rose", 0));
            rc = xgd_atomic_commit(&mf);
        }
        free(dst);
    }
    free(names); free(avg); free(prob);
    json_decref(s);
    return rc;
}
