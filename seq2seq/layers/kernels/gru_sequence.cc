// Fused GRU recurrence for right-padded, masked batches on the CPU (model.rnn=fused).
//
// Same math as keras.layers.GRU(reset_after=True) given the input projections of all steps
// (projected = x W + b_x, one matmul outside this op):
//   h_proj = h U + b_h;  [z, r] = sigmoid(projected[:, :2H] + h_proj[:, :2H])
//   c = tanh(projected[:, 2H:] + r * h_proj[:, 2H:]);  new = z h + (1 - z) c
//   h' = h + keep (new - h)            (keep = 0 at a padded step: the state is held)
// The whole time loop runs inside one op, batch-major like the layer's tensors (no transposes):
// per step one Eigen contraction on TensorFlow's intra-op thread pool, then one vectorized pass
// of gate math over the batch rows (in parallel), instead of ~15 TensorFlow ops and a
// while-loop iteration. The backward op carries dL/dh back through the steps, keeping each
// step's dL/d(h_proj), then gets dL/dU and dL/db_h from one product over all steps (a large
// matmul instead of a small one per step in the sequential loop). Outputs are 0 at padded
// steps; the gradient ignores them there.
//
// Built on first use for the CPU's x86-64 level (seq2seq/layers/kernels/build.py) against the
// installed TensorFlow; the Python side falls back to plain TensorFlow ops when it cannot.

#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;
using Device = Eigen::ThreadPoolDevice;
using Index = Eigen::Index;
using Matrix = Eigen::TensorMap<Eigen::Tensor<float, 2, Eigen::RowMajor>>;
using ConstMatrix = Eigen::TensorMap<Eigen::Tensor<const float, 2, Eigen::RowMajor>>;

// glibc's libmvec has vector expf/tanhf (special values handled as the scalar ones: tanhf(inf)
// = 1, NaN in = NaN out); its headers declare them only under -ffast-math, which this build
// does not use (it lets the compiler assume no NaN/Inf). Declared here, GCC calls them from
// the `omp simd` loops (-fopenmp-simd) at the vector width of -march.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 22)
extern "C" __attribute__((__simd__("notinbranch"))) float expf(float) noexcept;
#endif
#if __GLIBC_PREREQ(2, 35)
extern "C" __attribute__((__simd__("notinbranch"))) float tanhf(float) noexcept;
#endif
#endif

inline float Sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// One row's step t: the gates (kept for the backward pass) and, at a real step (kReal), the new
// state h <- z h + (1 - z) c and output h; at a padded step the state is held and the output 0.
template <bool kReal>
inline void GateRow(Index units, const float* xr, const float* hp, const float* b_h, float* hr,
                    float* zrr, float* cr, float* chr, float* outr) {
#pragma omp simd
  for (Index j = 0; j < units; ++j) {
    const float z = Sigmoid(xr[j] + hp[j] + b_h[j]);
    const float r = Sigmoid(xr[units + j] + hp[units + j] + b_h[units + j]);
    const float ch = hp[2 * units + j] + b_h[2 * units + j];
    const float c = tanhf(xr[2 * units + j] + r * ch);
    zrr[j] = z;
    zrr[units + j] = r;
    cr[j] = c;
    chr[j] = ch;
    if (kReal) {
      hr[j] = c + z * (hr[j] - c);
      outr[j] = hr[j];
    } else {
      outr[j] = 0.0f;
    }
  }
}

// Cost hint for parallelFor: ~40 flops per unit of one row.
Eigen::TensorOpCost RowCost(Index units) {
  return Eigen::TensorOpCost(16.0 * units, 8.0 * units, 40.0 * units);
}

// `parallel`: split the work of every step over TensorFlow's intra-op threads. Without it the
// op runs on one thread with no synchronisation per step, which is faster when independent ops
// run beside it (the two directions of a bidirectional layer, on the inter-op threads).
template <typename Fn>
void ForRows(bool parallel, const Device& device, Index batch, Index units, Fn fn) {
  if (parallel) {
    device.parallelFor(batch, RowCost(units), fn);
  } else {
    fn(0, batch);
  }
}

template <typename Target, typename Expression>
void Assign(bool parallel, const Device& device, Target target, const Expression& expression) {
  if (parallel) {
    target.device(device) = expression;
  } else {
    target = expression;
  }
}

}  // namespace

