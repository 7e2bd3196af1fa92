/* The sampler: PRNG reproducibility, the exponential gap distribution, the
 * un-sampling weight, and an end-to-end check that countdown sampling plus
 * the weight gives unbiased totals.  Every statistical check runs at a fixed
 * seed, so it is deterministic; the tolerances are still derived from the
 * statistics so that the check would pass for almost any seed and a real
 * bias would not hide inside them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "record/sampler.h"
#include "aggregate/weight.h"

#define N_DRAWS 1000000

/* ---- PRNG ---- */

static void test_seed_reproducible(void **state)
{
    (void)state;
    hp_rng a, b, c;
    hp_rng_seed(&a, 12345);
    hp_rng_seed(&b, 12345);
    hp_rng_seed(&c, 12346);
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = hp_rng_next(&a);
        assert_true(x == hp_rng_next(&b));
        differs |= x != hp_rng_next(&c);
    }
    assert_true(differs); /* neighbouring seeds give different streams */

    /* Gaps too, not only raw words. */
    hp_rng_seed(&a, 99);
    hp_rng_seed(&b, 99);
    for (int i = 0; i < 1000; i++)
        assert_true(hp_sampler_next_gap(&a, 524288) == hp_sampler_next_gap(&b, 524288));
}

/* Seed 0 must not produce the all-zero xoroshiro state (which would emit
 * zeros forever) and must look random. */
static void test_seed_zero(void **state)
{
    (void)state;
    hp_rng r;
    hp_rng_seed(&r, 0);
    assert_true((r.s[0] | r.s[1]) != 0);
    int ones = 0;
    for (int i = 0; i < 1000; i++)
        ones += __builtin_popcountll(hp_rng_next(&r));
    /* 64000 fair bits: mean 32000, sd 126; 5 sd band. */
    assert_in_range(ones, 32000 - 632, 32000 + 632);
}

/* The known first outputs for seed 0 pin the algorithm (splitmix64 ->
 * xoroshiro128++), so an accidental change of the generator, which would
 * silently change every "reproducible" profile, is caught. */
static void test_known_sequence(void **state)
{
    (void)state;
    hp_rng r;
    hp_rng_seed(&r, 0);
    /* splitmix64(0) first two outputs, a published reference pair. */
    assert_true(r.s[0] == 0xe220a8397b1dcdafull);
    assert_true(r.s[1] == 0x6e789e6aa1b965f4ull);
    /* first xoroshiro128++ output: rotl(s0 + s1, 17) + s0 */
    uint64_t sum = r.s[0] + r.s[1];
    uint64_t want = ((sum << 17) | (sum >> 47)) + r.s[0];
    assert_true(hp_rng_next(&r) == want);
}

static void test_unit_range(void **state)
{
    (void)state;
    hp_rng r;
    double sum = 0, mn = 2, mx = -1;
    hp_rng_seed(&r, 7);
    for (int i = 0; i < N_DRAWS; i++) {
        double u = hp_rng_unit(&r);
        assert_true(u > 0.0 && u <= 1.0);
        sum += u;
        mn = u < mn ? u : mn;
        mx = u > mx ? u : mx;
    }
    /* mean of U(0,1]: 0.5, sd of the mean sqrt(1/12/n) = 2.9e-4; 5 sd band */
    assert_true(fabs(sum / N_DRAWS - 0.5) < 5 * sqrt(1.0 / 12 / N_DRAWS));
    assert_true(mn < 1e-5 && mx > 1 - 1e-5);
}

/* ---- gaps ---- */

