// arpo4j_cuda_check: the CUDA kernels (libarpo4j_cuda) against the CPU library
// (libarpo4j_native, the reference; for paged attention a float64 reference, which the CPU
// library is held to as well) on seeded random data, then their timings against a
// device-to-device copy of the same bytes. See README.md.
//
//   arpo4j_cuda_check [--quick]
//
// Exit code: 0 when every check passed, and also when there is no CUDA device (nothing is
// run; the output says so); 1 when a check failed; 2 on bad usage or a CUDA setup error.
#include <cstdarg>
#include <string>

#include "check_util.h"

using namespace check;

namespace {

struct Options {
  bool quick = false;
  int warmup = 3;
  int reps = 15;
  std::vector<int64_t> rows{1, 256, 2048};
  std::vector<int64_t> vocabs{1000, 32000, 151936};
};

struct Report {
  int passed = 0, failed = 0;
  std::vector<std::string> timings;

  void result(bool ok, const std::string& line) {
    std::printf("%s  %s\n", line.c_str(), ok ? "PASS" : "FAIL");
    std::fflush(stdout);
    (ok ? passed : failed)++;
  }
  // One timing line: kernel time, its GB/s for bytes read + written, and a copy's.
  void timing(const std::string& what, double ms, double bytes, const Options& opt) {
    const double gbps = bytes / (ms * 1e6), copy = copy_gbps(static_cast<size_t>(bytes), opt.warmup, opt.reps);
    char line[256];
    std::snprintf(line, sizeof line, "%-44s %8.3f ms %6.0f GB/s  copy %6.0f GB/s  %3.0f%%", what.c_str(), ms, gbps,
                  copy, 100.0 * gbps / copy);
    timings.emplace_back(line);
  }
};

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}
std::string describe(const char* name, const Diff& d) {
  return format("%s abs %.1e rel %.1e (%.2f of tol)", name, d.max_abs, d.max_rel, d.worst);
}

const char* dtype_name(arpo_dtype d) { return d == ARPO_F32 ? "fp32" : "bf16"; }
size_t dtype_size(arpo_dtype d) { return d == ARPO_F32 ? sizeof(float) : sizeof(uint16_t); }

// ---------------------------------------------------------------------------------------
// Test logits
// ---------------------------------------------------------------------------------------

enum Flavour { kNormal, kNegInf, kLarge };
const char* flavour_name(Flavour f) { return f == kNormal ? "normal" : f == kNegInf ? "-inf" : "large"; }

// Case c of a kernel's list varies data flavour, memory layout and temperature together.
struct CaseSpec {
  Flavour flavour;
  int layout;  // 0: stride V; 1: stride V + 3 and a one-element offset (rows misaligned); 2: stride V + 64
  float temperature;
};
CaseSpec case_spec(int c) {
  static const float kTemps[] = {1.0f, 0.7f, 1.3f};
  return {static_cast<Flavour>(c % 3), (c / 3) % 3, kTemps[(c / 2) % 3]};
}

// A [n, v] logits matrix on the host, laid out as the device copy: offset elements, then
// rows of stride elements. Everything outside the rows is NaN, so a kernel that reads or
// writes outside them is caught.
struct Logits {
  arpo_dtype dtype;
  int64_t n, v, stride, offset;
  Flavour flavour;
  std::vector<uint8_t> host;
  double max_abs = 0;  // largest finite |z|

  size_t elements() const { return static_cast<size_t>(offset + n * stride); }
  size_t bytes() const { return elements() * dtype_size(dtype); }
  size_t row_bytes() const { return static_cast<size_t>(n * v) * dtype_size(dtype); }
  static float get(const std::vector<uint8_t>& buf, arpo_dtype dtype, size_t e) {
    if (dtype == ARPO_F32) {
      float f;
      std::memcpy(&f, buf.data() + e * sizeof(float), sizeof f);
      return f;
    }
    uint16_t h;
    std::memcpy(&h, buf.data() + e * sizeof(uint16_t), sizeof h);
    return bf16_to_float(h);
  }
  size_t index(int64_t i, int64_t j) const { return static_cast<size_t>(offset + i * stride + j); }
  float at(int64_t i, int64_t j) const { return get(host, dtype, index(i, j)); }
  void* rows(std::vector<uint8_t>& buf) const { return buf.data() + offset * dtype_size(dtype); }
};

float logit_value(Flavour flavour, uint64_t seed, int64_t i, int64_t j, int64_t v) {
  const uint64_t k = static_cast<uint64_t>(i * v + j);
  switch (flavour) {
    case kNormal: return static_cast<float>(3.0 * normal(seed, k));
    case kNegInf: {  // every fourth row mostly -inf, the others 5%
      const double p = i % 4 == 1 ? 0.95 : 0.05;
      if (uniform(seed + 1, k) < p && j != (i * 7919) % v) return -INFINITY;  // one entry stays finite
      return static_cast<float>(3.0 * normal(seed, k));
    }
    case kLarge: {  // rows centred anywhere in [-1e4, 1e4]: large magnitudes, narrow spread
      const double centre = (2.0 * uniform(seed + 2, static_cast<uint64_t>(i)) - 1.0) * 9900.0;
      return static_cast<float>(centre + 5.0 * normal(seed, k));
    }
  }
  return 0.0f;
}

Logits make_logits(arpo_dtype dtype, int64_t n, int64_t v, const CaseSpec& spec, uint64_t seed) {
  Logits l{dtype, n, v, v, 0, spec.flavour, {}, 0};
  if (spec.layout == 1) {
    l.stride = v + 3;
    l.offset = 1;
  } else if (spec.layout == 2) {
    l.stride = v + 64;
  }
  l.host.resize(l.bytes());
  std::vector<double> worker_max(64, 0.0);
  parallel_for(static_cast<int64_t>(l.elements()), [&](int64_t b, int64_t e, int w) {
    for (int64_t x = b; x < e; ++x) {
      const int64_t r = x - l.offset;
      const int64_t i = r / l.stride, j = r % l.stride;
      const float z = (r < 0 || j >= v) ? NAN : logit_value(spec.flavour, seed, i, j, v);
      if (dtype == ARPO_F32) {
        std::memcpy(l.host.data() + x * sizeof(float), &z, sizeof z);
      } else {
        const uint16_t h = float_to_bf16(z);
        std::memcpy(l.host.data() + x * sizeof(uint16_t), &h, sizeof h);
      }
      const float stored = Logits::get(l.host, dtype, static_cast<size_t>(x));
      if (std::isfinite(stored)) worker_max[w] = std::max(worker_max[w], std::fabs(static_cast<double>(stored)));
    }
  });
  for (double m : worker_max) l.max_abs = std::max(l.max_abs, m);
  return l;
}

