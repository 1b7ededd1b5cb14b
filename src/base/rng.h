/* A seeded, counter-based random generator (Philox4x32-10). Each stream is named by (seed, stream
 * id), so sample k of prompt p draws the same numbers whether it runs alone or in a batch. */
#ifndef XGD_BASE_RNG_H
#define XGD_BASE_RNG_H
#include <stdint.h>

typedef struct {
    uint32_t key[2];     /* from the seed */
    uint32_t ctr[4];     /* ctr[2..3] = stream id, ctr[0..1] = block counter */
    uint32_t buf[4];
    int used;            /* words of buf consumed */
} xgd_rng;

void xgd_rng_init(xgd_rng *r, uint64_t seed, uint64_t stream);
uint32_t xgd_rng_u32(xgd_rng *r);
uint64_t xgd_rng_u64(xgd_rng *r);
/* Uniform in [0, 1) with 24 bits (float) or 53 bits (double). */
float xgd_rng_uniform(xgd_rng *r);
double xgd_rng_uniform_d(xgd_rng *r);
/* Standard normal (Box-Muller). */
float xgd_rng_normal(xgd_rng *r);
/* Uniform integer in [0, n). */
uint64_t xgd_rng_below(xgd_rng *r, uint64_t n);

#endif
