/* Small hand-written SVG charts for the explanation commands: grouped bars (xgd activations,
 * shaped like the paper's Figure 3: one group per language, one bar per model) and lines (xgd
 * retrieval: one line per language over the hidden-state index). Written atomically. */
#ifndef XGD_INTERP_SVG_H
#define XGD_INTERP_SVG_H
#include <stdio.h>

typedef struct {
    const char *title, *ylabel, *xlabel;
    int ncat;                      /* categories on the x axis */
    const char *const *cats;
    int nser;                      /* series (bars per group, or lines) */
    const char *const *series;
    const double *v;               /* (nser, ncat) */
} xgd_chart;

int xgd_svg_bars(const char *path, const xgd_chart *c);
int xgd_svg_lines(const char *path, const xgd_chart *c);
/* The same charts written into an open file (to inline them in an HTML report). */
void xgd_svg_bars_to(FILE *f, const xgd_chart *c);
void xgd_svg_lines_to(FILE *f, const xgd_chart *c);
/* s as HTML/SVG text: <, >, & and " escaped (used for chart labels and by the study report). */
void xgd_html_text(FILE *f, const char *s);

#endif
