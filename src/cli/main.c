/* xgd: the command-line front end. Dispatches to one file per command; the logic lives in libxgd. */
#include "cli/commands.h"
#include "base/log.h"
#include "ops/process_env.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef XGD_VERSION
#define XGD_VERSION "0.1.0"
#endif

static const cmd_entry g_cmds[] = {
#define X(n, s) {#n, cmd_##n, s},
    XGD_COMMANDS(X)
#undef X
};

static void usage(FILE *fp) {
    fprintf(fp, "xgd %s: toxicity-mitigation research toolkit for multilingual language models\n\n"
                "usage: xgd <command> [options]   (xgd <command> --help for each command's flags)\n\ncommands:\n", XGD_VERSION);
    for (size_t i = 0; i < sizeof g_cmds / sizeof g_cmds[0]; i++)
        if (g_cmds[i].fn) fprintf(fp, "  %-10s %s\n", g_cmds[i].name, g_cmds[i].summary);
    fprintf(fp, "\nglobal: -q/--quiet (no progress or info), -v/--verbose; XGD_NUM_THREADS sets the thread count\n"
                "  --bf16-math fast|exact  products with bf16 weights: fast = activations rounded to bf16, bf16\n"
                "                          products summed in f32 on AMX tiles (as transformers computes on a bf16\n"
                "                          model; the default where the CPU has AMX-BF16); exact = f32 activations\n"
                "                          times the weights widened to f32 (the default elsewhere). Same as the\n"
                "                          environment variable XGD_BF16_DOT=1|0, which child steps inherit.\n");
}

int main(int argc, char **argv) {
    xgd_process_env(argv);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) xgd_verbosity = 0;
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) xgd_verbosity = 2;
        else if (!strcmp(argv[i], "--bf16-math") || !strcmp(argv[i], "--bf16_math")) {
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (strcmp(v, "fast") && strcmp(v, "exact")) {
                fprintf(stderr, "xgd: error: --bf16-math takes 'fast' or 'exact', not '%s'\n", v);
                return 2;
            }
            setenv("XGD_BF16_DOT", v[0] == 'f' ? "1" : "0", 1);   /* children (xgd run's steps) inherit it */
        }
        else if (!strcmp(argv[i], "--version")) { printf("xgd %s\n", XGD_VERSION); return 0; }
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        else { fprintf(stderr, "xgd: error: unknown option '%s'\n", argv[i]); usage(stderr); return 2; }
    }
    if (i >= argc) { usage(stderr); return 2; }
    for (size_t k = 0; k < sizeof g_cmds / sizeof g_cmds[0]; k++) {
        if (strcmp(argv[i], g_cmds[k].name) != 0) continue;
        if (!g_cmds[k].fn) { fprintf(stderr, "xgd: error: command '%s' is not available in this build\n", argv[i]); return 2; }
        return g_cmds[k].fn(argc - i, argv + i);
    }
    fprintf(stderr, "xgd: error: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
