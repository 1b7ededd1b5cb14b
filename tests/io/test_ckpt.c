/* Checkpoint folders: transformers' sharding rule and index file, sharded loading equal to
 * single-file loading, folder search order, index errors, and the Hugging Face cache resolver. */
#include "test.h"
#include "io/checkpoint.h"
#include "base/err.h"
#include "base/fs.h"
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[4096];

static char *path2(const char *a, const char *b) {
    static char buf[4][4300];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", a, b);
    return buf[k];
}

/* Tensors "t0".."t{n-1}" of F32 with the given element counts, filled with distinct values. */
static xgd_tensor *make(const int64_t *numel, size_t n, float **store) {
    xgd_tensor *t = xgd_calloc(n, sizeof *t);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += (size_t)numel[i];
    *store = xgd_malloc(total * sizeof(float) + 4);
    float *p = *store;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer.%zu.w", i);
        t[i].name = xgd_strdup(name);
        t[i].dtype = XGD_F32;
        t[i].ndim = 1;
        t[i].shape[0] = numel[i];
        t[i].data = p;
        t[i].nbytes = (size_t)numel[i] * 4;
        for (int64_t j = 0; j < numel[i]; j++) *p++ = (float)(i * 1000 + (size_t)j);
    }
    return t;
}

static void free_made(xgd_tensor *t, size_t n, float *store) {
    for (size_t i = 0; i < n; i++) free((char *)t[i].name);
    free(t);
    free(store);
}

/* Which shard file the index assigns to a tensor. */
static const char *shard_of(json_t *idx, const char *name) {
    return json_string_value(json_object_get(json_object_get(idx, "weight_map"), name));
}

static void same_tensors(xgd_ckpt *c, const xgd_tensor *t, size_t n) {
    CHECK(xgd_ckpt_count(c) == n);
    for (size_t i = 0; i < n; i++) {
        const xgd_tensor *g = xgd_ckpt_find(c, t[i].name);
        CHECK_MSG(g != NULL, "missing %s", t[i].name);
        if (g) CHECK(g->nbytes == t[i].nbytes && g->shape[0] == t[i].shape[0] && memcmp(g->data, t[i].data, g->nbytes) == 0);
    }
}

static void write_text(const char *path, const char *s);

