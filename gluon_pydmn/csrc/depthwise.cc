// The pyramid depthwise convolution of PydMobileNet as one MXNet 1.9 operator (lib_api.h).
//
// pyd_pyramid_depthwise(data, weight_0, ..., weight_{B-1}; kernels="3,5,7", stride, merge)
// applies B depthwise convolutions with odd kernels k_b, "same" padding k_b / 2 and a common
// stride to data (N, C, H, W) and either sums them (merge="add", output C channels) or
// concatenates them along channels (merge="concat", output B*C channels), exactly as the
// authors' separate branches do, with forward and backward in C++.
//
// Why: MKL-DNN (MXNet 1.9) computes the weight gradient of 5x5/7x7 depthwise convolutions
// through a generic gemm path that costs 10-20x the forward convolution, and MXNet 1.9's
// Python custom operators receive MKL-DNN-layout arrays as garbage, so the fix cannot mix
// MKL-DNN calls with a hand-written gradient. Everything here is a direct loop over one
// (n, c) plane at a time, copied into a zero-padded buffer (split into column phases for
// stride > 1) so that every inner loop is contiguous and vectorisable:
//   forward  y_b[oh][ow] = sum_ij w_b[i][j] * xpad[oh*s + i][ow*s + j]
//   input    dx[h][w]    = sum_b sum_ij flip(w_b)[i][j] * dilate_s(dy_b)pad[h + i][w + j]
//   weight   dw_b[i][j]  = sum_n sum_{oh,ow} dy_b[oh][ow] * xpad[oh*s + i][ow*s + j]
// (for "add", dy_b = dy, and the forward uses the summed kernel).
#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "mxnet/lib_api.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PYD_HAVE_AVX2 1
#endif

using namespace mxnet::ext;

namespace {

using Attrs = std::unordered_map<std::string, std::string>;

struct Config {
  std::vector<int> kernels;
  int stride = 1;
  bool concat = false;
  int pmax() const { return *std::max_element(kernels.begin(), kernels.end()) / 2; }
};

bool parse(const Attrs& attrs, Config* cfg) {
  auto k = attrs.find("kernels"), s = attrs.find("stride"), m = attrs.find("merge");
  if (k == attrs.end() || s == attrs.end()) return false;
  std::stringstream ss(k->second);
  std::string item;
  cfg->kernels.clear();
  try {
    while (std::getline(ss, item, ',')) {
      const int v = std::stoi(item);
      if (v < 1 || v % 2 == 0) return false;
      cfg->kernels.push_back(v);
    }
    cfg->stride = std::stoi(s->second);
  } catch (...) {
    return false;
  }
  cfg->concat = m != attrs.end() && m->second == "concat";
  if (m != attrs.end() && m->second != "concat" && m->second != "add") return false;
  return !cfg->kernels.empty() && cfg->stride >= 1;
}

// A zero-padded copy of one plane, split into `s` column phases: padded column q*s + f is
// entry q of phase f, so a window read at stride s is a contiguous run in one phase.
template <typename T>
struct Plane {
  int64_t rows, phase_w;
  int s;
  std::vector<T> buf;
  Plane(int64_t rows_, int64_t cols, int s_)
      : rows(rows_), phase_w((cols + s_ - 1) / s_ + 8), s(s_),
        buf(static_cast<size_t>(s_ * rows_ * ((cols + s_ - 1) / s_ + 8)), T(0)) {}
  // Row 0 of the padded plane from padded column `col` on, stepping by s; add
  // r * phase_w for row r.
  const T* column(int64_t col) const {
    return buf.data() + (col % s) * rows * phase_w + col / s;
  }
  // src (h x w) placed at padded (pad + r*d, pad + c*d); other cells must be zero already.
  void fill(const T* src, int64_t h, int64_t w, int pad, int d) {
    if (s == 1 && d == 1) {
      for (int64_t r = 0; r < h; ++r)
        std::memcpy(buf.data() + (pad + r) * phase_w + pad, src + r * w, sizeof(T) * w);
      return;
    }
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        const int64_t pc = pad + c * d;
        buf[((pc % s) * rows + pad + r * d) * phase_w + pc / s] = src[r * w + c];
      }
  }
};

