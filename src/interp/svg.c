/* The charts share one frame: value range (always including 0), five y ticks, category labels
 * under the x axis, a legend at the top right. */
#include "interp/svg.h"
#include "base/err.h"
#include "base/fs.h"
#include <math.h>
#include <stdio.h>

static const char *colors[] = {"#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#76b7b2", "#edc948", "#b07aa1",
                               "#ff9da7", "#9c755f", "#bab0ac"};
enum { W = 900, HGT = 420, ML = 70, MR = 20, MT = 50, MB = 60 };

void xgd_html_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

typedef struct { double lo, hi; } range;

static range value_range(const xgd_chart *c) {
    range r = {0, 0};
    for (int i = 0; i < c->nser * c->ncat; i++)
        if (isfinite(c->v[i])) { if (c->v[i] < r.lo) r.lo = c->v[i]; if (c->v[i] > r.hi) r.hi = c->v[i]; }
    if (r.hi - r.lo < 1e-12) r.hi = r.lo + 1;
    double pad = 0.05 * (r.hi - r.lo);
    if (r.lo < 0) r.lo -= pad;
    r.hi += pad;
    return r;
}

static double ypix(range r, double v) { return MT + (HGT - MT - MB) * (r.hi - v) / (r.hi - r.lo); }

static void frame(FILE *f, const xgd_chart *c, range r) {
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, HGT);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">", W / 2);
    xgd_html_text(f, c->title);
    fprintf(f, "</text>\n");
    for (int t = 0; t <= 4; t++) {
        double v = r.lo + (r.hi - r.lo) * t / 4, y = ypix(r, v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", ML, y, W - MR, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", ML - 6, y + 4, v);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n", ML, ypix(r, 0), W - MR, ypix(r, 0));
    fprintf(f, "<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\">", (HGT - MB + MT) / 2);
    xgd_html_text(f, c->ylabel);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, HGT - 12);
    xgd_html_text(f, c->xlabel);
    fprintf(f, "</text>\n");
    for (int s = 0; s < c->nser; s++) {
        int x = W - MR - 150, y = MT + 4 + 16 * s;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">", x, y, colors[s % 10], x + 18, y + 10);
        xgd_html_text(f, c->series[s]);
        fprintf(f, "</text>\n");
    }
}

void xgd_svg_bars_to(FILE *f, const xgd_chart *c) {
    range r = value_range(c);
    frame(f, c, r);
    double gw = (double)(W - ML - MR) / (c->ncat ? c->ncat : 1), bw = 0.8 * gw / (c->nser ? c->nser : 1);
    for (int k = 0; k < c->ncat; k++) {
        double x0 = ML + gw * k + 0.1 * gw;
        for (int s = 0; s < c->nser; s++) {
            double v = c->v[s * c->ncat + k];
            if (!isfinite(v)) continue;
            double y = ypix(r, v > 0 ? v : 0), h = fabs(ypix(r, v) - ypix(r, 0));
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%.6g</title></rect>\n",
                    x0 + bw * s, y, bw, h, colors[s % 10], v);
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + gw * (k + 0.5), HGT - MB + 16);
        xgd_html_text(f, c->cats[k]);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
}

void xgd_svg_lines_to(FILE *f, const xgd_chart *c) {
    range r = value_range(c);
    frame(f, c, r);
    double step = c->ncat > 1 ? (double)(W - ML - MR - 20) / (c->ncat - 1) : 0;
    for (int k = 0; k < c->ncat; k++) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + 10 + step * k, HGT - MB + 16);
        xgd_html_text(f, c->cats[k]);
        fprintf(f, "</text>\n");
    }
    for (int s = 0; s < c->nser; s++) {
        fprintf(f, "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"%s\" points=\"", colors[s % 10]);
        for (int k = 0; k < c->ncat; k++) {
            double v = c->v[s * c->ncat + k];
            if (isfinite(v)) fprintf(f, "%.1f,%.1f ", ML + 10 + step * k, ypix(r, v));
        }
        fprintf(f, "\"/>\n");
    }
    fprintf(f, "</svg>\n");
}

/* The chart into its own file, atomically. */
static int to_file(const char *path, const xgd_chart *c, void (*draw)(FILE *, const xgd_chart *)) {
    xgd_atomic_file af;
    if (xgd_atomic_open(&af, path) != 0) return -1;
    draw(af.fp, c);
    return xgd_atomic_commit(&af);
}

int xgd_svg_bars(const char *path, const xgd_chart *c) { return to_file(path, c, xgd_svg_bars_to); }
int xgd_svg_lines(const char *path, const xgd_chart *c) { return to_file(path, c, xgd_svg_lines_to); }