REGISTER_OP("Seq2seqGruSequence")
    .Input("projected: float")         // (B, T, 3H)  x W + b_x
    .Input("keep: float")              // (B, T)      1 = real step, 0 = padding
    .Input("initial_state: float")     // (B, H)
    .Input("recurrent_kernel: float")  // (H, 3H)
    .Input("recurrent_bias: float")    // (3H,)
    .Attr("parallel: bool = true")
    .Output("outputs: float")          // (B, T, H)   state after each real step, 0 at padding
    .Output("final_state: float")      // (B, H)      state after the last real step
    .Output("gates: float")            // (B, T, 2H)  z, r
    .Output("candidates: float")       // (B, T, H)   c
    .Output("candidate_h: float")      // (B, T, H)   h U_h + b_h (what r multiplies)
    .SetShapeFn([](InferenceContext* c) {
      auto b = c->Dim(c->input(0), 0), t = c->Dim(c->input(0), 1);
      auto h = c->Dim(c->input(2), 1);
      tensorflow::shape_inference::DimensionHandle h2;
      TF_RETURN_IF_ERROR(c->Multiply(h, 2, &h2));
      c->set_output(0, c->MakeShape({b, t, h}));
      c->set_output(1, c->MakeShape({b, h}));
      c->set_output(2, c->MakeShape({b, t, h2}));
      c->set_output(3, c->MakeShape({b, t, h}));
      c->set_output(4, c->MakeShape({b, t, h}));
      return absl::OkStatus();
    });

REGISTER_OP("Seq2seqGruSequenceGrad")
    .Input("d_outputs: float")         // (B, T, H)
    .Input("d_final_state: float")     // (B, H)
    .Input("outputs: float")           // (B, T, H)
    .Input("initial_state: float")     // (B, H)
    .Input("gates: float")             // (B, T, 2H)
    .Input("candidates: float")        // (B, T, H)
    .Input("candidate_h: float")       // (B, T, H)
    .Input("keep: float")              // (B, T)
    .Input("recurrent_kernel: float")  // (H, 3H)
    .Attr("parallel: bool = true")
    .Output("d_projected: float")      // (B, T, 3H)
    .Output("d_initial_state: float")  // (B, H)
    .Output("d_recurrent_kernel: float")  // (H, 3H)
    .Output("d_recurrent_bias: float")    // (3H,)
    .SetShapeFn([](InferenceContext* c) {
      auto b = c->Dim(c->input(0), 0), t = c->Dim(c->input(0), 1);
      auto h = c->Dim(c->input(0), 2);
      tensorflow::shape_inference::DimensionHandle h3;
      TF_RETURN_IF_ERROR(c->Multiply(h, 3, &h3));
      c->set_output(0, c->MakeShape({b, t, h3}));
      c->set_output(1, c->MakeShape({b, h}));
      c->set_output(2, c->input(8));
      c->set_output(3, c->MakeShape({h3}));
      return absl::OkStatus();
    });

