#include "train/merge.h"
#include "model/lora.h"
#include "train/params.h"
#include "train/save.h"

int xgd_merge_adapter(const char *base, const char *adapter_dir, const char *out_dir, xgd_dtype dtype, int *n_merged) {
    xgd_model *m;
    if (xgd_model_load(&m, base) != 0) return -1;
    if (dtype == XGD_DTYPE_COUNT) dtype = m->g.embed.dtype;
    xgd_params p;
    xgd_params_init(&p, m);      /* f32, writable */
    xgd_adapter *a = NULL;
    int rc = xgd_adapter_load(&a, m, adapter_dir);
    if (rc == 0) { *n_merged = a->n; rc = xgd_adapter_merge(a); }
    if (rc == 0) rc = xgd_save_hf_folder(&p, m->path, out_dir, dtype);
    xgd_adapter_free(a);
    xgd_params_free(&p);
    xgd_model_free(m);
    return rc;
}