static void test_sharding(void) {
    /* huggingface_hub's docstring example: limit 10, sizes [6,6,2,6,2,2] -> [6], [6+2], [6+2+2]
     * (in units of 4-byte floats, limit 40 bytes). */
    int64_t sizes[] = {6, 6, 2, 6, 2, 2};
    float *store;
    xgd_tensor *t = make(sizes, 6, &store);
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/sharded", g_dir);
    CHECK_MSG(xgd_ckpt_write_folder(dir, t, 6, 40) == 0, "%s", xgd_errmsg());
    CHECK(!xgd_is_file(path2(dir, "model.safetensors")));
    CHECK(xgd_is_file(path2(dir, "model-00001-of-00003.safetensors")));
    CHECK(xgd_is_file(path2(dir, "model-00003-of-00003.safetensors")));
    json_error_t e;
    json_t *idx = json_load_file(path2(dir, "model.safetensors.index.json"), 0, &e);
    CHECK(idx != NULL);
    if (idx) {
        CHECK(json_integer_value(json_object_get(json_object_get(idx, "metadata"), "total_size")) == 24 * 4);
        CHECK_STR(shard_of(idx, "layer.0.w"), "model-00001-of-00003.safetensors");
        CHECK_STR(shard_of(idx, "layer.1.w"), "model-00002-of-00003.safetensors");
        CHECK_STR(shard_of(idx, "layer.2.w"), "model-00002-of-00003.safetensors");
        CHECK_STR(shard_of(idx, "layer.3.w"), "model-00003-of-00003.safetensors");
        CHECK_STR(shard_of(idx, "layer.5.w"), "model-00003-of-00003.safetensors");
        json_decref(idx);
    }
    /* exact index text: json.dumps(indent=2, sort_keys=True) + "\n" */
    char *text;
    CHECK(xgd_read_file(path2(dir, "model.safetensors.index.json"), &text, NULL) == 0);
    const char *want =
        "{\n  \"metadata\": {\n    \"total_size\": 96\n  },\n  \"weight_map\": {\n"
        "    \"layer.0.w\": \"model-00001-of-00003.safetensors\",\n"
        "    \"layer.1.w\": \"model-00002-of-00003.safetensors\",\n"
        "    \"layer.2.w\": \"model-00002-of-00003.safetensors\",\n"
        "    \"layer.3.w\": \"model-00003-of-00003.safetensors\",\n"
        "    \"layer.4.w\": \"model-00003-of-00003.safetensors\",\n"
        "    \"layer.5.w\": \"model-00003-of-00003.safetensors\"\n  }\n}\n";
    CHECK_STR(text, want);
    free(text);

    /* sharded loading == single-file loading */
    xgd_ckpt *c = NULL;
    CHECK_MSG(xgd_ckpt_open(&c, dir) == 0, "%s", xgd_errmsg());
    if (c) {
        CHECK_STR(xgd_ckpt_format(c), "safetensors (sharded, 3 files)");
        same_tensors(c, t, 6);
        xgd_ckpt_close(c);
    }
    CHECK(xgd_ckpt_open(&c, path2(dir, "model.safetensors.index.json")) == 0);
    if (c) xgd_ckpt_close(c);

    /* re-saving unsharded removes the shards and the index, and nothing else */
    write_text(path2(dir, "config.json"), "{}");
    write_text(path2(dir, "model-1-of-3.safetensors"), "x");
    CHECK(xgd_ckpt_write_folder(dir, t, 6, 0) == 0);
    CHECK(xgd_is_file(path2(dir, "config.json")) && xgd_is_file(path2(dir, "model-1-of-3.safetensors")));
    CHECK(xgd_is_file(path2(dir, "model.safetensors")));
    CHECK(!xgd_is_file(path2(dir, "model.safetensors.index.json")));
    CHECK(!xgd_is_file(path2(dir, "model-00001-of-00003.safetensors")));
    CHECK(xgd_ckpt_open(&c, dir) == 0);
    if (c) { CHECK_STR(xgd_ckpt_format(c), "safetensors"); same_tensors(c, t, 6); xgd_ckpt_close(c); }
    /* and sharding again removes the single file (it would win the search order) */
    CHECK(xgd_ckpt_write_folder(dir, t, 6, 40) == 0);
    CHECK(!xgd_is_file(path2(dir, "model.safetensors")));
    free_made(t, 6, store);

    /* a tensor over the limit is its own shard, listed before the still-open shard */
    int64_t s2[] = {2, 12, 2};
    t = make(s2, 3, &store);
    snprintf(dir, sizeof dir, "%s/big", g_dir);
    CHECK(xgd_ckpt_write_folder(dir, t, 3, 40) == 0);
    idx = json_load_file(path2(dir, "model.safetensors.index.json"), 0, &e);
    CHECK(idx != NULL);
    if (idx) {
        CHECK_STR(shard_of(idx, "layer.1.w"), "model-00001-of-00002.safetensors");
        CHECK_STR(shard_of(idx, "layer.0.w"), "model-00002-of-00002.safetensors");
        CHECK_STR(shard_of(idx, "layer.2.w"), "model-00002-of-00002.safetensors");
        json_decref(idx);
    }
    free_made(t, 3, store);

    /* names that need escaping: the index is byte-equal to Python's json.dumps(indent=2,
     * sort_keys=True) (ensure_ascii: lowercase \\u escapes, surrogate pairs) */
    float v[2] = {1, 2};
    xgd_tensor odd[2] = {
        {.name = "caf\xc3\xa9.\xf0\x9f\x98\x80", .dtype = XGD_F32, .ndim = 1, .shape = {1}, .data = v, .nbytes = 4},
        {.name = "b\"q\\\t\x7f", .dtype = XGD_F32, .ndim = 1, .shape = {1}, .data = v + 1, .nbytes = 4},
    };
    snprintf(dir, sizeof dir, "%s/escapes", g_dir);
    CHECK(xgd_ckpt_write_folder(dir, odd, 2, 4) == 0);
    CHECK(xgd_read_file(path2(dir, "model.safetensors.index.json"), &text, NULL) == 0);
    CHECK_STR(text, "{\n  \"metadata\": {\n    \"total_size\": 8\n  },\n  \"weight_map\": {\n"
                    "    \"b\\\"q\\\\\\t\\u007f\": \"model-00002-of-00002.safetensors\",\n"
                    "    \"caf\\u00e9.\\ud83d\\ude00\": \"model-00001-of-00002.safetensors\"\n  }\n}\n");
    free(text);
    CHECK(xgd_ckpt_open(&c, dir) == 0);
    if (c) { same_tensors(c, odd, 2); xgd_ckpt_close(c); }
}