class GruSequenceOp : public OpKernel {
 public:
  explicit GruSequenceOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("parallel", &parallel_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& projected = context->input(0);
    const Tensor& keep = context->input(1);
    const Tensor& initial = context->input(2);
    const Tensor& kernel = context->input(3);
    const Tensor& bias = context->input(4);
    const Index batch = projected.dim_size(0), steps = projected.dim_size(1);
    const Index units = initial.dim_size(1);
    OP_REQUIRES(context, projected.dims() == 3 && projected.dim_size(2) == 3 * units &&
                             kernel.dim_size(0) == units && kernel.dim_size(1) == 3 * units &&
                             bias.dim_size(0) == 3 * units && keep.dim_size(0) == batch &&
                             keep.dim_size(1) == steps && initial.dim_size(0) == batch,
                tensorflow::errors::InvalidArgument("Seq2seqGruSequence: inconsistent shapes"));
    Tensor *outputs, *final_state, *gates, *candidates, *candidate_h;
    OP_REQUIRES_OK(context, context->allocate_output(0, {batch, steps, units}, &outputs));
    OP_REQUIRES_OK(context, context->allocate_output(1, {batch, units}, &final_state));
    OP_REQUIRES_OK(context, context->allocate_output(2, {batch, steps, 2 * units}, &gates));
    OP_REQUIRES_OK(context, context->allocate_output(3, {batch, steps, units}, &candidates));
    OP_REQUIRES_OK(context, context->allocate_output(4, {batch, steps, units}, &candidate_h));
    float* h = final_state->flat<float>().data();  // the running state, (B, H)
    std::copy_n(initial.flat<float>().data(), batch * units, h);
    if (steps == 0 || batch == 0) return;
    Tensor h_proj_tensor;
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, {batch, 3 * units},
                                                   &h_proj_tensor));
    const Device& device = context->eigen_device<Device>();
    float* h_proj = h_proj_tensor.flat<float>().data();
    const float* b_h = bias.flat<float>().data();
    const float* x = projected.flat<float>().data();
    const float* k = keep.flat<float>().data();
    float* out = outputs->flat<float>().data();
    float* zr = gates->flat<float>().data();
    float* cand = candidates->flat<float>().data();
    float* cand_h = candidate_h->flat<float>().data();
    const Eigen::array<Eigen::IndexPair<int>, 1> dims = {Eigen::IndexPair<int>(1, 0)};
    ConstMatrix u_matrix(kernel.flat<float>().data(), units, 3 * units);
    for (Index t = 0; t < steps; ++t) {
      Assign(parallel_, device, Matrix(h_proj, batch, 3 * units),
             ConstMatrix(h, batch, units).contract(u_matrix, dims));
      ForRows(parallel_, device, batch, units, [&](Index begin, Index end) {
        for (Index row = begin; row < end; ++row) {
          const Index at = row * steps + t;  // (row, t) in the (B, T, .) tensors
          const float* xr = x + at * 3 * units;
          const float* hp = h_proj + row * 3 * units;
          float* hr = h + row * units;
          float* zrr = zr + at * 2 * units;
          float* cr = cand + at * units;
          float* chr = cand_h + at * units;
          float* outr = out + at * units;
          const float keep_row = k[at];
          // A padded step holds the state (a NaN there stays out of it); the row's step is
          // real or not as a whole, so the vector loop has no branch (libmvec calls need that).
          if (keep_row != 0.0f) {
            GateRow<true>(units, xr, hp, b_h, hr, zrr, cr, chr, outr);
          } else {
            GateRow<false>(units, xr, hp, b_h, hr, zrr, cr, chr, outr);
          }
        }
      });
    }
  }

 private:
  bool parallel_;
};

