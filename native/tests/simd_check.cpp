// Checks the CPU kernels' SIMD code at every instruction-set level the loader can pick
// (x86-64-v4: AVX-512, x86-64-v3: AVX2 + FMA, baseline) that this CPU runs, against float64:
//  - exp2 (common.h) over a dense sweep of fp32 inputs from +1 down to below its underflow;
//  - row_stats (the token_stats / sample row statistics) on random rows, fp32 and bf16.
// Prints the measured errors; exits 1 when one is over its tolerance. Run by NativeCheckTest.
#include <cfloat>
#include <cinttypes>
#include <cstdio>
#include <random>
#include <vector>

#include "../src/common.h"

namespace {

using arpo::RowStats;

// The kernels' own loop shape: vectors, then the scalar instance for the tail.
ARPO_INLINE void exp2_array(const float* x, float* y, int64_t n) {
  const int64_t vec_end = n - n % arpo::kLanes;
  for (int64_t i = 0; i < vec_end; i += arpo::kLanes) arpo::store(y + i, arpo::vexp2(arpo::load(x + i)));
  for (int64_t i = vec_end; i < n; ++i) y[i] = arpo::exp2_scalar(x[i]);
}

#define ARPO_LEVEL_FUNCTIONS(suffix, target)                                                        \
  target void exp2_##suffix(const float* x, float* y, int64_t n) { exp2_array(x, y, n); }          \
  target RowStats rows_f32_##suffix(const float* r, int64_t v, float t) { return arpo::row_stats(r, v, t); } \
  target RowStats rows_bf16_##suffix(const uint16_t* r, int64_t v, float t) { return arpo::row_stats(r, v, t); }

ARPO_LEVEL_FUNCTIONS(v4, __attribute__((target("arch=x86-64-v4"))))
ARPO_LEVEL_FUNCTIONS(v3, __attribute__((target("arch=x86-64-v3"))))
ARPO_LEVEL_FUNCTIONS(base, )

struct Level {
  const char* name;
  bool supported;
  void (*exp2)(const float*, float*, int64_t);
  RowStats (*rows_f32)(const float*, int64_t, float);
  RowStats (*rows_bf16)(const uint16_t*, int64_t, float);
};

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// Every 31st fp32 value from +1 down to -150 (about 70 million inputs: all binades, 2^18 per
// binade), plus -inf and -FLT_MAX. Results of normal size must be within kExpRelTol of 2^x; from
// -126 to -126.5 (subnormal results) within one subnormal step; below -126.5 exactly 0.
constexpr double kExpRelTol = 1.5e-7;
constexpr uint32_t kSweepStride = 31;

struct ExpErrors {
  double max_rel = 0, worst_x = 0, max_sub = 0;
  int64_t normal = 0, over = 0, subnormal = 0, sub_over = 0, zero_expected = 0, nonzero = 0;

