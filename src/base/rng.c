#include "base/rng.h"
#include <math.h>

static void philox_block(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]) {
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void xgd_rng_init(xgd_rng *r, uint64_t seed, uint64_t stream) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = r->ctr[1] = 0;
    r->ctr[2] = (uint32_t)stream;
    r->ctr[3] = (uint32_t)(stream >> 32);
    r->used = 4;
}

uint32_t xgd_rng_u32(xgd_rng *r) {
    if (r->used == 4) {
        philox_block(r->ctr, r->key, r->buf);
        if (++r->ctr[0] == 0) r->ctr[1]++;
        r->used = 0;
    }
    return r->buf[r->used++];
}

uint64_t xgd_rng_u64(xgd_rng *r) {
    uint64_t hi = xgd_rng_u32(r);
    return (hi << 32) | xgd_rng_u32(r);
}

float xgd_rng_uniform(xgd_rng *r) { return (float)(xgd_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }
double xgd_rng_uniform_d(xgd_rng *r) { return (double)(xgd_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

float xgd_rng_normal(xgd_rng *r) {
    double u1 = xgd_rng_uniform_d(r), u2 = xgd_rng_uniform_d(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t xgd_rng_below(xgd_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do x = xgd_rng_u64(r); while (x >= lim);
    return x % n;
}
