/* Writing a model folder's weights as transformers' save_pretrained does (it delegates the split to
 * huggingface_hub's split_state_dict_into_shards_factory):
 *   - walk the tensors in the given (state-dict) order; a tensor larger than the limit gets a shard
 *     of its own, appended at once; otherwise, if it would push the current shard over the limit,
 *     the current shard is closed first; total_size sums all byte sizes;
 *   - one shard -> model.safetensors and no index; else model-%05d-of-%05d.safetensors (1-based, in
 *     the order shards were closed) plus model.safetensors.index.json =
 *     json.dumps({"metadata": {"total_size": N}, "weight_map": {...}}, indent=2, sort_keys=True)+"\n".
 * Stale weight files from an earlier save (other shard names, or the single file vs. the index) are
 * removed afterwards, as transformers does, so that the folder's search order cannot pick old
 * weights. Each file is written atomically; the index is written after its shards. */
#include "io/io_internal.h"
#include "base/err.h"
#include "base/pyjson.h"
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Shard index (0-based, in the reference's shard-list order) for each tensor; returns the count.
 * A lone oversized tensor joins the list at once, the open shard only when it closes, so shards
 * get a provisional group id first and their final position when they enter the list. */
static size_t split_like_hf(const xgd_tensor *t, size_t n, uint64_t max, size_t *shard_of) {
    const size_t NONE = (size_t)-1;
    size_t *final = xgd_malloc((n ? n : 1) * sizeof *final), groups = 0, listed = 0, open = NONE;
    uint64_t open_size = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t sz = t[i].nbytes;
        if (max && sz > max) { final[groups] = listed++; shard_of[i] = groups++; continue; }
        if (open != NONE && open_size + sz > max && max) { final[open] = listed++; open = NONE; open_size = 0; }
        if (open == NONE) open = groups++;
        shard_of[i] = open;
        open_size += sz;
    }
    if (open != NONE) final[open] = listed++;
    for (size_t i = 0; i < n; i++) shard_of[i] = final[shard_of[i]];
    free(final);
    return listed;
}

/* "model-DDDDD-of-DDDDD.safetensors", exactly as the writer names shards. */
static int is_shard_name(const char *nm) {
    const char *pat = "model-#####-of-#####.safetensors";
    if (strlen(nm) != strlen(pat)) return 0;
    for (size_t i = 0; pat[i]; i++)
        if (pat[i] == '#' ? !isdigit((unsigned char)nm[i]) : nm[i] != pat[i]) return 0;
    return 1;
}

/* Remove weight files of an earlier save that are not in `keep` (a NULL-terminated list). */
static void remove_stale(const char *dir, const char *const *keep) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (strcmp(nm, "model.safetensors") != 0 && strcmp(nm, "model.safetensors.index.json") != 0 && !is_shard_name(nm))
            continue;
        int kept = 0;
        for (size_t i = 0; keep[i]; i++) kept |= strcmp(keep[i], nm) == 0;
        if (kept) continue;
        char *p = xgd_path_join(dir, nm);
        unlink(p);
        free(p);
    }
    closedir(d);
}


static int cmp_name(const void *a, const void *b) {
    return strcmp(((const xgd_tensor *const *)a)[0]->name, ((const xgd_tensor *const *)b)[0]->name);
}

/* The index exactly as json.dumps(index, indent=2, sort_keys=True) + "\n" prints it (keys sorted
 * by code point, which for UTF-8 is bytewise order). */
static int write_index(const char *dir, const xgd_tensor *t, size_t n, const size_t *shard_of, char **names, uint64_t total) {
    const xgd_tensor **order = xgd_malloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++) order[i] = &t[i];
    qsort(order, n, sizeof *order, cmp_name);
    char *p = xgd_path_join(dir, "model.safetensors.index.json");
    xgd_atomic_file af;
    int rc = xgd_atomic_open(&af, p);
    if (rc == 0) {
        fprintf(af.fp, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {", (unsigned long long)total);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ",\n    " : "\n    ", af.fp);
            xgd_pyjson_str(af.fp, order[i]->name);
            fputs(": ", af.fp);
            xgd_pyjson_str(af.fp, names[shard_of[order[i] - t]]);
        }
        fputs(n ? "\n  }\n}\n" : "}\n}\n", af.fp);
        rc = xgd_atomic_commit(&af);
    }
    free(p);
    free(order);
    return rc;
}

int xgd_ckpt_write_folder(const char *dir, const xgd_tensor *tensors, size_t n, uint64_t max_shard_bytes) {
    if (xgd_mkdir_p(dir) != 0) return -1;
    size_t *shard_of = xgd_malloc((n ? n : 1) * sizeof *shard_of);
    size_t ns = split_like_hf(tensors, n, max_shard_bytes, shard_of);
    int rc = 0;
    if (ns <= 1) {
        char *p = xgd_path_join(dir, "model.safetensors");
        rc = xgd_st_write(p, tensors, n, NULL);
        free(p);
        const char *keep[] = {"model.safetensors", NULL};
        if (rc == 0) remove_stale(dir, keep);
        free(shard_of);
        return rc;
    }
    char **names = xgd_calloc(ns + 2, sizeof *names);
    xgd_tensor *part = xgd_malloc(n * sizeof *part);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += tensors[i].nbytes;
    for (size_t s = 0; s < ns && rc == 0; s++) {
        names[s] = xgd_malloc(64);
        snprintf(names[s], 64, "model-%05zu-of-%05zu.safetensors", s + 1, ns);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (shard_of[i] == s) part[k++] = tensors[i];
        char *p = xgd_path_join(dir, names[s]);
        rc = xgd_st_write(p, part, k, NULL);
        free(p);
    }
    if (rc == 0) {
        /* an old single file would win the folder search order over the index: drop it first */
        char *old = xgd_path_join(dir, "model.safetensors");
        unlink(old);
        free(old);
        rc = write_index(dir, tensors, n, shard_of, names, total);
    }
    if (rc == 0) {
        names[ns] = "model.safetensors.index.json";
        remove_stale(dir, (const char *const *)names);
        names[ns] = NULL;
    }
    for (size_t s = 0; s < ns; s++) free(names[s]);
    free(names);
    free(part);
    free(shard_of);
    return rc;
}