// One target per row, at a finite logit.
std::vector<int64_t> make_targets(const Logits& l, uint64_t seed) {
  std::vector<int64_t> t(l.n);
  for (int64_t i = 0; i < l.n; ++i) {
    int64_t j = static_cast<int64_t>(uniform(seed, static_cast<uint64_t>(i)) * l.v) % l.v;
    for (int64_t probe = 0; probe < l.v && !std::isfinite(l.at(i, j)); ++probe) j = (j + 1) % l.v;
    t[i] = j;
  }
  return t;
}

std::vector<float> make_normal(int64_t n, uint64_t seed) {
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(normal(seed, static_cast<uint64_t>(i)));
  return x;
}

// The logits on the device, with the same layout.
struct DeviceLogits {
  DeviceBuffer buf;
  void* rows;
  explicit DeviceLogits(const Logits& l) : buf(l.bytes()) {
    buf.upload(l.host.data(), l.bytes());
    rows = buf.as<uint8_t>() + l.offset * dtype_size(l.dtype);
  }
};

template <typename T>
DeviceBuffer to_device(const std::vector<T>& host) {
  DeviceBuffer d(host.size() * sizeof(T));
  d.upload(host.data(), host.size() * sizeof(T));
  return d;
}

bool cpu_ok(int rc, const char* what) {
  if (rc == ARPO_OK) return true;
  std::printf("%s: CPU reference failed: %s  FAIL\n", what, arpo_last_error());
  return false;
}
bool gpu_ok(int rc, const char* what) {
  if (rc == ARPO_OK) rc = cudaDeviceSynchronize() == cudaSuccess ? ARPO_OK : ARPO_ERR_CUDA;
  if (rc == ARPO_OK) return true;
  std::printf("%s: CUDA kernel failed (%d): %s / %s  FAIL\n", what, rc, arpo_cuda_last_error(),
              cudaGetErrorString(cudaGetLastError()));
  return false;
}

std::string shape(const char* kernel, const Logits& l, float temperature) {
  return format("%-17s N=%-5lld V=%-6lld %s T=%.1f %-7s %s", kernel, static_cast<long long>(l.n),
                static_cast<long long>(l.v), dtype_name(l.dtype), temperature,
                l.stride == l.v ? "dense" : l.offset ? "misalgn" : "padded", flavour_name(l.flavour));
}

// Tolerances. The GPU sums exp in fp32 (per thread, then merged) where the CPU sums
// 16-lane fp32 chunks into doubles: sums agree to ~1e-6 relative. On top of that, both
// round s = z / T to fp32, but the CPU fuses the multiply into s - max (FMA) in places, so
// each s_j - max may differ by an ulp of s: an absolute slack proportional to max |s|.
constexpr double kLseAtol = 2e-5, kLseRtol = 1e-5;
constexpr double kEntropyAtol = 5e-5, kEntropyRtol = 1e-5;
double magnitude_slack(const Logits& l, float temperature) { return 4 * 0x1.0p-24 * l.max_abs / temperature; }

// ---------------------------------------------------------------------------------------
// token_stats
// ---------------------------------------------------------------------------------------

void check_token_stats(const Options& opt, Report& rep, arpo_dtype dtype, int64_t n, int64_t v, int c) {
  const CaseSpec spec = case_spec(c);
  const float T = spec.temperature;
  Logits l = make_logits(dtype, n, v, spec, 1000 + c);
  const std::vector<int64_t> targets = make_targets(l, 2000 + c);
  std::vector<float> lp(n), ent(n), lse(n);
  if (!cpu_ok(arpo_token_stats(l.rows(l.host), dtype, n, v, l.stride, targets.data(), T, lp.data(), ent.data(),
                               lse.data()), "token_stats")) {
    rep.failed++;
    return;
  }
  DeviceLogits d(l);
  DeviceBuffer dt = to_device(targets), dlp(n * 4), dent(n * 4), dlse(n * 4);
  auto run = [&] {
    return arpo_cuda_token_stats(d.rows, dtype, n, v, l.stride, dt.as<int64_t>(), T, dlp.as<float>(),
                                 dent.as<float>(), dlse.as<float>(), nullptr);
  };
  if (!gpu_ok(run(), "token_stats")) {
    rep.failed++;
    return;
  }
  const double slack = magnitude_slack(l, T);
  const Diff e_lp = compare(download<float>(dlp, n).data(), lp.data(), n, kLseAtol + slack, kLseRtol);
  const Diff e_ent = compare(download<float>(dent, n).data(), ent.data(), n, kEntropyAtol + slack, kEntropyRtol);
  const Diff e_lse = compare(download<float>(dlse, n).data(), lse.data(), n, kLseAtol + slack, kLseRtol);
  rep.result(e_lp.ok() && e_ent.ok() && e_lse.ok(),
             shape("token_stats", l, T) + " | " + describe("logprob", e_lp) + " | " + describe("entropy", e_ent) +
                 " | " + describe("lse", e_lse));

  const double ms = median_ms(run, opt.warmup, opt.reps);
  rep.timing(format("token_stats N=%lld V=%lld %s", static_cast<long long>(n), static_cast<long long>(v),
                    dtype_name(dtype)),
             ms, static_cast<double>(l.row_bytes()) + n * (8.0 + 3 * 4.0), opt);
}

// ---------------------------------------------------------------------------------------
// logprob_backward
// ---------------------------------------------------------------------------------------

