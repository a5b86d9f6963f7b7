// Forward and backward passes of a fixed MLP on flat buffers. With z_l = a_{l-1} W_l^T + b_l and
// a_l = ReLU(z_l): dW_l = dz_l^T a_{l-1}, db_l = sum over rows of dz_l, and
// dz_{l-1} = (dz_l W_l) * [a_{l-1} > 0]; the mask is applied inside the product's epilogue.
// Which kernel computes a product depends on its shape alone (never on the CPU), so its bits do too.
#include "mlp.h"

#include <algorithm>
#include <cstddef>

#include "kernels.h"

namespace tennis::fused {

MlpLayout::MlpLayout(int64_t input, const std::vector<int64_t>& hidden, int64_t output, int64_t offset_)
    : offset(offset_) {
  int64_t at = offset, in = input;
  auto add = [&](int64_t out) {
    Dense d;
    d.in = in;
    d.out = out;
    d.weight = at;
    d.bias = at + in * out;
    at = d.bias + out;
    layers.push_back(d);
    in = out;
  };
  for (int64_t h : hidden) add(h);
  add(output);
  numel = at - offset;
}

int64_t MlpLayout::widest_hidden() const {
  int64_t widest = 0;
  for (size_t l = 0; l + 1 < layers.size(); ++l) widest = std::max(widest, layers[l].out);
  return widest;
}

namespace {

// Products with at most this many output columns are dot products (dot_rows), others tiles (gemm).
constexpr int64_t kDotColumns = 4;

// Columns [begin, end) of dz W (W [out][in] at d.weight) into out_cols (row stride ld), times mask
// where given: a tiled product, or dot products with W's columns gathered contiguous.
void input_gradient(const Dense& d, const float* flat, int64_t rows, const float* dz, int64_t begin, int64_t end,
                    float* out_cols, int64_t ld, const float* mask, int64_t ld_mask, MlpScratch& scratch, int threads) {
  const int64_t width = end - begin;
  if (width > kDotColumns) {
    Epilogue e;
    e.mask = mask;
    e.ld_mask = ld_mask;
    gemm(rows, width, d.out, Strided{dz, d.out, 1}, flat + d.weight + begin, d.in, out_cols, ld, e, threads);
    return;
  }
  auto& columns = scratch.columns;
  columns.resize(size_t(width * d.out));
  for (int64_t c = begin; c < end; ++c) {
    for (int64_t o = 0; o < d.out; ++o) columns[size_t((c - begin) * d.out + o)] = flat[d.weight + o * d.in + c];
  }
  dot_rows(rows, width, d.out, dz, d.out, columns.data(), nullptr, out_cols, ld);
  if (!mask) return;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < width; ++c) {
      if (!(mask[r * ld_mask + c] > 0)) out_cols[r * ld + c] = 0;
    }
  }
}

}  // namespace

void pack_transposed(const MlpLayout& net, const float* flat, float* packed) {
  for (const Dense& d : net.layers) transpose(d.out, d.in, flat + d.weight, packed + d.weight);
}

void mlp_forward(const MlpLayout& net, const float* flat, const float* packed, int64_t rows, const float* x,
                 int64_t ldx, float* out, int64_t ldo, MlpActivations& kept, int threads) {
  const size_t hidden = net.layers.size() - 1;
  kept.hidden.resize(hidden);
  kept.rows = rows;
  const float* input = x;
  int64_t ld = ldx;
  for (size_t l = 0; l <= hidden; ++l) {
    const Dense& d = net.layers[l];
    const bool last = l == hidden;
    float* dst = out;
    int64_t ld_dst = ldo;
    if (!last) {
      auto& h = kept.hidden[l];
      if (int64_t(h.size()) < rows * d.out) h.resize(size_t(rows * d.out));
      dst = h.data();
      ld_dst = d.out;
    }
    if (d.out <= kDotColumns) {
      dot_rows(rows, d.out, d.in, input, ld, flat + d.weight, flat + d.bias, dst, ld_dst);
      if (!last) {
        for (int64_t e = 0; e < rows * d.out; ++e) dst[e] = dst[e] > 0 ? dst[e] : 0.f;  // as gemm's ReLU
      }
    } else {
      Epilogue e;
      e.bias = flat + d.bias;
      e.relu = !last;
      gemm(rows, d.out, d.in, Strided{input, ld, 1}, packed + d.weight, d.out, dst, ld_dst, e, threads);
    }
    input = dst;
    ld = ld_dst;
  }
}

void mlp_backward(const MlpLayout& net, const float* flat, int64_t rows, const float* x, int64_t ldx,
                  const MlpActivations& kept, const float* d_out, float* grad, float* d_x, int64_t ld_dx,
                  int64_t x_begin, int64_t x_end, MlpScratch& scratch, int threads) {
  const float* dz = d_out;
  bool into_a = true;
  for (size_t l = net.layers.size(); l-- > 0;) {
    const Dense& d = net.layers[l];
    const float* input = l == 0 ? x : kept.hidden[l - 1].data();
    const int64_t ld_input = l == 0 ? ldx : d.in;
    if (grad) {
      // dW [out][in] = dz^T [out][rows] . input [rows][in].
      if (d.in < d.out) {
        // A narrow input (the first layer): dW^T = input^T . dz fills whole vectors of out columns, then
        // is transposed into place (the same chains as dz^T . input, so the same bits).
        auto& product = scratch.transposed;
        if (int64_t(product.size()) < d.in * d.out) product.resize(size_t(d.in * d.out));
        gemm(d.in, d.out, rows, Strided{input, 1, ld_input}, dz, d.out, product.data(), d.out, {}, threads);
        transpose(d.in, d.out, product.data(), grad + d.weight);
      } else {
        gemm(d.out, d.in, rows, Strided{dz, 1, d.out}, input, ld_input, grad + d.weight, d.in, {}, threads);
      }
      column_sums(rows, d.out, dz, d.out, grad + d.bias);
    }
    if (l > 0) {
      auto& next = into_a ? scratch.a : scratch.b;
      into_a = !into_a;
      if (int64_t(next.size()) < rows * d.in) next.resize(size_t(rows * d.in));
      input_gradient(d, flat, rows, dz, 0, d.in, next.data(), d.in, kept.hidden[l - 1].data(), d.in, scratch, threads);
      dz = next.data();
    } else if (d_x) {
      input_gradient(d, flat, rows, dz, x_begin, x_end, d_x, ld_dx, nullptr, 0, scratch, threads);
    }
  }
}

}  // namespace tennis::fused
