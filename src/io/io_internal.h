/* Internal pieces shared by the checkpoint readers (not part of the public API). */
#ifndef XGD_IO_INTERNAL_H
#define XGD_IO_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "io/checkpoint.h"
#include "base/fs.h"

/* A tensor present in a file whose dtype the toolkit cannot compute with (F8_*, F4, F6_*, C64):
 * the file still opens; asking for the tensor reports its dtype. */
typedef struct {
    char *name;
    const char *st_dtype; /* static string, the safetensors spelling */
    const char *file;
} xgd_skipped_tensor;

/* The safetensors dtype table (Dtype in the reference's tensor.rs): spelling, bits per element,
 * position in the reference enum (the writer orders tensors by it, descending), and our dtype or -1. */
typedef struct { const char *name; int bits; int rank; int xgd; } xgd_st_dtype_info;
const xgd_st_dtype_info *xgd_st_dtype_lookup(const char *name);
/* Position of one of our dtypes in the reference enum. */
int xgd_st_dtype_rank(xgd_dtype t);

/* The parts of an opened safetensors file that checkpoint.c collects. */
size_t xgd_st_skipped_count(const xgd_st_file *f);
const xgd_skipped_tensor *xgd_st_skipped_at(const xgd_st_file *f, size_t i);
/* The __metadata__ object as compact JSON text, or NULL when the file has none. */
const char *xgd_st_metadata_json(const xgd_st_file *f);

/* ---- ZIP archives (torch.save since 1.6): stored entries only ---------------------------------- */
typedef struct {
    char *name;
    const uint8_t *data; /* into the mapping */
    uint64_t size;
} xgd_zip_entry;

typedef struct {
    xgd_mapping map;
    xgd_zip_entry *entries; /* sorted by name */
    size_t n;
    char *path;
} xgd_zip;

/* Map and index a ZIP file. Compressed, encrypted or multi-disk archives are refused. */
int xgd_zip_open(xgd_zip *z, const char *path);
void xgd_zip_close(xgd_zip *z);
const xgd_zip_entry *xgd_zip_find(const xgd_zip *z, const char *name);

/* ---- restricted unpickler for torch.save's data.pkl -------------------------------------------- */
/* One tensor record as described by the pickle: which storage (zip key) and how to view it.
 * Offsets and strides are in elements, as torch stores them. */
typedef struct {
    char *name;
    xgd_dtype dtype;
    char *storage_key;
    int64_t storage_numel;
    int64_t offset;
    int ndim;
    int64_t shape[XGD_MAX_DIMS];
    int64_t stride[XGD_MAX_DIMS];
} xgd_pkl_tensor;

/* Run data.pkl through the allow-listed opcode/GLOBAL subset; the result must be a dict of
 * name -> tensor. `what` names the source in messages. Nothing is ever imported or called. */
int xgd_pickle_state_dict(const uint8_t *buf, size_t len, const char *what, xgd_pkl_tensor **out, size_t *n);
void xgd_pkl_tensors_free(xgd_pkl_tensor *t, size_t n);

/* ---- pytorch_model.bin ------------------------------------------------------------------------ */
typedef struct xgd_bin_file xgd_bin_file;
int xgd_bin_open(xgd_bin_file **out, const char *path);
void xgd_bin_close(xgd_bin_file *f);
size_t xgd_bin_count(const xgd_bin_file *f);
const xgd_tensor *xgd_bin_at(const xgd_bin_file *f, size_t i);

#endif