// out[oh][ow] += sum_ij w[i][j] * P[oh*s + off + i][ow*s + off + j]
template <typename T>
void correlate(const Plane<T>& p, const T* w, int k, int off, int64_t ho, int64_t wo, T* out) {
  std::vector<const T*> cols(k);
  for (int j = 0; j < k; ++j) cols[j] = p.column(off + j);
  for (int64_t oh = 0; oh < ho; ++oh) {
    T* orow = out + oh * wo;
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        const T wv = w[i * k + j];
        const T* src = cols[j] + (oh * p.s + off + i) * p.phase_w;
#pragma omp simd
        for (int64_t ow = 0; ow < wo; ++ow) orow[ow] += wv * src[ow];
      }
  }
}

#ifdef PYD_HAVE_AVX2
// float32: NV output vectors of a row stay in registers over all k*k taps.
template <int NV>
void correlate_row_avx2(const float* const* cols, int64_t phase_w, const float* w, int k,
                        int64_t r0, float* orow) {
  __m256 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_loadu_ps(orow + 8 * v);
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      const __m256 wv = _mm256_set1_ps(w[i * k + j]);
      const float* src = cols[j] + (r0 + i) * phase_w;
      for (int v = 0; v < NV; ++v)
        acc[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src + 8 * v), acc[v]);
    }
  for (int v = 0; v < NV; ++v) _mm256_storeu_ps(orow + 8 * v, acc[v]);
}

void correlate(const Plane<float>& p, const float* w, int k, int off, int64_t ho, int64_t wo,
               float* out) {
  if (wo % 8 != 0 || k > 15) return correlate<float>(p, w, k, off, ho, wo, out);
  // Output columns in chunks of up to 32 (4 vectors); chunk w0 reads phase entries from w0 on.
  for (int64_t w0 = 0; w0 < wo; w0 += 32) {
    const float* cols[15];
    for (int j = 0; j < k; ++j) cols[j] = p.column(off + j) + w0;
    const int nv = static_cast<int>(std::min<int64_t>(4, (wo - w0) / 8));
    for (int64_t oh = 0; oh < ho; ++oh) {
      float* orow = out + oh * wo + w0;
      const int64_t r0 = oh * p.s + off;
      switch (nv) {
        case 4: correlate_row_avx2<4>(cols, p.phase_w, w, k, r0, orow); break;
        case 3: correlate_row_avx2<3>(cols, p.phase_w, w, k, r0, orow); break;
        case 2: correlate_row_avx2<2>(cols, p.phase_w, w, k, r0, orow); break;
        default: correlate_row_avx2<1>(cols, p.phase_w, w, k, r0, orow); break;
      }
    }
  }
}
#endif

template <typename T>
inline T dot(const T* a, const T* b, int64_t len) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t t = 0; t < len; ++t) sum += a[t] * b[t];
  return sum;
}

// acc[i][j] += sum_{oh,ow} g[oh][ow] * P[oh*s + off + i][ow*s + off + j]
template <typename T>
void weight_dot(const Plane<T>& p, const T* g, int k, int off, int64_t ho, int64_t wo, T* acc) {
  std::vector<const T*> cols(k);
  for (int j = 0; j < k; ++j) cols[j] = p.column(off + j);
  for (int i = 0; i < k; ++i)
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int j = 0; j < k; ++j)
        acc[i * k + j] += dot(g + oh * wo, cols[j] + (oh * p.s + off + i) * p.phase_w, wo);
}

#ifdef PYD_HAVE_AVX2
// float32, width a multiple of 8: the k products of a row of g with the k shifted input rows
// stay in k registers over all rows; one horizontal sum per (i, j).
template <int K>
void weight_dot_avx2(const Plane<float>& p, const float* g, int off, int64_t ho, int64_t wo,
                     float* acc) {
  const float* cols[K];
  for (int j = 0; j < K; ++j) cols[j] = p.column(off + j);
  for (int i = 0; i < K; ++i) {
    __m256 sum[K];
    for (int j = 0; j < K; ++j) sum[j] = _mm256_setzero_ps();
    for (int64_t oh = 0; oh < ho; ++oh) {
      const float* grow = g + oh * wo;
      const float* base[K];
      for (int j = 0; j < K; ++j) base[j] = cols[j] + (oh * p.s + off + i) * p.phase_w;
      for (int64_t w0 = 0; w0 < wo; w0 += 8) {
        const __m256 gv = _mm256_loadu_ps(grow + w0);
        for (int j = 0; j < K; ++j)
          sum[j] = _mm256_fmadd_ps(gv, _mm256_loadu_ps(base[j] + w0), sum[j]);
      }
    }
    for (int j = 0; j < K; ++j) {
      __m128 v = _mm_add_ps(_mm256_castps256_ps128(sum[j]), _mm256_extractf128_ps(sum[j], 1));
      v = _mm_hadd_ps(v, v);
      v = _mm_hadd_ps(v, v);
      acc[i * K + j] += _mm_cvtss_f32(v);
    }
  }
}

