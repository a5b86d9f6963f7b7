// A fixed MLP over a flat parameter buffer (the layout of networks.h: fc.<i>.weight [out][in],
// fc.<i>.bias, ..., out.weight, out.bias), with a forward pass that keeps what its backward pass
// needs and a hand-derived backward pass (no autograd tape) that computes only what is asked for.
// Products with at most 4 output columns are dot products (dot_rows), others register tiles (gemm);
// kernels.h states the summation order of each.
#pragma once
#include <cstdint>
#include <vector>

namespace tennis::fused {

// One Linear layer: weight [out][in] at `weight`, bias [out] at `bias` (offsets into the flat buffer).
struct Dense {
  int64_t in = 0, out = 0, weight = 0, bias = 0;
};

// [Linear -> ReLU] x hidden -> Linear, starting at `offset` in a flat buffer (the caller applies
// the output activation, e.g. tanh).
struct MlpLayout {
  MlpLayout() = default;
  MlpLayout(int64_t input, const std::vector<int64_t>& hidden, int64_t output, int64_t offset);

  std::vector<Dense> layers;  // hidden layers, then the output layer
  int64_t offset = 0;         // first float of this network in the flat buffer
  int64_t numel = 0;          // floats of this network

  int64_t input() const { return layers.front().in; }
  int64_t output() const { return layers.back().out; }
  int64_t widest_hidden() const;
};

// What a forward pass keeps for the backward pass: hidden[l] = ReLU output of hidden layer l [rows][width].
struct MlpActivations {
  std::vector<std::vector<float>> hidden;
  int64_t rows = 0;
};

// Per-thread scratch of the backward pass (two gradient buffers used in turn, gathered weight columns,
// a transposed weight gradient).
struct MlpScratch {
  std::vector<float> a, b, columns, transposed;
};

// W^T of every layer at that layer's weight offset (bias slots untouched), so the forward product
// reads contiguous rows of output columns. `packed` is as long as `flat`.
void pack_transposed(const MlpLayout& net, const float* flat, float* packed);

// out[r][0..output) (row stride ldo) = the output layer's pre-activation for x[r][0..input) (row
// stride ldx); the hidden activations land in `kept` (sized here). `packed` is pack_transposed of `flat`.
void mlp_forward(const MlpLayout& net, const float* flat, const float* packed, int64_t rows, const float* x,
                 int64_t ldx, float* out, int64_t ldo, MlpActivations& kept, int threads);

// Backward from d_out = dLoss/d(output layer pre-activation) [rows][output] (dense):
// - grad != null: weight and bias gradients written (not added) at the net's offsets of `grad`
//   (a buffer laid out like `flat`); x is the forward input (needed for the first layer's weights);
// - d_x != null: dLoss/dx for input columns [x_begin, x_end) written to d_x [rows][x_end - x_begin]
//   (row stride ld_dx); nothing else of the input gradient is computed.
void mlp_backward(const MlpLayout& net, const float* flat, int64_t rows, const float* x, int64_t ldx,
                  const MlpActivations& kept, const float* d_out, float* grad, float* d_x, int64_t ld_dx,
                  int64_t x_begin, int64_t x_end, MlpScratch& scratch, int threads);

}  // namespace tennis::fused
