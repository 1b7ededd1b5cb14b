/* xgd run: the whole study from one STUDY.json. */
#include "cli/args.h"
#include "study/run.h"
#include <stddef.h>

int cmd_run(int argc, char **argv) {
    int dry = 0;
    const opt_spec opts[] = {
        {"dry_run", OPT_FLAG, &dry, NULL, "list the steps and whether each would run, is complete, or would resume"},
        {0},
    };
    const cmd_spec spec = {"run", "xgd run STUDY.json [--dry-run]",
        "Runs the study a STUDY.json describes: DPO on base_model (full, or LoRA then merge), generation with the base\n"
        "and the tuned model on every prompt file, scoring, the toxicity metrics per language before and after, then\n"
        "OUT/summary.json (read by xgd report) and OUT/provenance.json (settings, input fingerprints, timings).\n"
        "Complete steps are skipped and interrupted ones resume. Keys: output_dir, base_model, tokenizer?, dpo {data_dir,\n"
        "use_lora?, any xgd dpo flag name, language?}, prompts {path, languages?, limit?}, generation {N, max_tokens,\n"
        "temperature, top_p, top_k?, seed}, scorer {backend: lexicon|classifier|perspective, lexicon?, model?, qps?}\n"
        "(the Perspective key comes from PERSPECTIVE_API_KEY).", opts, 1, 1};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    return xgd_study_run(pos[0], dry) == 0 ? 0 : cli_error();
}
