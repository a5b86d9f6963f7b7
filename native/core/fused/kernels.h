// Dense float32 kernels of the fused MADDPG update (issue 8): a register-tiled matrix product with
// fused epilogues (bias, ReLU, ReLU-backward mask), the output-layer dot products, the bias-gradient
// column sums, and the flat-buffer Adam, soft update and gradient scaling.
// Plain C++17, no LibTorch: AVX2+FMA code is selected at run time, with a portable fallback that
// computes the same bits.
//
// Every kernel rounds in the order LibTorch 1.13's CPU kernels and OpenBLAS 0.3.21's sgemm
// (Cooperlake/SkylakeX kernels) round, so that on such a machine the fused update reproduces the
// LibTorch path -- and through it the PyTorch reference -- bit for bit: a different summation order
// would change a few near-zero gradients completely after Adam's normalisation, and the reference
// parity (1e-5 relative after 10 updates) would then hang on luck. Elsewhere the results stay within
// float rounding of the reference. native/tests/test_fused.cc pins each kernel against LibTorch.
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
  const float* bias = nullptr;  // start from bias[n] (one value per output column) instead of 0
  bool relu = false;            // max(v, 0)
  const float* mask = nullptr;  // zero v where mask[m * ld_mask + n] <= 0 (ReLU backward through an output)
  int64_t ld_mask = 0;
};

// C[m][n] = bias[n] + sum_k A(m, k) * B[k * ldb + n], then ReLU / mask; C row-major with stride ldc.
// Each element is a chain of FMAs in k order; with split_k, k is cut into the blocks OpenBLAS's
// regular kernel uses (its small-matrix kernels run one chain).
// `threads` > 1 splits the rows of C across OpenMP threads (ignored inside a parallel region).
void gemm(int64_t m, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& epilogue = {}, int threads = 1, bool split_k = true);

// out[i * ldo + j] = bias[j] + dot(x[i * ldx + 0..k), w[j * k + 0..k)) as OpenBLAS's small-matrix
// "dot" kernels sum it: 16 interleaved FMA partial sums, folded pairwise ((0+1), (2+3), ...) where
// i < pairwise_rows or j < pairwise_cols, and by halves (i + 8, i + 4, ...) elsewhere.
void dot_rows(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w, const float* bias,
              float* out, int64_t ldo, int64_t pairwise_rows, int64_t pairwise_cols);

// out[c] = sum over rows of x[r * ldx + c], for c < cols, in the order of LibTorch's cascade sum
// (x.sum(0) of a contiguous [rows][cols] tensor).
void column_sums(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out);

// grad[i] *= 1 - y[i]^2 (tanh backward, y = tanh output).
void tanh_backward(int64_t n, float* grad, const float* y);

// dst[c * rows + r] = src[r * cols + c]: a [rows][cols] matrix transposed.
void transpose(int64_t rows, int64_t cols, const float* src, float* dst);

// The 2-norm of x as LibTorch's norm kernel forms it (8 interleaved FMA sums folded in order, then
// the tail), so that clip_grad_norm_'s coefficient has the reference's bits.
float vector_norm(int64_t n, const float* x);

// x *= s.
void scale(int64_t n, float* x, float s);

// One Adam step over a flat buffer, the same maths as torch.optim.Adam (amsgrad off): with
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

// The kernels in use: AVX-512 products (same bits, wider tiles) with AVX2+FMA for the rest, AVX2+FMA
// alone, or the portable fallback; chosen from the CPU at run time.
enum class KernelLevel { kPortable, kAvx2, kAvx512 };
KernelLevel kernel_level();
// Test hook: use at most `level` (the CPU's best by default).
void limit_kernels(KernelLevel level);

}  // namespace tennis::fused
