/* `xgd report DIR`: one self-contained HTML file (inline SVG charts, no network) and a markdown
 * summary for terminals, from a study folder written by `xgd demo`: per-language toxicity before
 * and after DPO with intervals, the DPO training curves, and where every number came from. */
#ifndef XGD_STUDY_REPORT_H
#define XGD_STUDY_REPORT_H

/* Writes DIR/report.html and DIR/report.md; returns 0 or -1 with a message. */
int xgd_report_write(const char *dir);

#endif