void check_backward(const Options& opt, Report& rep, arpo_dtype dtype, int64_t n, int64_t v, int c) {
  const CaseSpec spec = case_spec(c + 1);
  const float T = spec.temperature;
  const bool with_entropy = c % 3 != 2;
  Logits l = make_logits(dtype, n, v, spec, 3000 + c);
  const std::vector<int64_t> targets = make_targets(l, 4000 + c);
  std::vector<float> lp(n), ent(n), lse(n);
  if (!cpu_ok(arpo_token_stats(l.rows(l.host), dtype, n, v, l.stride, targets.data(), T, lp.data(), ent.data(),
                               lse.data()), "logprob_backward (token_stats)")) {
    rep.failed++;
    return;
  }
  const std::vector<float> g_lp = make_normal(n, 5000 + c), g_h = make_normal(n, 6000 + c);
  DeviceLogits d(l);  // the original logits
  std::vector<uint8_t> cpu = l.host;
  if (!cpu_ok(arpo_logprob_backward(l.rows(cpu), dtype, n, v, l.stride, targets.data(), lse.data(), ent.data(),
                                    g_lp.data(), with_entropy ? g_h.data() : nullptr, T), "logprob_backward")) {
    rep.failed++;
    return;
  }
  DeviceBuffer dt = to_device(targets), dlse = to_device(lse), dent = to_device(ent), dglp = to_device(g_lp),
               dgh = to_device(g_h);
  auto run = [&] {
    return arpo_cuda_logprob_backward(d.rows, dtype, n, v, l.stride, dt.as<int64_t>(), dlse.as<float>(),
                                      dent.as<float>(), dglp.as<float>(), with_entropy ? dgh.as<float>() : nullptr,
                                      T, nullptr);
  };
  if (!gpu_ok(run(), "logprob_backward")) {
    rep.failed++;
    return;
  }
  std::vector<uint8_t> gpu(l.bytes());
  d.buf.download(gpu.data(), gpu.size());

  // Per element: |gpu - cpu| <= rtol * (size of the gradient's terms) + the output rounding.
  // p = exp(z/T - lse) carries the rounding of z/T, relative eps |z/T|: large logits get a
  // proportionally looser bound.
  const double rtol = 3e-5 + 8 * 0x1.0p-24 * l.max_abs / T;
  const double out_rtol = dtype == ARPO_F32 ? 0.0 : 0x1.0p-7;  // one bf16 ulp
  std::vector<Diff> diffs(64);
  parallel_for(n, [&](int64_t b, int64_t e, int w) {
    for (int64_t i = b; i < e; ++i) {
      const double a = std::fabs(g_lp[i]) / T, gh = with_entropy ? std::fabs(g_h[i]) / T : 0.0;
      const double h = with_entropy ? ent[i] : 0.0;
      for (int64_t j = 0; j < v; ++j) {
        const double logp = static_cast<double>(l.at(i, j)) / T - lse[i];
        const double p = std::exp(logp);
        const double terms = p * (a + gh * ((p > 0 ? std::fabs(logp) : 0.0) + std::fabs(h) + 1.0)) + (j == targets[i] ? a : 0.0);
        const double want = Logits::get(cpu, dtype, l.index(i, j));
        diffs[w].add(Logits::get(gpu, dtype, l.index(i, j)), want, 1e-12 + rtol * terms + out_rtol * std::fabs(want));
      }
    }
  });
  Diff all;
  for (const Diff& x : diffs) all.merge(x);
  // Outside the rows nothing may change.
  int64_t touched = 0;
  const size_t es = dtype_size(dtype);
  for (size_t x = 0; x < l.elements(); ++x) {
    const int64_t r = static_cast<int64_t>(x) - l.offset;
    if ((r < 0 || r % l.stride >= v) && std::memcmp(&gpu[x * es], &l.host[x * es], es) != 0) ++touched;
  }
  rep.result(all.ok() && touched == 0, shape("logprob_backward", l, T) + (with_entropy ? " +H" : " lp") + " | " +
                                           describe("grad", all) + format(" | padding changed %lld", static_cast<long long>(touched)));

  const double ms = median_ms(run, opt.warmup, opt.reps);  // rewrites the (now gradient) buffer: same traffic
  rep.timing(format("logprob_backward N=%lld V=%lld %s", static_cast<long long>(n), static_cast<long long>(v),
                    dtype_name(dtype)),
             ms, 2.0 * static_cast<double>(l.row_bytes()) + n * (8.0 + 4 * 4.0), opt);
}

// ---------------------------------------------------------------------------------------
// sample
// ---------------------------------------------------------------------------------------

struct SampleConfig {
  const char* name;
  float temperature, top_p;
  int32_t top_k;
  bool timed;
};
const SampleConfig kSampleConfigs[] = {
    {"plain", 1.0f, 1.0f, 0, true},       {"k50,p0.9", 0.7f, 0.9f, 50, true}, {"p0.95", 1.2f, 0.95f, 0, false},
    {"k1000", 1.0f, 1.0f, 1000, false},  {"k1", 1.0f, 1.0f, 1, false},      {"greedy", 0.0f, 1.0f, 0, true},
};

struct Agreement {
  int64_t rows = 0, same = 0;
};

