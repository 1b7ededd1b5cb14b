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
        "and the tuned model on every prompt file, scoring, the toxicity metrics per language before and after\n"
        "(OUT/summary.json, read by xgd report), then the analyses asked for: diversity, perplexity, probe, vectors,\n"
        "activations, retrieval. Every step is an xgd command, run as recorded. OUT/provenance.json records versions,\n"
        "every step's state, commands, seed, input fingerprints and timing. Complete steps are skipped, interrupted ones\n"
        "resume or are redone, stale ones (command or input changed) are redone. Keys: output_dir, base_model, tokenizer?,\n"
        "dpo {data_dir, use_lora?, any xgd dpo flag name, language?}, prompts {path, languages?, limit?}, generation {N,\n"
        "max_tokens, temperature, top_p, top_k?, seed}, scorer {backend: lexicon|classifier|perspective, lexicon?, model?,\n"
        "qps?} (the Perspective key comes from PERSPECTIVE_API_KEY), metrics {bootstrap?, seed?, threshold?}; optional:\n"
        "diversity {tokenizer?, standard?}, perplexity {model | corrected: true, tokenizer?, max_ppl?}, probe {file |\n"
        "train_fp, val_fp?, text_column?, label_column?, layer?, pooling?, epochs?, batch_size?, learning_rate?, seed?,\n"
        "max_length?, max_pairs?} (no train_fp: the DPO pairs, chosen = 0, rejected = 1), vectors {topk?, project?,\n"
        "prompts? (false: no filter), steps?, max_prompts?}, activations {neurons?, steps?, batch?, max_prompts?,\n"
        "prompt_dir?, prompt_pattern?, languages?}, retrieval {aligned_text_dir, lang1?, lang2, pattern?, pooling?,\n"
        "batch?, max_sentences?}. See README (xgd run).", opts, 1, 1};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    return xgd_study_run(pos[0], dry) == 0 ? 0 : cli_error();
}