static void write_text(const char *path, const char *s) { CHECK(xgd_write_file_atomic(path, s, strlen(s)) == 0); }

static void expect_open_fail(const char *path, const char *want) {
    xgd_ckpt *c = NULL;
    CHECK_MSG(xgd_ckpt_open(&c, path) != 0, "%s opened", path);
    CHECK_MSG(strstr(xgd_errmsg(), want) != NULL, "message '%s' lacks '%s'", xgd_errmsg(), want);
    if (c) xgd_ckpt_close(c);
}

static void test_folders(void) {
    int64_t sizes[] = {3, 3};
    float *store;
    xgd_tensor *t = make(sizes, 2, &store);
    char dir[4300], idx[4400], empty[4300], both[4300];
    snprintf(dir, sizeof dir, "%s/bad_index", g_dir);
    CHECK(xgd_ckpt_write_folder(dir, t, 2, 12) == 0);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    /* sizes 12 and 12 bytes with a 12-byte limit: one tensor per shard */
    write_text(idx, "{\"metadata\":{},\"weight_map\":{\"layer.0.w\":\"model-00002-of-00002.safetensors\","
                    "\"layer.1.w\":\"model-00001-of-00002.safetensors\"}}");
    expect_open_fail(dir, "is listed in model-0000");
    expect_open_fail(dir, "but is stored in another shard");
    write_text(idx, "{\"metadata\":{},\"weight_map\":{\"layer.1.w\":\"model-00002-of-00002.safetensors\","
                    "\"ghost\":\"model-00002-of-00002.safetensors\"}}");
    expect_open_fail(dir, "tensor 'ghost' is listed in model-00002-of-00002.safetensors but that shard does not hold it");
    write_text(idx, "{\"metadata\":{},\"weight_map\":{\"layer.0.w\":\"model-00001-of-00002.safetensors\","
                    "\"layer.1.w\":\"model-00002-of-00002.safetensors\"}}");
    xgd_ckpt *c = NULL;
    CHECK_MSG(xgd_ckpt_open(&c, dir) == 0, "%s", xgd_errmsg());
    if (c) { same_tensors(c, t, 2); xgd_ckpt_close(c); }
    write_text(idx, "{\"weight_map\":{\"layer.0.w\":\"../x.safetensors\"}}");
    expect_open_fail(dir, "not a plain relative name");
    write_text(idx, "{\"weight_map\":{\"layer.0.w\":\"missing.safetensors\"}}");
    expect_open_fail(dir, "missing.safetensors");
    write_text(idx, "{\"metadata\":{}}");
    expect_open_fail(dir, "no \"weight_map\"");
    /* the same tensor in two shards is refused */
    write_text(idx, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}");
    xgd_tensor a = t[0];
    a.name = "a";
    CHECK(xgd_st_write(path2(dir, "s1.safetensors"), &a, 1, NULL) == 0);
    xgd_tensor ab[2] = {a, t[1]};
    ab[1].name = "b";
    CHECK(xgd_st_write(path2(dir, "s2.safetensors"), ab, 2, NULL) == 0);
    expect_open_fail(dir, "tensor 'a' appears twice");

    /* empty folder: the message lists the names looked for */
    snprintf(empty, sizeof empty, "%s/empty", g_dir);
    CHECK(xgd_mkdir_p(empty) == 0);
    expect_open_fail(empty, "model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json");
    expect_open_fail(path2(g_dir, "nonexistent"), "no such file or folder");

    /* search order: model.safetensors wins over a pytorch_model.bin beside it (here a bogus one) */
    snprintf(both, sizeof both, "%s/both", g_dir);
    CHECK(xgd_ckpt_write_folder(both, t, 2, 0) == 0);
    write_text(path2(both, "pytorch_model.bin"), "not a zip");
    CHECK(xgd_ckpt_open(&c, both) == 0);
    if (c) { CHECK_STR(xgd_ckpt_format(c), "safetensors"); xgd_ckpt_close(c); }
    unlink(path2(both, "model.safetensors"));
    expect_open_fail(both, "not a torch.save ZIP archive");
    free_made(t, 2, store);
}