void weight_dot(const Plane<float>& p, const float* g, int k, int off, int64_t ho, int64_t wo,
                float* acc) {
  if (wo % 8 == 0) {
    switch (k) {
      case 3: return weight_dot_avx2<3>(p, g, off, ho, wo, acc);
      case 5: return weight_dot_avx2<5>(p, g, off, ho, wo, acc);
      case 7: return weight_dot_avx2<7>(p, g, off, ho, wo, acc);
      default: break;
    }
  }
  weight_dot<float>(p, g, k, off, ho, wo, acc);
}
#endif

struct Shape {
  int64_t n, c, h, w, ho, wo;
};

// The kernels the forward pass applies, per output group and channel: for "concat" each
// branch's own, for "add" one summed kernel of the largest size. `flipped` holds them rotated
// by 180 degrees, for the input gradient.
template <typename T>
struct GroupKernels {
  std::vector<int> sizes;
  std::vector<std::vector<T>> taps, flipped;  // [group][channel * k * k]
  GroupKernels(const Config& cfg, const std::vector<const T*>& ws, int64_t c) {
    const int pmax = cfg.pmax(), kmax = 2 * pmax + 1;
    if (cfg.concat) {
      for (size_t b = 0; b < ws.size(); ++b) {
        const int k = cfg.kernels[b];
        sizes.push_back(k);
        taps.emplace_back(ws[b], ws[b] + c * k * k);
      }
    } else {
      sizes.push_back(kmax);
      taps.emplace_back(static_cast<size_t>(c * kmax * kmax), T(0));
      for (size_t b = 0; b < ws.size(); ++b) {
        const int k = cfg.kernels[b], o = pmax - k / 2;
        for (int64_t ch = 0; ch < c; ++ch)
          for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j)
              taps[0][(ch * kmax + o + i) * kmax + o + j] += ws[b][(ch * k + i) * k + j];
      }
    }
    for (size_t g = 0; g < sizes.size(); ++g) {
      const int kk = sizes[g] * sizes[g];
      flipped.emplace_back(taps[g].size());
      for (int64_t ch = 0; ch < c; ++ch)
        std::reverse_copy(taps[g].begin() + ch * kk, taps[g].begin() + (ch + 1) * kk,
                          flipped[g].begin() + ch * kk);
    }
  }
  const T* at(size_t g, int64_t ch, bool flip) const {
    return (flip ? flipped : taps)[g].data() + ch * sizes[g] * sizes[g];
  }
};

template <typename T>
void forward(const Config& cfg, const Shape& sh, const T* x, const std::vector<const T*>& ws,
             T* y) {
  const int pmax = cfg.pmax(), s = cfg.stride;
  const GroupKernels<T> kernels(cfg, ws, sh.c);
  const int64_t nout = static_cast<int64_t>(kernels.sizes.size());
#pragma omp parallel
  {
    Plane<T> plane(std::max(sh.h + 2 * pmax, (sh.ho - 1) * s + 2 * pmax + 1),
                   std::max(sh.w + 2 * pmax, (sh.wo - 1) * s + 2 * pmax + 1), s);
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < sh.n * sh.c; ++nc) {
      const int64_t img = nc / sh.c, ch = nc % sh.c;
      plane.fill(x + nc * sh.h * sh.w, sh.h, sh.w, pmax, 1);
      for (int64_t b = 0; b < nout; ++b) {
        const int k = kernels.sizes[b];
        T* out = y + ((img * nout + b) * sh.c + ch) * sh.ho * sh.wo;
        std::fill(out, out + sh.ho * sh.wo, T(0));
        correlate(plane, kernels.at(b, ch, false), k, pmax - k / 2, sh.ho, sh.wo, out);
      }
    }
  }
}