void check_sample(const Options& opt, Report& rep, Agreement& agree, arpo_dtype dtype, int64_t b, int64_t v, int c) {
  const CaseSpec spec = case_spec(c + 2);
  Logits l = make_logits(dtype, b, v, spec, 7000 + c);
  DeviceLogits d(l);
  DeviceBuffer dtok(b * 8), dtok2(b * 8), dlp(b * 4), dent(b * 4);
  const uint64_t seed = 0x5EED0000ull + c, step = 11;
  for (const SampleConfig& cfg : kSampleConfigs) {
    const bool greedy = cfg.temperature == 0.0f;
    auto run = [&](DeviceBuffer& tokens) {
      return arpo_cuda_sample(d.rows, dtype, b, v, l.stride, cfg.temperature, cfg.top_p, cfg.top_k, seed, step,
                              tokens.as<int64_t>(), dlp.as<float>(), dent.as<float>(), nullptr);
    };
    if (!gpu_ok(run(dtok2), "sample") || !gpu_ok(run(dtok), "sample")) {
      rep.failed++;
      continue;
    }
    const std::vector<int64_t> tok = download<int64_t>(dtok, b), tok2 = download<int64_t>(dtok2, b);
    const std::vector<float> lp = download<float>(dlp, b), ent = download<float>(dent, b);
    std::vector<int64_t> cpu_tok(b);
    std::vector<float> cpu_lp(b), cpu_ent(b);
    if (!cpu_ok(arpo_sample(l.rows(l.host), dtype, b, v, l.stride, cfg.temperature, cfg.top_p, cfg.top_k, seed, step,
                            cpu_tok.data(), cpu_lp.data(), cpu_ent.data()), "sample")) {
      rep.failed++;
      continue;
    }
    bool in_range = true;
    for (int64_t t : tok) in_range = in_range && t >= 0 && t < v;
    const bool repeatable = tok == tok2;
    // logprob and entropy of the GPU's own tokens, by the CPU's token_stats.
    const float t_eff = greedy ? 1.0f : cfg.temperature;
    std::vector<float> ref_lp(b), ref_ent(b), ref_lse(b);
    std::vector<int64_t> safe_tok(b);
    for (int64_t i = 0; i < b; ++i) safe_tok[i] = in_range ? tok[i] : 0;
    if (!cpu_ok(arpo_token_stats(l.rows(l.host), dtype, b, v, l.stride, safe_tok.data(), t_eff, ref_lp.data(),
                                 ref_ent.data(), ref_lse.data()), "sample (token_stats)")) {
      rep.failed++;
      continue;
    }
    const double slack = magnitude_slack(l, t_eff);
    const Diff e_lp = compare(lp.data(), ref_lp.data(), b, kLseAtol + slack, kLseRtol);
    const Diff e_ent = compare(ent.data(), ref_ent.data(), b, kEntropyAtol + slack, kEntropyRtol);
    int64_t same = 0;
    for (int64_t i = 0; i < b; ++i) same += tok[i] == cpu_tok[i];
    bool tokens_ok;
    std::string token_note;
    if (greedy) {  // exactly the argmax, lowest index on ties
      int64_t argmax_ok = 0;
      for (int64_t i = 0; i < b; ++i) {
        int64_t best = 0;
        for (int64_t j = 1; j < v; ++j) best = l.at(i, j) > l.at(i, best) ? j : best;
        argmax_ok += tok[i] == best;
      }
      tokens_ok = argmax_ok == b && same == b;
      token_note = format("argmax %lld/%lld, = CPU %lld", static_cast<long long>(argmax_ok),
                          static_cast<long long>(b), static_cast<long long>(same));
    } else {
      agree.rows += b;
      agree.same += same;
      const int64_t allowed = std::max<int64_t>(1, b / 100);  // same uniform; rounding may split a boundary
      tokens_ok = b - same <= allowed;
      token_note = format("= CPU %.2f%%", 100.0 * same / b);
    }
    rep.result(in_range && repeatable && tokens_ok && e_lp.ok() && e_ent.ok(),
               shape("sample", l, cfg.temperature) + format(" %-8s | ", cfg.name) + token_note +
                   (repeatable ? ", repeatable" : ", NOT REPEATABLE") + (in_range ? "" : ", OUT OF RANGE") + " | " +
                   describe("logprob", e_lp) + " | " + describe("entropy", e_ent));
    if (cfg.timed) {
      const double ms = median_ms([&] { run(dtok); }, opt.warmup, opt.reps);
      rep.timing(format("sample[%s] B=%lld V=%lld %s", cfg.name, static_cast<long long>(b), static_cast<long long>(v),
                        dtype_name(dtype)),
                 ms, static_cast<double>(l.row_bytes()) + b * 16.0, opt);
    }
  }
}

// ---------------------------------------------------------------------------------------
// clipped_surrogate
// ---------------------------------------------------------------------------------------

