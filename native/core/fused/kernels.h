// Dense float32 kernels of the fused MADDPG update: a register-tiled matrix product with fused
// epilogues (bias, ReLU, ReLU-backward mask), short dot products, column sums, tanh and its
// backward pass, and the flat-buffer Adam, soft update and gradient scaling.
// Plain C++17, no LibTorch. Each kernel defines its own summation order (below), and every kernel
// level (portable, AVX2, AVX-512) follows it, so a level changes speed, never bits; the thread count
// does not change bits either. The results are not those of any BLAS or of LibTorch bit for bit:
// they agree with them to float rounding (native/tests/test_fused.cc states the bounds).
#pragma once
#include <cstdint>

namespace tennis::fused {

// A read-only matrix with arbitrary element strides: element (r, c) is data[r * row_stride + c * col_stride].
// Lets one product kernel read X, dZ and dZ^T without copies.
struct Strided {
  const float* data = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 1;
};

// What happens to each output element after the product, in this order.
struct Epilogue {
  const float* bias = nullptr;  // bias[n] + sum (one value per output column) instead of the sum alone
  bool relu = false;            // v > 0 ? v : 0
  const float* mask = nullptr;  // zero v unless mask[m * ld_mask + n] > 0 (ReLU backward through an output)
  int64_t ld_mask = 0;
};

// C[m][n] = bias[n] + sum_k A(m, k) * B[k * ldb + n], then ReLU / mask; C row-major with stride ldc.
// Summation order: each element is one chain of fused multiply-adds in k order starting from 0, and
// the bias is added to the chain's result.
// `threads` > 1 splits the rows of C across OpenMP threads (ignored inside a parallel region).
void gemm(int64_t m, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& epilogue = {}, int threads = 1);

// Partial sums per dot product: element p of a dot product goes to partial sum p % kDotLanes.
constexpr int kDotLanes = 16;

// out[i * ldo + j] = bias[j] + dot(x[i * ldx + 0..k), w[j * k + 0..k)) (bias optional).
// Summation order: kDotLanes interleaved chains of fused multiply-adds (element p into chain
// p % kDotLanes, each from 0), folded by halves (chain c + 8 onto c, then c + 4, c + 2, c + 1), then
// the bias added. Used for products with few outputs, where a tile would leave most lanes empty.
void dot_rows(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w, const float* bias,
              float* out, int64_t ldo);

// out[c] = sum over rows of x[r * ldx + c], for c < cols: one chain of additions in row order from 0.
void column_sums(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out);

// The 2-norm of x: the square root of dot_rows' dot product of x with itself.
float vector_norm(int64_t n, const float* x);

// x[i] = tanh(x[i]), within one unit in the last place, computed from IEEE basic operations only
// (no libm), so it has the same bits on every CPU.
void tanh_inplace(int64_t n, float* x);

// grad[i] *= 1 - y[i]^2 (tanh backward, y = tanh output).
void tanh_backward(int64_t n, float* grad, const float* y);

// dst[c * rows + r] = src[r * cols + c]: a [rows][cols] matrix transposed.
void transpose(int64_t rows, int64_t cols, const float* src, float* dst);

// x *= s.
void scale(int64_t n, float* x, float s);

// One Adam step over a flat buffer, the maths of torch.optim.Adam (amsgrad off): with
// g' = g + weight_decay * p, m = beta1 m + (1 - beta1) g', v = beta2 v + (1 - beta2) g'^2,
// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). `step` is t (>= 1).
struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
};
void adam_step(int64_t n, float* params, const float* grad, float* exp_avg, float* exp_avg_sq, const AdamParams& adam,
               int64_t step);

// target = (1 - tau) * target + tau * online (polyak), over flat buffers.
void soft_update(int64_t n, float* target, const float* online, double tau);

// The kernels in use: AVX-512 products and column sums with AVX2+FMA for the rest, AVX2+FMA alone,
// or the portable code; chosen from the CPU at run time (TENNIS_FUSED_NO_AVX512=1 caps it at AVX2,
// TENNIS_FUSED_PORTABLE=1 at the portable code).
enum class KernelLevel { kPortable, kAvx2, kAvx512 };
KernelLevel kernel_level();
const char* kernel_level_name(KernelLevel level);
// Use at most `level` (the CPU's best by default); for tests and measurements.
void limit_kernels(KernelLevel level);

}  // namespace tennis::fused
