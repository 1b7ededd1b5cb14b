/* xgd merge: merge a LoRA adapter into its base and write a checkpoint folder (merge_peft.py). */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "train/merge.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The last path component (trailing slashes ignored). */
static void last_component(const char *path, char *out, size_t n) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    size_t s = len;
    while (s > 0 && path[s - 1] != '/') s--;
    snprintf(out, n, "%.*s", (int)(len - s), path + s);
}

int cmd_merge(int argc, char **argv) {
    const char *base = NULL, *adapter = NULL, *out = NULL, *dtype_s = NULL, *exact = NULL;
    const opt_spec opts[] = {
        {"base_model_name", OPT_STR, &base, "MODEL", "base checkpoint folder or hub id in the local HF cache"},
        {"lora_adapter", OPT_STR, &adapter, "DIR", "PEFT adapter folder (adapter_config.json, adapter_model.safetensors)"},
        {"output_dir", OPT_STR, &out, "DIR", "writes DIR/<base name>/lora_<adapter parent>_<adapter name>/ as merge_peft.py does"},
        {"output_path", OPT_STR, &exact, "DIR", "write the merged checkpoint exactly here instead"},
        {"dtype", OPT_STR, &dtype_s, "f32|bf16|f16", "stored dtype (default: the base's; the seed script saved f32)"},
        {0},
    };
    const cmd_spec spec = {"merge", "xgd merge --base_model_name MODEL --lora_adapter DIR --output_dir OUT [--dtype f32|bf16|f16]",
        "Merges W += (alpha/r)·B·A into every adapted weight (transposed for GPT-2 Conv1D and embeddings; a tied\n"
        "embedding/head matrix receives both deltas, as PEFT's merge_and_unload does) and writes a checkpoint\n"
        "folder that transformers and vLLM load: config.json, safetensors, generation config, tokenizer files.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "base_model_name", base) || args_require(&spec, "lora_adapter", adapter)) return 2;
    if (!out && !exact) { fprintf(stderr, "xgd merge: error: --output_dir (or --output_path) is required\n"); return 2; }
    xgd_dtype dt = XGD_DTYPE_COUNT;   /* the base's stored dtype */
    if (dtype_s && xgd_dtype_parse(dtype_s, &dt) != 0) { fprintf(stderr, "xgd merge: error: unknown dtype '%s'\n", dtype_s); return 2; }
    char dest[8192];
    if (exact) snprintf(dest, sizeof dest, "%s", exact);
    else {
        char bname[1024], aname[1024], parent[4096], pname[1024];
        last_component(base, bname, sizeof bname);
        last_component(adapter, aname, sizeof aname);
        snprintf(parent, sizeof parent, "%s/..", adapter);
        char *rp = realpath(parent, NULL);
        last_component(rp ? rp : parent, pname, sizeof pname);
        free(rp);
        snprintf(dest, sizeof dest, "%s/%s/lora_%s_%s", out, bname, pname, aname);
    }
    int n = 0;
    int rc = xgd_merge_adapter(base, adapter, dest, dt, &n);
    if (rc == 0) printf("{\"output\": \"%s\", \"adapters_merged\": %d}\n", dest, n);
    return rc == 0 ? 0 : cli_error();
}