static void mkfile(const char *path, const char *text) {
    char *d = xgd_strdup(path);
    *strrchr(d, '/') = 0;
    CHECK(xgd_mkdir_p(d) == 0);
    free(d);
    write_text(path, text);
}

static void test_hub_cache(void) {
    const char *hash = "0123456789abcdef0123456789abcdef01234567", *hash2 = "fedcba9876543210fedcba9876543210fedcba98";
    char cache[4200], home[4200], p[8192];
    snprintf(cache, sizeof cache, "%s/hub_cache", g_dir);
    snprintf(home, sizeof home, "%s/hf_home", g_dir);
    snprintf(p, sizeof p, "%s/models--org--name/refs/main", cache);
    mkfile(p, hash);
    snprintf(p, sizeof p, "%s/models--org--name/refs/v1", cache);
    mkfile(p, hash2);
    snprintf(p, sizeof p, "%s/models--org--name/snapshots/%s/config.json", cache, hash);
    mkfile(p, "{}");
    snprintf(p, sizeof p, "%s/models--org--name/snapshots/%s/config.json", cache, hash2);
    mkfile(p, "{}");
    snprintf(p, sizeof p, "%s/hub/models--gpt2/refs/main", home);
    mkfile(p, hash);
    snprintf(p, sizeof p, "%s/hub/models--gpt2/snapshots/%s/config.json", home, hash);
    mkfile(p, "{}");
    setenv("HF_HUB_CACHE", cache, 1);
    unsetenv("HUGGINGFACE_HUB_CACHE");
    setenv("HF_HOME", home, 1);
    setenv("XDG_CACHE_HOME", g_dir, 1);

    char want[8192];
    char *r = xgd_resolve_model("org/name");
    snprintf(want, sizeof want, "%s/models--org--name/snapshots/%s", cache, hash);
    CHECK_STR(r, want);
    free(r);
    r = xgd_resolve_model("org/name@v1");
    snprintf(want, sizeof want, "%s/models--org--name/snapshots/%s", cache, hash2);
    CHECK_STR(r, want);
    free(r);
    r = xgd_resolve_model("org/name@fedcba9876543210fedcba9876543210fedcba98");
    CHECK_STR(r, want);
    free(r);
    r = xgd_resolve_model("gpt2"); /* found under $HF_HOME/hub */
    snprintf(want, sizeof want, "%s/hub/models--gpt2/snapshots/%s", home, hash);
    CHECK_STR(r, want);
    free(r);
    r = xgd_resolve_model(g_dir); /* an existing path is used as is */
    CHECK_STR(r, g_dir);
    free(r);

    /* missing: the message lists every place looked at */
    CHECK(xgd_resolve_model("org/other") == NULL);
    const char *msg = xgd_errmsg();
    snprintf(want, sizeof want, "%s/models--org--other (missing)", cache);
    CHECK_MSG(strstr(msg, want) != NULL, "%s", msg);
    snprintf(want, sizeof want, "%s/hub/models--org--other (missing)", home);
    CHECK_MSG(strstr(msg, want) != NULL, "%s", msg);
    snprintf(want, sizeof want, "%s/huggingface/hub/models--org--other (missing)", g_dir);
    CHECK_MSG(strstr(msg, want) != NULL, "%s", msg);
    CHECK(strstr(msg, ".cache/huggingface/hub/models--org--other") != NULL || !getenv("HOME"));
    CHECK(xgd_resolve_model("org/name@nope") == NULL);
    snprintf(want, sizeof want, "%s/models--org--name/refs/nope (missing)", cache);
    CHECK_MSG(strstr(xgd_errmsg(), want) != NULL, "%s", xgd_errmsg());
    CHECK(xgd_resolve_model("../no-such-dir/x") == NULL);
    CHECK(xgd_resolve_model("a/b/c") == NULL);
    CHECK(strstr(xgd_errmsg(), "not a hub id") != NULL);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s", test_tmpdir("io_ckpt"));
    test_sharding();
    test_folders();
    test_hub_cache();
    return test_done("io/test_ckpt");
}