  void add(float x, float y) {
    const double ref = std::exp2(static_cast<double>(x));
    if (x >= -126.0f) {
      ++normal;
      const double rel = std::fabs(y - ref) / ref;
      if (rel > max_rel) {
        max_rel = rel;
        worst_x = x;
      }
      if (!(rel <= kExpRelTol)) ++over;
    } else if (x >= -126.5f) {
      ++subnormal;
      const double err = std::fabs(y - ref);
      max_sub = std::max(max_sub, err);
      if (!(err <= std::ldexp(1.0, -149))) ++sub_over;
    } else {
      ++zero_expected;
      if (y != 0.0f) ++nonzero;
    }
  }
};

bool check_exp2(const Level& level) {
  std::vector<float> x, y;
  ExpErrors errors;
  auto flush = [&]() {
    y.resize(x.size());
    level.exp2(x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) errors.add(x[i], y[i]);
    x.clear();
  };
  for (uint32_t b = 0x3F800000u;; b -= kSweepStride) {  // +1 .. +0
    x.push_back(from_bits(b));
    if (x.size() == (1u << 20)) flush();
    if (b < kSweepStride) break;
  }
  for (uint32_t b = 0x80000000u; b <= 0xC3160000u; b += kSweepStride) {  // -0 .. -150
    x.push_back(from_bits(b));
    if (x.size() == (1u << 20)) flush();
  }
  x.push_back(-INFINITY);
  x.push_back(-FLT_MAX);
  flush();
  const ExpErrors& e = errors;
  std::printf("exp2 %-10s %" PRId64 " inputs in [-126, 1]: max relative error %.3g (at x = %.9g), %" PRId64
              " over %.2g; %" PRId64 " in [-126.5, -126): max error %.3g (2^-149 = %.3g), %" PRId64
              " over; %" PRId64 " below -126.5 (-inf included): %" PRId64 " not 0\n",
              level.name, e.normal, e.max_rel, e.worst_x, e.over, kExpRelTol, e.subnormal, e.max_sub,
              std::ldexp(1.0, -149), e.sub_over, e.zero_expected, e.nonzero);
  return e.over == 0 && e.sub_over == 0 && e.nonzero == 0;
}

struct Reference {
  double lse, entropy;
  float top;
};

Reference reference_stats(const std::vector<float>& z, double temperature) {
  double m = -INFINITY;
  float top = -INFINITY;
  for (float v : z) {
    m = std::max(m, v / temperature);
    top = std::max(top, v);
  }
  double sum = 0, wsum = 0;
  for (float v : z) {
    if (v == -INFINITY) continue;
    const double d = v / temperature - m, e = std::exp(d);
    sum += e;
    wsum += e * d;
  }
  return {m + std::log(sum), std::log(sum) - wsum / sum, top};
}

float round_to_bf16(float f) { return arpo::bf16_to_float(arpo::float_to_bf16(f)); }

// The token_stats test's tolerance: the kernel scales in fp32, so errors grow with max |z / T|.
bool check_rows(const Level& level) {
  struct Case {
    int64_t v;
    double scale, temperature, neg_inf;
  };
  const Case cases[] = {{1, 3.0, 1.0, 0.0},      {17, 2.0, 1.3, 0.2},       {4099, 50.0, 2.0, 0.05},
                        {32000, 1e4, 0.6, 0.01}, {151936, 3.0, 1.0, 0.0},   {151936, 5.0, 0.7, 0.001},
                        {40000, 0.01, 0.9, 0.0}, {5000, 3.0, 1.0, 0.9999}};
  std::mt19937_64 rng(20261205);
  std::normal_distribution<double> gauss;
  std::uniform_real_distribution<double> uniform;
  bool ok = true;
  double worst_lse = 0, worst_entropy = 0;
  int64_t failures = 0, rows = 0;
  for (const Case& c : cases) {
    for (int bf16 = 0; bf16 < 2; ++bf16) {
      std::vector<float> z(c.v);
      for (int64_t j = 0; j < c.v; ++j) {
        z[j] = static_cast<float>(gauss(rng) * c.scale);
        if (j > 0 && uniform(rng) < c.neg_inf) z[j] = -INFINITY;
        if (bf16) z[j] = round_to_bf16(z[j]);
      }
      const float t = static_cast<float>(c.temperature);
      RowStats st;
      if (bf16) {
        std::vector<uint16_t> h(c.v);
        for (int64_t j = 0; j < c.v; ++j) h[j] = arpo::float_to_bf16(z[j]);
        st = level.rows_bf16(h.data(), c.v, 1.0f / t);
      } else {
        st = level.rows_f32(z.data(), c.v, 1.0f / t);
      }
      const Reference ref = reference_stats(z, t);
      const double atol = 1e-5 + 4e-7 * c.scale * 6 / c.temperature;
      const double lse_err = std::fabs(st.lse() - ref.lse), entropy_err = std::fabs(st.entropy() - ref.entropy);
      worst_lse = std::max(worst_lse, lse_err / (atol + 1e-6 * std::fabs(ref.lse)));
      worst_entropy = std::max(worst_entropy, entropy_err / (atol + 1e-5 * std::fabs(ref.entropy)));
      ++rows;
      if (!(lse_err <= atol + 1e-6 * std::fabs(ref.lse)) || !(entropy_err <= atol + 1e-5 * std::fabs(ref.entropy)) ||
          st.top != ref.top) {
        ++failures;
        std::printf("  row_stats %s V=%" PRId64 " scale=%g T=%g bf16=%d: lse %.9g vs %.9g, entropy %.9g vs %.9g, top %g vs %g\n",
                    level.name, c.v, c.scale, c.temperature, bf16, st.lse(), ref.lse, st.entropy(), ref.entropy,
                    st.top, ref.top);
        ok = false;
      }
    }
  }
  std::printf("row_stats %-10s %" PRId64 " rows (fp32 and bf16): largest error / tolerance: lse %.3g, entropy %.3g; %" PRId64
              " over\n",
              level.name, rows, worst_lse, worst_entropy, failures);
  return ok;
}

}  // namespace

int main() {
  const Level levels[] = {
      {"x86-64-v4", __builtin_cpu_supports("x86-64-v4") != 0, exp2_v4, rows_f32_v4, rows_bf16_v4},
      {"x86-64-v3", __builtin_cpu_supports("x86-64-v3") != 0, exp2_v3, rows_f32_v3, rows_bf16_v3},
      {"baseline", true, exp2_base, rows_f32_base, rows_bf16_base},
  };
  bool ok = true;
  for (const Level& level : levels) {
    if (!level.supported) {
      std::printf("%s: not supported by this CPU, skipped\n", level.name);
      continue;
    }
    ok = check_exp2(level) && ok;
    ok = check_rows(level) && ok;
  }
  std::printf(ok ? "simd_check: all passed\n" : "simd_check: FAILED\n");
  return ok ? 0 : 1;
}
