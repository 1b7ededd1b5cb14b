/* Checkpoints: named tensors read from a Hugging Face folder (model.safetensors, sharded
 * safetensors with model.safetensors.index.json, pytorch_model.bin, or sharded .bin), and written
 * as safetensors files that the reference implementation accepts byte for byte.
 *
 * Safetensors data stays memory-mapped: a tensor's `data` points into the mapping and keeps the
 * stored dtype. .bin tensors are read through a safe pickle subset (nothing is executed) into
 * owned buffers. Every error names the file and, where it applies, the tensor. */
#ifndef XGD_IO_CHECKPOINT_H
#define XGD_IO_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "base/dtype.h"

#define XGD_MAX_DIMS 8

typedef struct {
    const char *name;
    xgd_dtype dtype;
    int ndim;
    int64_t shape[XGD_MAX_DIMS];
    const void *data;        /* may be unaligned for third-party files; use memcpy-safe access */
    size_t nbytes;
    const char *file;        /* the file it came from (for error messages) */
} xgd_tensor;

static inline int64_t xgd_tensor_numel(const xgd_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

typedef struct xgd_ckpt xgd_ckpt;

/* Open a checkpoint from a folder (search order as transformers: model.safetensors,
 * model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json) or from one
 * .safetensors / .bin file. */
int xgd_ckpt_open(xgd_ckpt **out, const char *path);
void xgd_ckpt_close(xgd_ckpt *c);
size_t xgd_ckpt_count(const xgd_ckpt *c);
const xgd_tensor *xgd_ckpt_at(const xgd_ckpt *c, size_t i);
/* Find by exact name; NULL if absent. */
const xgd_tensor *xgd_ckpt_find(const xgd_ckpt *c, const char *name);
/* (Added) On NULL, find also records a message (xgd_errmsg): "no tensor named X", or, for a tensor
 * stored with a dtype the toolkit cannot compute with (F8_*, F4, F6_*, C64; such files still open
 * and those tensors are left out of count/at), which dtype it has. This returns that dtype's
 * safetensors spelling, or NULL when the name is absent or usable. */
const char *xgd_ckpt_unsupported_dtype(const xgd_ckpt *c, const char *name);
/* "safetensors", "safetensors (sharded, N files)", "pytorch .bin", ... */
const char *xgd_ckpt_format(const xgd_ckpt *c);
/* The __metadata__ of the (first) safetensors file as a JSON object text, or NULL. */
const char *xgd_ckpt_metadata(const xgd_ckpt *c);

/* ---- safetensors, one file ------------------------------------------------------------------ */
/* Validate and map one file. Rejections (each a clear message naming the file): shorter than 8
 * bytes, header length > 100,000,000 or past the end, header not a JSON object starting with '{',
 * unknown dtype, shape/byte-span mismatch, offsets not starting at 0, holes or overlaps, bytes
 * after the last tensor, duplicate names, non-string metadata values. */
typedef struct xgd_st_file xgd_st_file;
int xgd_st_open(xgd_st_file **out, const char *path);
void xgd_st_close(xgd_st_file *f);
size_t xgd_st_count(const xgd_st_file *f);
const xgd_tensor *xgd_st_at(const xgd_st_file *f, size_t i);

/* Write tensors (any order given) as one safetensors file, atomically: tensors sorted by dtype
 * (descending enum order of the reference) then name, offsets contiguous from 0, header JSON with
 * __metadata__ first ({"format":"pt"} plus the given string pairs), padded with spaces to a
 * multiple of 8. meta_kv is NULL or a NULL-terminated list of key, value, key, value, ... */
int xgd_st_write(const char *path, const xgd_tensor *tensors, size_t n, const char *const *meta_kv);

/* Write a checkpoint folder's weights: one model.safetensors when the total is <= max_shard_bytes
 * (0 = no limit), else model-0000k-of-0000N.safetensors shards plus model.safetensors.index.json
 * (indent 2, sorted keys, metadata.total_size), as transformers' save_pretrained does. */
int xgd_ckpt_write_folder(const char *dir, const xgd_tensor *tensors, size_t n, uint64_t max_shard_bytes);

/* ---- model locations ------------------------------------------------------------------------- */
/* Resolve a model argument to a local folder: an existing path is used as is; otherwise a hub id
 * "org/name" (optionally "org/name@revision") is looked up offline in the Hugging Face cache
 * ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub: models--org--name/refs/<rev>
 * -> snapshots/<hash>/). On failure the message lists every place it looked. Returns a malloc'ed
 * path. */
char *xgd_resolve_model(const char *arg);

#endif
