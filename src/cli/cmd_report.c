/* xgd report: a self-contained HTML report (and a markdown summary) of a study folder. */
#include "cli/args.h"
#include "study/report.h"
#include <stdio.h>

int cmd_report(int argc, char **argv) {
    const opt_spec opts[] = {{0}};
    const cmd_spec spec = {"report", "xgd report DIR",
        "Writes DIR/report.html (one file: tables, inline SVG charts; no network) and DIR/report.md from a study folder\n"
        "written by xgd run or xgd demo: toxicity per language before and after DPO (average with 95% interval,\n"
        "probability, EMT) and its reading, perplexity and diversity before and after, the DPO evaluation curve, the\n"
        "probe and the value vectors with their vocabulary projections, the toxic neurons' activations per language\n"
        "before and after (Figure 3), retrieval accuracy per hidden state, and the provenance: each section names the\n"
        "step and file its numbers come from, and the table lists every step's command. A section whose step did not\n"
        "run says why.", opts, 1, 1};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (xgd_report_write(pos[0]) != 0) return cli_error();
    printf("{\"html\": \"%s/report.html\", \"markdown\": \"%s/report.md\"}\n", pos[0], pos[0]);
    return 0;
}