void check_surrogate(const Options& opt, Report& rep, int64_t S, int64_t L, bool all_masked, int c) {
  const int64_t count = S * L;
  std::vector<float> lp(count), old(count), adv(count), mask(count);
  for (int64_t s = 0; s < S; ++s) {
    // Response lengths 0..L (some sequences empty), a few masked tokens inside.
    const int64_t len = all_masked ? 0 : static_cast<int64_t>(uniform(c * 31 + 1, s) * (L + 1)) % (L + 1);
    const float a = s % 5 == 4 ? 0.0f : static_cast<float>(normal(c * 31 + 2, s));
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = s * L + t;
      const uint64_t k = static_cast<uint64_t>(i);
      lp[i] = static_cast<float>(-5.0 * uniform(c * 31 + 3, k));
      const double u = uniform(c * 31 + 4, k);
      old[i] = lp[i] + static_cast<float>(u < 0.02 ? 25.0 : u > 0.98 ? -25.0 : 0.3 * normal(c * 31 + 5, k));
      adv[i] = a;
      mask[i] = (t < len && uniform(c * 31 + 6, k) > 0.05) ? 1.0f : 0.0f;
    }
  }
  DeviceBuffer dlp = to_device(lp), dold = to_device(old), dadv = to_device(adv), dmask = to_device(mask);
  DeviceBuffer dloss(4), dgrad(count * 4), dstats(ARPO_NUM_STATS * 4);
  const float eps_low = 0.2f, eps_high = 0.28f;
  // (clip_grad_low, clip_grad_high): PPO, AEPO's stop-gradient clip, a CE-GPPO-style pair
  const float clip_grads[][2] = {{0.0f, 0.0f}, {0.0f, 1.0f}, {0.75f, 1.0f}};
  for (int mode = 0; mode < 3; ++mode) {
    for (float dual : {0.0f, 3.0f}) {
      for (const auto& cg : clip_grads) {
        float loss = 0, stats[ARPO_NUM_STATS];
        std::vector<float> grad(count);
        const arpo_agg_mode m = static_cast<arpo_agg_mode>(mode);
        if (!cpu_ok(arpo_clipped_surrogate(lp.data(), old.data(), adv.data(), mask.data(), S, L, eps_low, eps_high,
                                           dual, cg[0], cg[1], m, &loss, grad.data(), stats),
                    "clipped_surrogate")) {
          rep.failed++;
          continue;
        }
        auto run = [&] {
          return arpo_cuda_clipped_surrogate(dlp.as<float>(), dold.as<float>(), dadv.as<float>(), dmask.as<float>(),
                                             S, L, eps_low, eps_high, dual, cg[0], cg[1], m, dloss.as<float>(),
                                             dgrad.as<float>(), dstats.as<float>(), nullptr);
        };
        if (!gpu_ok(run(), "clipped_surrogate")) {
          rep.failed++;
          continue;
        }
        const Diff e_loss = compare(download<float>(dloss, 1).data(), &loss, 1, 1e-7, 1e-5);
        const Diff e_grad = compare(download<float>(dgrad, count).data(), grad.data(), count, 1e-10, 1e-5);
        const Diff e_stats =
            compare(download<float>(dstats, ARPO_NUM_STATS).data(), stats, ARPO_NUM_STATS, 1e-7, 1e-5);
        rep.result(e_loss.ok() && e_grad.ok() && e_stats.ok(),
                   format("%-17s S=%-5lld L=%-5lld mode=%d dual=%.0f clip_grad=(%.2f,%.2f)%s", "clipped_surrogate",
                          static_cast<long long>(S), static_cast<long long>(L), mode, dual, cg[0], cg[1],
                          all_masked ? " all-masked" : "") +
                       " | " + describe("loss", e_loss) + " | " + describe("grad", e_grad) + " | " +
                       describe("stats", e_stats));
        if (mode == 1 && dual > 0 && count >= 1000000) {
          const double ms = median_ms(run, opt.warmup, opt.reps);
          rep.timing(format("clipped_surrogate S=%lld L=%lld clip_grad=(%.2f,%.2f)", static_cast<long long>(S),
                            static_cast<long long>(L), cg[0], cg[1]),
                     ms, 5.0 * 4 * count, opt);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// paged_attention
// ---------------------------------------------------------------------------------------

struct PagedShape {
  const char* name;
  int64_t heads, kv_heads, head_dim, block_size;
  int64_t rows, max_len;
  bool uniform;   // every row max_len keys, no forks (decode batches); else mixed lengths and forks
  double q_std;   // query size: larger makes the softmax sharper
  bool timed;
};
const PagedShape kPagedShapes[] = {
    {"gqa 14/2 d64", 14, 2, 64, 16, 40, 4096, false, 1.0, false},  // Qwen2.5-0.5B's attention
    {"gqa 14/2 d64 bs1", 14, 2, 64, 1, 12, 2048, false, 1.0, false},
    {"gqa 14/2 d64 short", 14, 2, 64, 16, 24, 200, false, 1.0, false},  // one span per row
    {"mha 8 d128", 8, 8, 128, 16, 16, 4096, false, 1.0, false},
    {"gqa 32/8 d128 sharp", 32, 8, 128, 16, 12, 3000, false, 4.0, false},
    {"mqa 16/1 d256", 16, 1, 256, 16, 8, 2500, false, 1.0, false},  // group in two blocks of 8 heads
    {"gqa 9/1 d80", 9, 1, 80, 16, 8, 2000, false, 1.0, false},      // blocks of 5 and 4 heads
    {"gqa 12/4 d42 bs7", 12, 4, 42, 7, 10, 1500, false, 1.0, false},  // rows not float4-aligned
    {"decode gqa 14/2 d64 B=64", 14, 2, 64, 16, 64, 4096, true, 1.0, true},
    {"decode gqa 14/2 d64 B=1", 14, 2, 64, 16, 1, 4096, true, 1.0, true},
    {"decode mha 8 d64 B=128", 8, 8, 64, 16, 128, 512, true, 1.0, true},  // enough blocks: no spans
};

void put_element(std::vector<uint8_t>& buf, arpo_dtype dtype, size_t e, float x) {
  if (dtype == ARPO_F32) {
    std::memcpy(buf.data() + e * sizeof(float), &x, sizeof x);
  } else {
    const uint16_t h = float_to_bf16(x);
    std::memcpy(buf.data() + e * sizeof(uint16_t), &h, sizeof h);
  }
}

// A batch on the host, laid out as on the device. Sequences get their blocks from a shuffled
// pool; some fork the previous row's sequence (sharing its first blocks), some rows query the
// previous row's sequence again at another length. Slots no row may read (unused blocks, the
// tails of last blocks, the table's padding entries' block) hold NaN, so a kernel reading outside
// its keys is caught.
struct PagedBatch {
  PagedShape shape;
  arpo_dtype dtype;
  int64_t n, table_stride, num_slots;
  float scale;
  std::vector<int32_t> block_table, seq_rows, lengths;
  std::vector<uint8_t> q, keys, values;

  int64_t slot(int64_t r, int64_t pos) const {
    const int32_t block = block_table[seq_rows[r] * table_stride + pos / shape.block_size];
    return block * shape.block_size + pos % shape.block_size;
  }
  size_t kv_bytes_read() const {  // keys and values of every row, once per kv head
    int64_t keys_read = 0;
    for (int32_t len : lengths) keys_read += len;
    return static_cast<size_t>(keys_read * shape.kv_heads * shape.head_dim) * 2 * dtype_size(dtype);
  }
};

PagedBatch make_paged_batch(const PagedShape& s, arpo_dtype dtype, int64_t rows, int64_t max_len, uint64_t seed) {
  PagedBatch b{s, dtype, rows, 0, 0, static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim))),
               {}, {}, {}, {}, {}, {}};
  const int64_t bs = s.block_size;
  const int64_t edge_lengths[] = {1, 2, bs - 1, bs, bs + 1, 63, 64, 65, 255, 256, 257, 1000, max_len};
  struct Sequence {
    std::vector<int32_t> blocks;  // unshuffled ids
    int64_t length;
  };
  std::vector<Sequence> seqs;
  int32_t next_block = 0;
  auto fresh_blocks = [&](Sequence& seq, int64_t upto) {
    while (static_cast<int64_t>(seq.blocks.size()) * bs < upto) seq.blocks.push_back(next_block++);
  };
  for (int64_t r = 0; r < rows; ++r) {
    int64_t len = max_len;
    if (!s.uniform) {
      len = r % 3 == 0 ? edge_lengths[(r / 3) % (sizeof edge_lengths / sizeof edge_lengths[0])]
                       : 1 + static_cast<int64_t>(uniform(seed, static_cast<uint64_t>(r)) * max_len);
      len = std::max<int64_t>(1, std::min(len, max_len));
    }
    // Rows 3k have the edge lengths; a fork or a repeat follows a row of random length.
    const int kind = s.uniform ? 0 : static_cast<int>(r % 6);
    if (kind == 5) {  // the previous row's sequence again, at most as long
      b.seq_rows.push_back(b.seq_rows.back());
      b.lengths.push_back(static_cast<int32_t>(std::min(len, seqs[b.seq_rows.back()].length)));
      continue;
    }
    Sequence seq{{}, len};
    if (kind == 2) {  // a fork: the parent's first full blocks, up to half the shorter length
      const Sequence& parent = seqs[b.seq_rows.back()];
      const int64_t shared = std::min(parent.length, len) / 2 / bs;
      seq.blocks.assign(parent.blocks.begin(), parent.blocks.begin() + shared);
    }
    fresh_blocks(seq, len);
    b.seq_rows.push_back(static_cast<int32_t>(seqs.size()));
    b.lengths.push_back(static_cast<int32_t>(len));
    seqs.push_back(std::move(seq));
  }
  // Ids shuffled over the pool: the used blocks, a NaN block for the table's padding, two unused.
  const int32_t padding_block = next_block, num_blocks = next_block + 3;
  std::vector<int32_t> shuffled(num_blocks);
  for (int32_t i = 0; i < num_blocks; ++i) shuffled[i] = i;
  for (int32_t i = num_blocks - 1; i > 0; --i) {  // Fisher-Yates
    const int32_t j = static_cast<int32_t>(uniform(seed + 1, static_cast<uint64_t>(i)) * (i + 1)) % (i + 1);
    std::swap(shuffled[i], shuffled[j]);
  }
  size_t widest = 0;
  for (const Sequence& seq : seqs) widest = std::max(widest, seq.blocks.size());
  b.table_stride = static_cast<int64_t>(widest) + 3;
  b.block_table.assign(seqs.size() * b.table_stride, shuffled[padding_block]);
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (size_t k = 0; k < seqs[i].blocks.size(); ++k) {
      b.block_table[i * b.table_stride + k] = shuffled[seqs[i].blocks[k]];
    }
  }
  // Slots with data: every position below its sequence's length (a fork's shared blocks are its parent's).
  b.num_slots = num_blocks * bs;
  std::vector<uint8_t> written(b.num_slots, 0);
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (int64_t pos = 0; pos < seqs[i].length; ++pos) {
      written[b.block_table[i * b.table_stride + pos / bs] * bs + pos % bs] = 1;
    }
  }
  const int64_t row = s.kv_heads * s.head_dim;
  b.keys.resize(b.num_slots * row * dtype_size(dtype));
  b.values.resize(b.keys.size());
  parallel_for(b.num_slots, [&](int64_t lo, int64_t hi, int) {
    for (int64_t slot = lo; slot < hi; ++slot) {
      for (int64_t e = slot * row; e < (slot + 1) * row; ++e) {
        const uint64_t k = static_cast<uint64_t>(e);
        put_element(b.keys, dtype, e, written[slot] ? static_cast<float>(normal(seed + 2, k)) : NAN);
        put_element(b.values, dtype, e, written[slot] ? static_cast<float>(normal(seed + 3, k)) : NAN);
      }
    }
  });
  b.q.resize(rows * s.heads * s.head_dim * dtype_size(dtype));
  for (int64_t e = 0; e < rows * s.heads * s.head_dim; ++e) {
    put_element(b.q, dtype, e, static_cast<float>(s.q_std * normal(seed + 4, static_cast<uint64_t>(e))));
  }
  return b;
}

