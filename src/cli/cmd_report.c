/* xgd report: a self-contained HTML report (and a markdown summary) of a study folder. */
#include "cli/args.h"
#include "study/report.h"
#include <stdio.h>

int cmd_report(int argc, char **argv) {
    const opt_spec opts[] = {{0}};
    const cmd_spec spec = {"report", "xgd report DIR",
        "Writes DIR/report.html (one file: tables, inline SVG charts, provenance; no network) and DIR/report.md from\n"
        "a study folder written by xgd demo.", opts, 1, 1};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (xgd_report_write(pos[0]) != 0) return cli_error();
    printf("{\"html\": \"%s/report.html\", \"markdown\": \"%s/report.md\"}\n", pos[0], pos[0]);
    return 0;
}
