/* xgd init: write a random checkpoint folder in Hugging Face format. */
#include "cli/args.h"
#include "base/err.h"
#include "base/json.h"
#include "model/init.h"
#include <stdio.h>

int cmd_init(int argc, char **argv) {
    const char *family = NULL, *config = NULL, *out = NULL, *dtype_s = "f32";
    long seed = 0;
    const opt_spec opts[] = {
        {"family", OPT_STR, &family, "F", "model family: gpt2, bloom, llama, cohere"},
        {"config", OPT_STR, &config, "CONFIG.json", "hyperparameters in config.json spelling; missing keys take the family defaults"},
        {"out", OPT_STR, &out, "DIR", "output folder (config.json, generation_config.json, model.safetensors)"},
        {"dtype", OPT_STR, &dtype_s, "f32|bf16|f16", "stored dtype of the weights (default f32)"},
        {"seed", OPT_INT, &seed, "S", "random seed (default 0); the same seed writes the same bytes"},
        {0},
    };
    const cmd_spec spec = {"init", "xgd init --family F --config CONFIG.json --out DIR [--dtype f32|bf16|f16] [--seed S]",
        "Writes a random checkpoint in Hugging Face format. Every parameter is random (matrices N(0, std),\n"
        "norm weights 1+N(0, std), biases N(0, std), std = initializer_range or 0.02), so tests exercise each one.",
        opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "family", family) || args_require(&spec, "config", config) || args_require(&spec, "out", out)) return 2;
    const xgd_family *fam = xgd_family_find(family);
    if (!fam) { fprintf(stderr, "xgd init: error: unknown family '%s' (known: %s)\n", family, xgd_family_names()); return 2; }
    xgd_dtype dt;
    if (xgd_dtype_parse(dtype_s, &dt) != 0) { fprintf(stderr, "xgd init: error: unknown dtype '%s'\n", dtype_s); return 2; }
    json_t *cfg = xgd_json_load(config);
    if (!cfg) return cli_error();
    if (!json_is_object(cfg)) { json_decref(cfg); fprintf(stderr, "xgd init: error: %s: not a JSON object\n", config); return 1; }
    int rc = xgd_init_checkpoint(fam, cfg, dt, (uint64_t)seed, out);
    json_decref(cfg);
    if (rc != 0) return cli_error();
    printf("{\"out\": \"%s\", \"family\": \"%s\", \"dtype\": \"%s\", \"seed\": %ld}\n", out, fam->model_type, xgd_dtype_torch_name(dt), seed);
    return 0;
}
