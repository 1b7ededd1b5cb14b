/* Element types of stored tensors, and the f16/bf16 <-> f32 conversions (exact, as torch does them). */
#ifndef XGD_BASE_DTYPE_H
#define XGD_BASE_DTYPE_H
#include <stdint.h>
#include <string.h>
#include <stddef.h>

typedef enum {
    XGD_F32 = 0, XGD_F16, XGD_BF16, XGD_F64,
    XGD_I64, XGD_I32, XGD_I16, XGD_I8, XGD_U8, XGD_BOOL, XGD_U16, XGD_U32, XGD_U64,
    XGD_DTYPE_COUNT
} xgd_dtype;

/* Bytes per element. */
size_t xgd_dtype_size(xgd_dtype t);
/* safetensors spelling ("F32", "BF16", ...). */
const char *xgd_dtype_st_name(xgd_dtype t);
/* Parse the safetensors spelling; returns -1 if unknown. */
int xgd_dtype_from_st_name(const char *s, xgd_dtype *out);
/* torch/transformers spelling for config.json ("float32", "bfloat16", "float16"). */
const char *xgd_dtype_torch_name(xgd_dtype t);
/* Parse "f32"/"float32"/"bf16"/"bfloat16"/"f16"/"float16"/"half"; -1 if unknown. */
int xgd_dtype_parse(const char *s, xgd_dtype *out);

static inline float xgd_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Round to nearest even, NaN -> 0x7FC0 (torch's rule). */
static inline uint16_t xgd_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float xgd_f16_to_f32(uint16_t h);
uint16_t xgd_f32_to_f16(float f);

/* Convert n elements of type t at src into f32. Supports F32, F16, BF16, F64, integer types. */
void xgd_convert_to_f32(float *dst, const void *src, xgd_dtype t, size_t n);
/* Convert n f32 values into type t (F32, F16, BF16). */
void xgd_convert_from_f32(void *dst, xgd_dtype t, const float *src, size_t n);

#endif