// Float64 attention of every (row, head) from the stored elements, with its tolerance per output:
// rtol times the size of the terms, sum_p w_p |v_p| / sum_p w_p, plus the output error a score
// error of ulp_slack * max_p |scale q . k_p| (magnitudes summed) moves it by; plus one bf16 ulp
// of the output for bf16.
struct PagedReference {
  std::vector<double> out, tol;
};
constexpr double kPagedRtol = 1e-5;
constexpr double kPagedUlpSlack = 4;
PagedReference paged_reference(const PagedBatch& b) {
  const PagedShape& s = b.shape;
  const int64_t d = s.head_dim, group = s.heads / s.kv_heads;
  PagedReference ref{std::vector<double>(b.n * s.heads * d), std::vector<double>(b.n * s.heads * d)};
  parallel_for(b.n * s.heads, [&](int64_t lo, int64_t hi, int) {
    std::vector<double> score, acc(d), terms(d);
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t r = item / s.heads, h = item % s.heads, g = h / group, len = b.lengths[r];
      const size_t q_at = static_cast<size_t>(item * d);
      score.assign(len, 0.0);
      double max_score = -INFINITY, max_magnitude = 0;
      for (int64_t pos = 0; pos < len; ++pos) {
        const size_t k_at = static_cast<size_t>((b.slot(r, pos) * s.kv_heads + g) * d);
        double dot = 0, magnitude = 0;
        for (int64_t c = 0; c < d; ++c) {
          const double x =
              static_cast<double>(Logits::get(b.q, b.dtype, q_at + c)) * Logits::get(b.keys, b.dtype, k_at + c);
          dot += x;
          magnitude += std::fabs(x);
        }
        score[pos] = b.scale * dot;
        max_score = std::max(max_score, score[pos]);
        max_magnitude = std::max(max_magnitude, b.scale * magnitude);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      std::fill(terms.begin(), terms.end(), 0.0);
      double sum = 0;
      for (int64_t pos = 0; pos < len; ++pos) {
        const double w = std::exp(score[pos] - max_score);
        const size_t v_at = static_cast<size_t>((b.slot(r, pos) * s.kv_heads + g) * d);
        sum += w;
        for (int64_t c = 0; c < d; ++c) {
          const double v = Logits::get(b.values, b.dtype, v_at + c);
          acc[c] += w * v;
          terms[c] += w * std::fabs(v);
        }
      }
      const double score_slack = kPagedUlpSlack * 0x1.0p-24 * max_magnitude;
      for (int64_t c = 0; c < d; ++c) {
        const double want = acc[c] / sum;
        // |v_p - out| <= |v_p| + |out|: a score error e moves the output by at most 2 e terms
        double tol = (kPagedRtol + 2 * score_slack) * terms[c] / sum;
        if (b.dtype == ARPO_BF16) tol += 0x1.0p-7 * std::fabs(want);
        ref.out[q_at + c] = want;
        ref.tol[q_at + c] = tol;
      }
    }
  });
  return ref;
}

