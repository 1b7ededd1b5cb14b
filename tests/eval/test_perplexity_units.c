/* The pieces of the seed's perplexity metric on hand-computed values (pipeline-spec.md §5.3):
 * the (L-1)-scaled formula, |F| == |P| giving inf/nan (then dropped by the < 1e4 filter), numpy's
 * midpoint percentile, numpy's rounding to 2 decimals, Python's str.strip() blank test, and the
 * summary of a values list. */
#include "test.h"
#include "eval/perplexity.h"

int main(void) {
    /* full = 2*(5-1) = 8, pr = 1*(3-1) = 2, loss = (8-2)/(5-3) = 3 */
    CHECK_NEAR(xgd_ppl_seed_formula(2.0f, 5, 1.0f, 3), expf(3.0f), 1e-4);
    /* the quirk: not exp of the mean of the continuation's CE (which would need L, not L-1) */
    CHECK_NEAR(xgd_ppl_seed_formula(1.5f, 4, 1.5f, 2), expf((1.5f * 3 - 1.5f) / 2), 1e-6);
    float same = xgd_ppl_seed_formula(2.0f, 4, 1.0f, 4), zero = xgd_ppl_seed_formula(1.0f, 4, 1.0f, 4);
    CHECK(isinf(same) && !(same < 1e4f));   /* (6-3)/0 = inf */
    CHECK(isnan(zero) && !(zero < 1e4f));   /* 0/0 = nan */

    double a[] = {1, 2, 3, 4};
    CHECK_NEAR(xgd_percentile_midpoint(a, 4, 0.5), 2.5, 0);
    CHECK_NEAR(xgd_percentile_midpoint(a, 4, 0.25), 1.5, 0);    /* v = 0.75: (a[0]+a[1])/2 */
    CHECK_NEAR(xgd_percentile_midpoint(a, 4, 0.75), 3.5, 0);
    double b[] = {1, 2, 4, 8, 16};
    CHECK_NEAR(xgd_percentile_midpoint(b, 5, 0.25), 2, 0);      /* v = 1 exactly */
    CHECK_NEAR(xgd_percentile_midpoint(b, 5, 0.5), 4, 0);
    CHECK(isnan(xgd_percentile_midpoint(b, 0, 0.5)));

    float v[] = {16, 1, 8, 2, 4};   /* unsorted, as the file order */
    xgd_ppl_result r = {0};
    xgd_ppl_stats(v, 5, &r);
    CHECK_NEAR(r.median, 4, 0);
    CHECK_NEAR(r.q1, 2, 0);
    CHECK_NEAR(r.q3, 8, 0);
    CHECK_NEAR(r.mean, 6.2, 1e-12);
    r.median = 2.675;   /* numpy scales first: 2.675*100 == 267.5 in double, rint -> 268 (Python's round: 2.67) */
    r.q1 = 1005.0;
    r.q3 = 0.125;       /* exact tie: half to even */
    xgd_ppl_round(&r);
    CHECK_NEAR(r.median, 2.68, 1e-12);
    CHECK_NEAR(r.q1, 1005.0, 1e-9);
    CHECK_NEAR(r.q3, 0.12, 1e-12);

    CHECK(xgd_ppl_blank("", 0));
    CHECK(xgd_ppl_blank(" \t\n\r\v\f", 6));
    CHECK(xgd_ppl_blank("\xe3\x80\x80\xc2\xa0\xe2\x80\xa8\x1c", 9));   /* U+3000, U+00A0, U+2028, \x1c */
    CHECK(!xgd_ppl_blank("\xe2\x80\x8b", 3));   /* U+200B is not whitespace for Python */
    CHECK(!xgd_ppl_blank(" a ", 3));
    CHECK(!xgd_ppl_blank("\xe3\x80", 2));       /* a truncated sequence is not blank */
    return test_done("test_perplexity_units");
}