static void test_gap_edge_rates(void **state)
{
    (void)state;
    hp_rng r;
    hp_rng_seed(&r, 1);
    for (int i = 0; i < 1000; i++) {
        assert_true(hp_sampler_next_gap(&r, 0) == INT64_MAX);
        assert_true(hp_sampler_next_gap(&r, 1) == 0);
        int64_t g2 = hp_sampler_next_gap(&r, 2);
        assert_true(g2 >= 1);
        /* Absurd rates (not reachable through the config, but the API takes
         * a u64) clamp instead of overflowing the conversion to int64. */
        int64_t gbig = hp_sampler_next_gap(&r, UINT64_MAX);
        assert_true(gbig >= 1 && gbig <= INT64_MAX / 2);
    }
    /* u == 1 exactly would give 0 bytes: must still be >= 1 for rate >= 2.
     * Draw many small-rate gaps; none may be below 1. */
    for (int i = 0; i < N_DRAWS; i++)
        assert_true(hp_sampler_next_gap(&r, 2) >= 1);
}

static void test_gap_mean(void **state)
{
    (void)state;
    static const uint64_t rates[] = {524288, 65536, 4096};
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        hp_rng r;
        double sum = 0;
        uint64_t rate = rates[k];
        hp_rng_seed(&r, 2024 + k);
        for (int i = 0; i < N_DRAWS; i++)
            sum += (double)hp_sampler_next_gap(&r, rate);
        double mean = sum / N_DRAWS;
        /* Exp(rate) has sd = rate, so the standard error of the mean of 1M
         * draws is rate / 1000 = 0.1% of rate.  The 1% tolerance is 10
         * standard errors: a correct sampler essentially never fails it,
         * while e.g. a gap drawn with log2 or a rate off by 2% would.  (ceil
         * adds +0.5 byte on average: 1e-4 relative at 4096, negligible.) */
        if (fabs(mean - (double)rate) > 0.01 * (double)rate)
            fail_msg("rate %llu: mean gap %.1f", (unsigned long long)rate, mean);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov against the exponential CDF F(x) = 1 - exp(-x/rate). */
static void test_gap_distribution_ks(void **state)
{
    (void)state;
    const uint64_t rate = 524288;
    double *g = malloc(N_DRAWS * sizeof *g);
    hp_rng r;
    assert_non_null(g);
    hp_rng_seed(&r, 31337);
    for (int i = 0; i < N_DRAWS; i++)
        g[i] = (double)hp_sampler_next_gap(&r, rate);
    qsort(g, N_DRAWS, sizeof *g, cmp_double);
    double d = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        double f = -expm1(-g[i] / (double)rate);
        double lo = f - (double)i / N_DRAWS, hi = (double)(i + 1) / N_DRAWS - f;
        d = fmax(d, fmax(lo, hi));
    }
    free(g);
    /* Asymptotic KS critical value at alpha = 0.001: 1.9495 / sqrt(n)
     * = 1.95e-3 for n = 1M.  The ceil() to whole bytes moves the CDF by at
     * most 1/rate = 1.9e-6, three orders of magnitude below it. */
    double crit = 1.9495 / sqrt((double)N_DRAWS);
    if (d >= crit)
        fail_msg("KS D = %g >= %g", d, crit);
}

/* At a small rate the byte rounding matters, so check the discrete law
 * exactly: gap = ceil(E), E ~ Exp(rate), clamped to >= 1, so
 *   P(gap = 1) = 1 - exp(-1/rate),
 *   P(gap = k) = exp(-(k-1)/rate) - exp(-k/rate)  for k >= 2.
 * Pearson chi-square over k = 1..20 plus a tail bin (21 bins, 20 degrees of
 * freedom); critical value at alpha = 0.001 is 45.315. */
static void test_gap_distribution_small_rate_chi2(void **state)
{
    (void)state;
    enum { BINS = 21 };
    const double rate = 4;
    long obs[BINS] = {0};
    hp_rng r;
    hp_rng_seed(&r, 4242);
    for (int i = 0; i < N_DRAWS; i++) {
        int64_t g = hp_sampler_next_gap(&r, 4);
        assert_true(g >= 1);
        obs[g >= BINS ? BINS - 1 : g - 1]++;
    }
    double chi2 = 0;
    for (int k = 1; k <= BINS; k++) {
        double p = k < BINS ? exp(-(k - 1) / rate) - exp(-k / rate) : exp(-(BINS - 1) / rate);
        double e = p * N_DRAWS;
        double diff = (double)obs[k - 1] - e;
        chi2 += diff * diff / e;
    }
    if (chi2 >= 45.315)
        fail_msg("chi2 = %g >= 45.315 (df 20, alpha 0.001)", chi2);
}