class GruSequenceGradOp : public OpKernel {
 public:
  explicit GruSequenceGradOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("parallel", &parallel_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& d_outputs = context->input(0);
    const Tensor& d_final = context->input(1);
    const Tensor& outputs = context->input(2);
    const Tensor& initial = context->input(3);
    const Tensor& gates = context->input(4);
    const Tensor& candidates = context->input(5);
    const Tensor& candidate_h = context->input(6);
    const Tensor& keep = context->input(7);
    const Tensor& kernel = context->input(8);
    const Index batch = d_outputs.dim_size(0), steps = d_outputs.dim_size(1);
    const Index units = d_outputs.dim_size(2);
    OP_REQUIRES(context, kernel.dim_size(0) == units && kernel.dim_size(1) == 3 * units,
                tensorflow::errors::InvalidArgument("Seq2seqGruSequenceGrad: kernel shape"));
    Tensor *d_projected, *d_initial, *d_kernel, *d_bias;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, {batch, steps, 3 * units}, &d_projected));
    OP_REQUIRES_OK(context, context->allocate_output(1, {batch, units}, &d_initial));
    OP_REQUIRES_OK(context, context->allocate_output(2, {units, 3 * units}, &d_kernel));
    OP_REQUIRES_OK(context, context->allocate_output(3, {3 * units}, &d_bias));
    float* carry = d_initial->flat<float>().data();  // dL/dh flowing back, (B, H)
    std::copy_n(d_final.flat<float>().data(), batch * units, carry);
    Matrix d_kernel_matrix(d_kernel->flat<float>().data(), units, 3 * units);
    Eigen::TensorMap<Eigen::Tensor<float, 1, Eigen::RowMajor>> d_bias_vector(
        d_bias->flat<float>().data(), 3 * units);
    if (steps == 0 || batch == 0) {
      d_kernel_matrix.setZero();
      d_bias_vector.setZero();
      return;
    }
    const Device& device = context->eigen_device<Device>();
    // Step-major (T, B, .) so that each step's rows are contiguous: dL/d(h_proj) of every step,
    // and the (kept) state before it; dU and db_h are one product over all T·B rows at the end
    // instead of a small product per step inside the sequential loop.
    Tensor dhp_tensor, previous_tensor;
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT,
                                                   {steps, batch, 3 * units}, &dhp_tensor));
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, {steps, batch, units},
                                                   &previous_tensor));
    float* dhp_all = dhp_tensor.flat<float>().data();
    float* previous_all = previous_tensor.flat<float>().data();
    const float* ds = d_outputs.flat<float>().data();
    const float* out = outputs.flat<float>().data();
    const float* h0 = initial.flat<float>().data();
    const float* zr = gates.flat<float>().data();
    const float* cand = candidates.flat<float>().data();
    const float* cand_h = candidate_h.flat<float>().data();
    const float* k = keep.flat<float>().data();
    float* dx = d_projected->flat<float>().data();
    ConstMatrix u_matrix(kernel.flat<float>().data(), units, 3 * units);
    Matrix carry_matrix(carry, batch, units);
    const Eigen::array<Eigen::IndexPair<int>, 1> times_u_t = {Eigen::IndexPair<int>(1, 1)};
    const Eigen::array<Eigen::IndexPair<int>, 1> over_batch = {Eigen::IndexPair<int>(0, 0)};
    const Eigen::array<Index, 1> rows_axis = {0};
    for (Index t = steps - 1; t >= 0; --t) {
      float* dhp = dhp_all + t * batch * 3 * units;
      float* previous = previous_all + t * batch * units;
      // Elementwise: dL/d(h_proj) and dL/d(projected) of step t; carry <- the direct path.
      ForRows(parallel_, device, batch, units, [&](Index begin, Index end) {
        for (Index row = begin; row < end; ++row) {
          const Index at = row * steps + t;
          const float keep_row = k[at];
          // The state before step t: at a real step t > 0, step t - 1 was real (right
          // padding), so outputs holds it; at a padded step it is not used (d_new = 0).
          const float* h = t == 0 ? h0 + row * units : out + (at - 1) * units;
          const float* zrr = zr + at * 2 * units;
          const float* cr = cand + at * units;
          const float* chr = cand_h + at * units;
          const float* dsr = ds + at * units;
          float* carry_r = carry + row * units;
          float* prev_r = previous + row * units;
          float* dhp_r = dhp + row * 3 * units;
          float* dx_r = dx + at * 3 * units;
#pragma omp simd
          for (Index j = 0; j < units; ++j) {
            const float z = zrr[j], r = zrr[units + j], c = cr[j];
            const float d_out = keep_row * dsr[j] + carry_r[j];
            const float d_new = keep_row * d_out;
            const float d_a_h = d_new * (1.0f - z) * (1.0f - c * c);
            const float d_a_z = d_new * (h[j] - c) * z * (1.0f - z);
            const float d_a_r = d_a_h * chr[j] * r * (1.0f - r);
            dhp_r[j] = dx_r[j] = d_a_z;
            dhp_r[units + j] = dx_r[units + j] = d_a_r;
            dhp_r[2 * units + j] = d_a_h * r;
            dx_r[2 * units + j] = d_a_h;
            carry_r[j] = d_out - d_new + d_new * z;
            prev_r[j] = keep_row * h[j];
          }
        }
      });
      // The recurrent path: carry += dhp U^T.
      Assign(parallel_, device, carry_matrix,
             carry_matrix + ConstMatrix(dhp, batch, 3 * units).contract(u_matrix, times_u_t));
    }
    // dU = sum over steps of previous^T dhp, db_h = sum of dhp: over all T·B rows at once.
    ConstMatrix all_dhp(dhp_all, steps * batch, 3 * units);
    ConstMatrix all_previous(previous_all, steps * batch, units);
    Assign(parallel_, device, d_kernel_matrix, all_previous.contract(all_dhp, over_batch));
    Assign(parallel_, device, d_bias_vector, all_dhp.sum(rows_axis));
  }

 private:
  bool parallel_;
};

REGISTER_KERNEL_BUILDER(Name("Seq2seqGruSequence").Device(tensorflow::DEVICE_CPU),
                        GruSequenceOp);
REGISTER_KERNEL_BUILDER(Name("Seq2seqGruSequenceGrad").Device(tensorflow::DEVICE_CPU),
                        GruSequenceGradOp);