Diff compare_paged(const std::vector<uint8_t>& got, arpo_dtype dtype, const PagedReference& ref) {
  Diff diff;
  for (size_t i = 0; i < ref.out.size(); ++i) diff.add(Logits::get(got, dtype, i), ref.out[i], ref.tol[i]);
  return diff;
}

std::string describe_paged(const char* name, const Diff& d) {
  return format("%s abs %.1e (%.2f of tol, %lld over)", name, d.max_abs, d.worst, static_cast<long long>(d.bad));
}

void check_paged_attention(const Options& opt, Report& rep, const PagedShape& s, arpo_dtype dtype, int c) {
  const int64_t rows = opt.quick ? std::max<int64_t>(1, s.rows / 4) : s.rows;
  const int64_t max_len = opt.quick ? std::min<int64_t>(s.max_len, 1024) : s.max_len;
  const PagedBatch b = make_paged_batch(s, dtype, rows, max_len, 9000 + 10 * c);
  const PagedReference ref = paged_reference(b);
  const size_t out_bytes = static_cast<size_t>(rows * s.heads * s.head_dim) * dtype_size(dtype);
  std::vector<uint8_t> cpu(out_bytes);
  if (!cpu_ok(arpo_paged_attention(b.q.data(), b.keys.data(), b.values.data(), dtype, rows, s.heads, s.kv_heads,
                                   s.head_dim, b.block_table.data(), b.table_stride, s.block_size, b.seq_rows.data(),
                                   b.lengths.data(), b.scale, cpu.data()),
              "paged_attention")) {
    rep.failed++;
    return;
  }
  DeviceBuffer dq = to_device(b.q), dkeys = to_device(b.keys), dvalues = to_device(b.values);
  DeviceBuffer dtable = to_device(b.block_table), dseq = to_device(b.seq_rows), dlen = to_device(b.lengths);
  DeviceBuffer dout(out_bytes);
  CUDA_OK(cudaMemset(dout.ptr, 0xFF, out_bytes));  // NaN in both dtypes: an output left unwritten fails
  auto run = [&] {
    return arpo_cuda_paged_attention(dq.ptr, dkeys.ptr, dvalues.ptr, dtype, rows, s.heads, s.kv_heads, s.head_dim,
                                     dtable.as<int32_t>(), b.table_stride, s.block_size, dseq.as<int32_t>(),
                                     dlen.as<int32_t>(), b.scale, dout.ptr, nullptr);
  };
  if (!gpu_ok(run(), "paged_attention")) {
    rep.failed++;
    return;
  }
  std::vector<uint8_t> gpu(out_bytes);
  dout.download(gpu.data(), out_bytes);
  const Diff e_gpu = compare_paged(gpu, dtype, ref), e_cpu = compare_paged(cpu, dtype, ref);
  const int32_t shortest = *std::min_element(b.lengths.begin(), b.lengths.end());
  const int32_t longest = *std::max_element(b.lengths.begin(), b.lengths.end());
  rep.result(e_gpu.ok() && e_cpu.ok(),
             format("%-17s %-24s %s N=%-3lld len %d..%d", "paged_attention", s.name, dtype_name(dtype),
                    static_cast<long long>(rows), shortest, longest) +
                 " | " + describe_paged("gpu", e_gpu) + " | " + describe_paged("cpu", e_cpu));
  if (s.timed) {
    const double ms = median_ms(run, opt.warmup, opt.reps);
    rep.timing(format("paged_attention %s %s len %d (K+V)", s.name, dtype_name(dtype), longest), ms,
               static_cast<double>(b.kv_bytes_read()), opt);
  }
}

// ---------------------------------------------------------------------------------------
// Argument checks: bad input is refused with a message, nothing is launched.
// ---------------------------------------------------------------------------------------