/* ---- weights ---- */

static void test_weight_values(void **state)
{
    (void)state;
    /* rate 0 and 1: nothing to scale */
    assert_true(hp_sample_weight(100, 0) == 1.0);
    assert_true(hp_sample_weight(100, 1) == 1.0);
    assert_true(hp_sample_weight(0, 1) == 1.0);

    /* size == rate: 1 / (1 - e^-1) */
    assert_float_equal(hp_sample_weight(524288, 524288), 1.0 / (1.0 - exp(-1.0)), 1e-12);
    /* a few sizes against the closed form in long double */
    static const uint64_t sizes[] = {1, 16, 100, 4096, 65536, 524288, 1 << 22, 1ull << 30};
    static const uint64_t rates[] = {2, 64, 65536, 524288, 1ull << 30};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t j = 0; j < sizeof rates / sizeof rates[0]; j++) {
            long double x = (long double)sizes[i] / (long double)rates[j];
            long double want = 1.0L / -expm1l(-x);
            double got = hp_sample_weight(sizes[i], rates[j]);
            if (fabsl((long double)got - want) > 1e-12L * want)
                fail_msg("weight(%llu, %llu) = %.17g, want %.17Lg", (unsigned long long)sizes[i],
                         (unsigned long long)rates[j], got, want);
        }
    }
    /* tiny size / rate: 1/x + 1/2 + x/12 - ...; the naive 1/(1 - exp(-x))
     * would lose ~7 digits at x = 2^-30. */
    double w = hp_sample_weight(1, 1ull << 30);
    double want = 1073741824.0 + 0.5 + 1.0 / 12 / 1073741824.0;
    assert_true(fabs(w - want) < 1e-6);
    /* huge size: weight -> 1 from above */
    w = hp_sample_weight(1ull << 40, 65536);
    assert_true(w == 1.0);
    /* monotone: larger allocations stand for fewer objects */
    double prev = INFINITY;
    for (uint64_t s = 1; s < (1ull << 26); s *= 3) {
        double cur = hp_sample_weight(s, 524288);
        assert_true(cur < prev && cur >= 1.0);
        prev = cur;
    }
}

/* Size 0: counted as a 1-byte allocation (finite, about rate + 0.5), see
 * sampler.c for why not Go's (0, 0). */
static void test_weight_size_zero(void **state)
{
    (void)state;
    assert_true(hp_sample_weight(0, 524288) == hp_sample_weight(1, 524288));
    double w = hp_sample_weight(0, 524288);
    assert_true(isfinite(w));
    assert_float_equal(w, 524288.5, 1e-3);
}

/* ---- unbiasedness of the whole scheme ---- */

/* Simulates exactly what the shim does per thread -- countdown -= size;
 * sampled when it reaches <= 0; then a fresh gap -- over a fixed stream of
 * allocations, and compares the un-sampled estimates with the truth.
 *
 * Tolerance: each allocation of size s is sampled independently (Poisson
 * process over disjoint byte ranges; the fresh gap after a sample is
 * memoryless) with p = 1 - exp(-s/r), and contributes w*s when sampled with
 * w = 1/p.  So E[w s I] = s (unbiased) and Var = s^2 (w - 1); the variance
 * of the total is the sum of those, known exactly from the stream.  The
 * check allows 4 standard deviations (false-alarm chance 6e-5 for a random
 * seed; the seed here is fixed anyway).  Object counts likewise: Var = w - 1.
 * At 512 KiB the byte sd comes to ~0.25% of the total, so the band is tight
 * enough to catch a real bias: the naive weight r/s (a common mistake) is
 * asserted to fall outside it. */
