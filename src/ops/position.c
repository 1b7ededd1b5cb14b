/* Position biases that are not rotary: BLOOM's ALiBi slopes and T5's relative-position buckets,
 * both evaluated in fp32 the way transformers does, since bucket edges depend on the rounding. */
#include "ops/ops.h"
#include <math.h>

/* transformers build_alibi_tensor: slopes base^k for the largest power of two p <= nH, base =
 * 2^(-8/p); the remaining heads take odd powers of 2^(-4/p). pow is evaluated in fp32. */
void xgd_alibi_slopes(float *slopes, int nH) {
    int p = 1;
    while (p * 2 <= nH) p *= 2;
    const float base = (float)pow(2.0, -pow(2.0, -(log2((double)p) - 3.0)));
    for (int i = 0; i < p; i++) slopes[i] = powf(base, (float)(i + 1));
    if (p != nH) {
        const float extra = (float)pow(2.0, -pow(2.0, -(log2((double)(2 * p)) - 3.0)));
        const int r = p < nH - p ? p : nH - p;
        for (int k = 0; k < r; k++) slopes[p + k] = powf(extra, (float)(2 * k + 1));
    }
}

/* T5 _relative_position_bucket for rel = key_pos - query_pos. Large distances fall into
 * log-spaced buckets; the log ratio is computed in fp32 and truncated toward zero as HF does. */
int xgd_t5_bucket(int rel, int bidirectional, int num_buckets, int max_distance) {
    int bucket = 0, n;
    if (bidirectional) {
        num_buckets /= 2;
        if (rel > 0) bucket += num_buckets;
        n = rel < 0 ? -rel : rel;
    } else {
        n = rel < 0 ? -rel : 0;
    }
    const int max_exact = num_buckets / 2;
    if (n < max_exact) return bucket + n;
    const float lg = logf((float)n / (float)max_exact) / (float)log((double)max_distance / max_exact);
    int large = max_exact + (int)(lg * (float)(num_buckets - max_exact));
    if (large > num_buckets - 1) large = num_buckets - 1;
    return bucket + large;
}
