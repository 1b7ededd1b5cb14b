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
        "four mappings of it into other scripts), applies DPO on English preference pairs only, samples continuations\n"
        "of parallel prompts in every language before and after, scores them with the lexicon scorer, and reports\n"
        "per language whether toxicity fell, with 95% bootstrap intervals.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    xgd_demo_opts o = {out, (uint64_t)seed, quick};
    return xgd_demo_run(&o) == 0 ? 0 : cli_error();
}