static void check_unbiased(uint64_t rate, uint64_t seed)
{
    enum { N_ALLOC = 1000000 };
    hp_rng sizes_rng, r;
    hp_rng_seed(&sizes_rng, 0xA110C);
    hp_rng_seed(&r, seed);
    double true_bytes = 0, est_bytes = 0, var_bytes = 0;
    double est_objs = 0, var_objs = 0, naive_bytes = 0;
    long samples = 0;
    int64_t countdown = hp_sampler_next_gap(&r, rate);
    for (int i = 0; i < N_ALLOC; i++) {
        /* log-uniform sizes from 16 B to 1 MiB: many small, a few huge,
         * straddling the rate on both sides */
        double u = hp_rng_unit(&sizes_rng);
        uint64_t s = (uint64_t)(16.0 * exp2(16.0 * u));
        if (s > (1u << 20))
            s = 1u << 20;
        double w = hp_sample_weight(s, rate);
        true_bytes += (double)s;
        var_bytes += (double)s * (double)s * (w - 1.0);
        var_objs += w - 1.0;
        countdown -= (int64_t)s;
        if (countdown <= 0) {
            samples++;
            est_bytes += w * (double)s;
            est_objs += w;
            naive_bytes += (double)rate;
            countdown = hp_sampler_next_gap(&r, rate);
        }
    }
    double sd_b = sqrt(var_bytes), sd_o = sqrt(var_objs);
    printf("  rate %llu: %ld samples, bytes est/true = %.5f (sd %.5f), objs est/true = %.5f "
           "(sd %.5f), naive %.3f\n",
           (unsigned long long)rate, samples, est_bytes / true_bytes, sd_b / true_bytes,
           est_objs / N_ALLOC, sd_o / N_ALLOC, naive_bytes / true_bytes);
    if (fabs(est_bytes - true_bytes) > 4 * sd_b)
        fail_msg("rate %llu: bytes estimate off by %.2f sd", (unsigned long long)rate,
                 (est_bytes - true_bytes) / sd_b);
    if (fabs(est_objs - N_ALLOC) > 4 * sd_o)
        fail_msg("rate %llu: object estimate off by %.2f sd", (unsigned long long)rate,
                 (est_objs - N_ALLOC) / sd_o);
    /* the band is tight: a few percent at most */
    assert_true(4 * sd_b < 0.05 * true_bytes);
    /* and has power: the naive estimator misses it */
    assert_true(fabs(naive_bytes - true_bytes) > 4 * sd_b);
}

static void test_unbiased_512k(void **state)
{
    (void)state;
    check_unbiased(524288, 1);
}

static void test_unbiased_64k(void **state)
{
    (void)state;
    check_unbiased(65536, 2);
}

/* rate 1: every allocation sampled with weight 1, so the estimate is exact. */
static void test_rate_one_exact(void **state)
{
    (void)state;
    hp_rng r;
    hp_rng_seed(&r, 3);
    int64_t countdown = hp_sampler_next_gap(&r, 1);
    long sampled = 0;
    for (int i = 0; i < 10000; i++) {
        countdown -= i % 3; /* includes zero-byte allocations */
        if (countdown <= 0) {
            sampled++;
            assert_true(hp_sample_weight((uint64_t)(i % 3), 1) == 1.0);
            countdown = hp_sampler_next_gap(&r, 1);
        }
    }
    assert_int_equal(sampled, 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_seed_zero),
        cmocka_unit_test(test_known_sequence),
        cmocka_unit_test(test_unit_range),
        cmocka_unit_test(test_gap_edge_rates),
        cmocka_unit_test(test_gap_mean),
        cmocka_unit_test(test_gap_distribution_ks),
        cmocka_unit_test(test_gap_distribution_small_rate_chi2),
        cmocka_unit_test(test_weight_values),
        cmocka_unit_test(test_weight_size_zero),
        cmocka_unit_test(test_unbiased_512k),
        cmocka_unit_test(test_unbiased_64k),
        cmocka_unit_test(test_rate_one_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