// dx = sum_b correlate(dilate_s(dy_b) padded by pmax, flip(w_b)); dw_b as in the header.
template <typename T>
void backward(const Config& cfg, const Shape& sh, const T* x, const std::vector<const T*>& ws,
              const T* dy, T* dx, const std::vector<T*>& dws) {
  const int pmax = cfg.pmax(), s = cfg.stride, nb = static_cast<int>(ws.size());
  const int64_t ngrad = cfg.concat ? nb : 1;
  {
    const GroupKernels<T> kernels(cfg, ws, sh.c);
#pragma omp parallel
    {
      Plane<T> plane(sh.h + 2 * pmax, sh.w + 2 * pmax, 1);
#pragma omp for schedule(static)
      for (int64_t nc = 0; nc < sh.n * sh.c; ++nc) {
        const int64_t img = nc / sh.c, ch = nc % sh.c;
        T* out = dx + nc * sh.h * sh.w;
        std::fill(out, out + sh.h * sh.w, T(0));
        for (int64_t b = 0; b < ngrad; ++b) {
          if (s > 1) std::fill(plane.buf.begin(), plane.buf.end(), T(0));
          plane.fill(dy + ((img * ngrad + b) * sh.c + ch) * sh.ho * sh.wo, sh.ho, sh.wo, pmax, s);
          const int k = kernels.sizes[b];
          correlate(plane, kernels.at(b, ch, true), k, pmax - k / 2, sh.h, sh.w, out);
        }
      }
    }
  }
  // Weight gradients: parallel over channels, summed over images in a fixed order.
  const int kmax = 2 * pmax + 1;
#pragma omp parallel
  {
    Plane<T> plane(std::max(sh.h + 2 * pmax, (sh.ho - 1) * s + kmax),
                   std::max(sh.w + 2 * pmax, (sh.wo - 1) * s + kmax), s);
    std::vector<std::vector<T>> acc(ngrad);
#pragma omp for schedule(dynamic)
    for (int64_t ch = 0; ch < sh.c; ++ch) {
      for (int64_t b = 0; b < ngrad; ++b) {
        const int k = cfg.concat ? cfg.kernels[b] : kmax;
        acc[b].assign(static_cast<size_t>(k * k), T(0));
      }
      for (int64_t img = 0; img < sh.n; ++img) {
        plane.fill(x + (img * sh.c + ch) * sh.h * sh.w, sh.h, sh.w, pmax, 1);
        for (int64_t b = 0; b < ngrad; ++b) {
          const int k = cfg.concat ? cfg.kernels[b] : kmax;
          weight_dot(plane, dy + ((img * ngrad + b) * sh.c + ch) * sh.ho * sh.wo, k,
                     pmax - k / 2, sh.ho, sh.wo, acc[b].data());
        }
      }
      // "add": every branch kernel gets the centre crop of the summed kernel's gradient.
      for (int b = 0; b < nb; ++b) {
        const int k = cfg.kernels[b];
        const int64_t src = cfg.concat ? b : 0;
        const int ks = cfg.concat ? k : kmax, o = (ks - k) / 2;
        T* out = dws[b] + ch * k * k;
        for (int i = 0; i < k; ++i)
          for (int j = 0; j < k; ++j) {
            out[i * k + j] = acc[src][(o + i) * ks + o + j];
          }
      }
    }
  }
}

Shape shape_of(const MXTensor& x, const Config& cfg) {
  const int64_t h = x.shape[2], w = x.shape[3];
  return {x.shape[0], x.shape[1], h, w, (h - 1) / cfg.stride + 1, (w - 1) / cfg.stride + 1};
}

template <typename T>
void run_forward(const Config& cfg, std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
  std::vector<const T*> ws;
  for (size_t b = 0; b < cfg.kernels.size(); ++b) ws.push_back((*in)[1 + b].data<T>());
  forward<T>(cfg, shape_of((*in)[0], cfg), (*in)[0].data<T>(), ws, (*out)[0].data<T>());
}

