/* xgd demo: the study in miniature on an embedded default (no downloads). */
#include "cli/args.h"
#include "study/demo.h"
#include <stddef.h>

int cmd_demo(int argc, char **argv) {
    const char *out = "xgd-demo";
    long seed = 7;
    int quick = 0;
    const opt_spec opts[] = {
        {"out", OPT_STR, &out, "DIR", "output folder (default ./xgd-demo); the pretrained model is cached there"},
        {"seed", OPT_INT, &seed, "S", "seed of every random choice (default 7)"},
        {"quick", OPT_FLAG, &quick, NULL, "a smaller run (fewer steps and prompts), for tests"},
        {0},
    };
    const cmd_spec spec = {"demo", "xgd demo [--out DIR] [--seed S] [--quick]",
        "The paper's study in miniature, offline: pretrains a tiny model on five synthetic languages (English and\n"
        "four mappings of it into other scripts), then runs DIR/study.json as xgd run does: DPO on English preference\n"
        "pairs only, continuations of parallel prompts in every language before and after, lexicon scores, diversity,\n"
        "perplexity, a probe trained on the DPO pairs, the value vectors closest to it, their neurons' activations per\n"
        "language before and after, retrieval per layer; then prints the report (DIR/report.md; DIR/report.html has the\n"
        "charts): per language whether toxicity fell, with 95% bootstrap intervals, read from the measured numbers.\n"
        "A second run reuses the pretrained model and skips the complete steps.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    xgd_demo_opts o = {out, (uint64_t)seed, quick};
    return xgd_demo_run(&o) == 0 ? 0 : cli_error();
}