void check_errors(Report& rep) {
  DeviceBuffer buf(1 << 16);
  float* f = buf.as<float>();
  int64_t* t = buf.as<int64_t>();
  int32_t* i32 = buf.as<int32_t>();
  const void* misaligned = buf.as<uint8_t>() + 2;
  struct Refusal {
    const char* what;
    int rc;
  };
  const Refusal refusals[] = {
      {"token_stats null logits", arpo_cuda_token_stats(nullptr, ARPO_F32, 1, 8, 8, t, 1.0f, f, f, f, nullptr)},
      {"token_stats T=0", arpo_cuda_token_stats(f, ARPO_F32, 1, 8, 8, t, 0.0f, f, f, f, nullptr)},
      {"token_stats stride<V", arpo_cuda_token_stats(f, ARPO_F32, 1, 8, 4, t, 1.0f, f, f, f, nullptr)},
      {"token_stats misaligned fp32", arpo_cuda_token_stats(misaligned, ARPO_F32, 1, 8, 8, t, 1.0f, f, f, f, nullptr)},
      {"token_stats bad dtype",
       arpo_cuda_token_stats(f, static_cast<arpo_dtype>(7), 1, 8, 8, t, 1.0f, f, f, f, nullptr)},
      {"sample top_p=0", arpo_cuda_sample(f, ARPO_F32, 1, 8, 8, 1.0f, 0.0f, 0, 1, 1, t, f, f, nullptr)},
      {"sample top_k<0", arpo_cuda_sample(f, ARPO_F32, 1, 8, 8, 1.0f, 1.0f, -1, 1, 1, t, f, f, nullptr)},
      {"sample T<0", arpo_cuda_sample(f, ARPO_F32, 1, 8, 8, -1.0f, 1.0f, 0, 1, 1, t, f, f, nullptr)},
      {"clipped_surrogate bad mode",
       arpo_cuda_clipped_surrogate(f, f, f, f, 1, 8, 0.2f, 0.2f, 0.0f, 0.0f, 0.0f, static_cast<arpo_agg_mode>(5), f,
                                   f, f, nullptr)},
      {"clipped_surrogate eps_low=1",
       arpo_cuda_clipped_surrogate(f, f, f, f, 1, 8, 1.0f, 0.2f, 0.0f, 0.0f, 0.0f, ARPO_AGG_TOKEN_MEAN, f, f, f,
                                   nullptr)},
      {"clipped_surrogate clip_grad_low<0",
       arpo_cuda_clipped_surrogate(f, f, f, f, 1, 8, 0.2f, 0.2f, 0.0f, -1.0f, 1.0f, ARPO_AGG_TOKEN_MEAN, f, f, f,
                                   nullptr)},
      {"logprob_backward grad_entropy without entropy",
       arpo_cuda_logprob_backward(f, ARPO_F32, 1, 8, 8, t, f, nullptr, f, f, 1.0f, nullptr)},
      {"logprob_backward null targets",
       arpo_cuda_logprob_backward(f, ARPO_F32, 1, 8, 8, nullptr, f, f, f, nullptr, 1.0f, nullptr)},
      {"paged_attention null lengths",
       arpo_cuda_paged_attention(f, f, f, ARPO_F32, 1, 2, 1, 64, i32, 1, 16, i32, nullptr, 1.0f, f, nullptr)},
      {"paged_attention heads 3 kv_heads 2",
       arpo_cuda_paged_attention(f, f, f, ARPO_F32, 1, 3, 2, 64, i32, 1, 16, i32, i32, 1.0f, f, nullptr)},
      {"paged_attention head_dim 257",
       arpo_cuda_paged_attention(f, f, f, ARPO_F32, 1, 2, 1, 257, i32, 1, 16, i32, i32, 1.0f, f, nullptr)},
      {"paged_attention block_size 0",
       arpo_cuda_paged_attention(f, f, f, ARPO_F32, 1, 2, 1, 64, i32, 1, 0, i32, i32, 1.0f, f, nullptr)},
      {"paged_attention misaligned bf16",
       arpo_cuda_paged_attention(buf.as<uint8_t>() + 1, f, f, ARPO_BF16, 1, 2, 1, 64, i32, 1, 16, i32, i32, 1.0f, f,
                                 nullptr)},
  };
  for (const Refusal& r : refusals) rep.result(r.rc == ARPO_ERR_INVALID, format("refuses %-44s rc=%d", r.what, r.rc));
  // The message names the function that refused.
  arpo_cuda_sample(f, ARPO_F32, 1, 8, 8, 1.0f, 2.0f, 0, 1, 1, t, f, f, nullptr);
  const std::string message = arpo_cuda_last_error();
  rep.result(message.find("sample") != std::string::npos && message.find("top_p") != std::string::npos,
             "error message: \"" + message + "\"");
}

int usage() {
  std::fprintf(stderr, "usage: arpo4j_cuda_check [--quick]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      opt.quick = true;
      opt.warmup = 1;
      opt.reps = 5;
      opt.rows = {1, 64};
    } else {
      return usage();
    }
  }
  int devices = 0;
  const cudaError_t probe = cudaGetDeviceCount(&devices);
  if (probe != cudaSuccess || devices == 0) {
    std::printf("arpo4j_cuda_check: no CUDA device (%s): nothing was checked or timed.\n",
                probe != cudaSuccess ? cudaGetErrorString(probe) : "device count 0");
    return 0;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device 0: %s, sm_%d%d, %d SMs, %.1f GiB%s\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, opt.quick ? "  (--quick)" : "");

  Report rep;
  check_errors(rep);
  const arpo_dtype dtypes[] = {ARPO_F32, ARPO_BF16};
  int c = 0;
  for (int64_t v : opt.vocabs)
    for (int64_t n : opt.rows)
      for (arpo_dtype dt : dtypes) check_token_stats(opt, rep, dt, n, v, c++);
  c = 0;
  for (int64_t v : opt.vocabs)
    for (int64_t n : opt.rows)
      for (arpo_dtype dt : dtypes) check_backward(opt, rep, dt, n, v, c++);
  Agreement agree;
  c = 0;
  for (int64_t v : opt.vocabs)
    for (int64_t n : opt.rows)
      for (arpo_dtype dt : dtypes) check_sample(opt, rep, agree, dt, n, v, c++);
  const double rate = agree.rows ? static_cast<double>(agree.same) / agree.rows : 1.0;
  rep.result(rate >= 0.99, format("sample: GPU tokens = CPU tokens on %.3f%% of %lld sampled rows (need >= 99%%)",
                                  100.0 * rate, static_cast<long long>(agree.rows)));
  c = 0;
  check_surrogate(opt, rep, 3, 5, true, c++);
  check_surrogate(opt, rep, 1, 1, false, c++);
  check_surrogate(opt, rep, 7, 300, false, c++);
  check_surrogate(opt, rep, 64, 1000, false, c++);
  if (!opt.quick) check_surrogate(opt, rep, 512, 4096, false, c++);
  c = 0;
  for (const PagedShape& shape : kPagedShapes)
    for (arpo_dtype dt : dtypes) check_paged_attention(opt, rep, shape, dt, c++);

  std::printf("\ntimings (median of %d after %d warmup; GB/s = bytes read + written / time)\n", opt.reps, opt.warmup);
  for (const std::string& line : rep.timings) std::printf("%s\n", line.c_str());
  std::printf("\n%d passed, %d failed\n", rep.passed, rep.failed);
  return rep.failed ? 1 : 0;
}