// Backward inputs: grad_out, data, weights... (then the output, unused); outputs: the
// gradients of data and weights, all written (lib_api has no request types).
template <typename T>
void run_backward(const Config& cfg, std::vector<MXTensor>* in, std::vector<MXTensor>* out) {
  const size_t nb = cfg.kernels.size();
  std::vector<const T*> ws;
  std::vector<T*> dws;
  for (size_t b = 0; b < nb; ++b) {
    ws.push_back((*in)[2 + b].data<T>());
    dws.push_back((*out)[1 + b].data<T>());
  }
  backward<T>(cfg, shape_of((*in)[1], cfg), (*in)[1].data<T>(), ws, (*in)[0].data<T>(),
              (*out)[0].data<T>(), dws);
}

MXReturnValue parse_attrs(const Attrs& attrs, int* num_in, int* num_out) {
  Config cfg;
  if (!parse(attrs, &cfg)) {
    MX_ERROR_MSG << "pyd_pyramid_depthwise needs kernels (odd sizes, e.g. \"3,5,7\"), "
                    "stride >= 1 and merge \"add\" or \"concat\"";
    return MX_FAIL;
  }
  *num_in = 1 + static_cast<int>(cfg.kernels.size());
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue infer_type(const Attrs& attrs, std::vector<int>* in_types,
                         std::vector<int>* out_types) {
  const int t = (*in_types)[0];
  for (int u : *in_types)
    if (u != t || (t != kFloat32 && t != kFloat64)) {
      MX_ERROR_MSG << "pyd_pyramid_depthwise: data and weights must all be float32 or all "
                      "float64";
      return MX_FAIL;
    }
  (*out_types)[0] = t;
  return MX_SUCCESS;
}

MXReturnValue infer_shape(const Attrs& attrs, std::vector<std::vector<unsigned int>>* in_shapes,
                          std::vector<std::vector<unsigned int>>* out_shapes) {
  Config cfg;
  parse(attrs, &cfg);
  const auto& xs = (*in_shapes)[0];
  if (xs.size() != 4) {
    MX_ERROR_MSG << "pyd_pyramid_depthwise: data must be NCHW";
    return MX_FAIL;
  }
  for (size_t b = 0; b < cfg.kernels.size(); ++b) {
    const unsigned k = cfg.kernels[b];
    const std::vector<unsigned int> want{xs[1], 1u, k, k};
    auto& got = (*in_shapes)[1 + b];
    if (got.empty()) got = want;  // a weight of unknown shape (symbolic graphs) gets its shape
    if (got != want) {
      MX_ERROR_MSG << "pyd_pyramid_depthwise: weight " << b << " must be (" << xs[1] << ", 1, "
                   << k << ", " << k << ")";
      return MX_FAIL;
    }
  }
  const unsigned s = cfg.stride;
  const unsigned c = xs[1] * (cfg.concat ? cfg.kernels.size() : 1);
  (*out_shapes)[0] = {xs[0], c, (xs[2] - 1) / s + 1, (xs[3] - 1) / s + 1};
  return MX_SUCCESS;
}

// Calls fn with a value of the tensors' element type (float32 or float64; infer_type
// allows no other).
template <typename Fn>
MXReturnValue by_dtype(int dtype, Fn&& fn) {
  if (dtype == kFloat32)
    fn(float{});
  else
    fn(double{});
  return MX_SUCCESS;
}

MXReturnValue forward_op(const Attrs& attrs, std::vector<MXTensor>* inputs,
                         std::vector<MXTensor>* outputs, const OpResource& res) {
  Config cfg;
  parse(attrs, &cfg);
  return by_dtype((*inputs)[0].dtype, [&](auto zero) {
    run_forward<decltype(zero)>(cfg, inputs, outputs);
  });
}

MXReturnValue backward_op(const Attrs& attrs, std::vector<MXTensor>* inputs,
                          std::vector<MXTensor>* outputs, const OpResource& res) {
  Config cfg;
  parse(attrs, &cfg);
  return by_dtype((*inputs)[1].dtype, [&](auto zero) {
    run_backward<decltype(zero)>(cfg, inputs, outputs);
  });
}

}  // namespace

REGISTER_OP(pyd_pyramid_depthwise)
    .setParseAttrs(parse_attrs)
    .setInferType(infer_type)
    .setInferShape(infer_shape)
    .setForward(forward_op, "cpu")
    .setBackward(backward_op, "cpu");

MXReturnValue initialize(int version) {
  if (version >= 10700) return MX_SUCCESS;
  MX_ERROR_MSG << "gluon_pydmn's depthwise operator needs MXNet >= 1.7, found " << version;
  return MX_FAIL;
}
