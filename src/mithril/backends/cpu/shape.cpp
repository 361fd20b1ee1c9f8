// CPU kernels for the layout family: cast, reshape, broadcast, permute, slicing, padding,
// concatenation, splitting, gather/scatter, diagonal, eye, one-hot.
#include <cstring>

#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/ops/shape.h"

namespace mithril::cpu {
namespace {

constexpr std::initializer_list<DType> kAllDTypes = {DType::f64, DType::f32, DType::f16, DType::bf16,
                                                     DType::i8,  DType::i32, DType::i64, DType::b8};

// Cast, reshape, broadcast and permute are all "copy this (strided) view into the output".
void cast_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) { out[0].copy_from(in[0]); }

void reshape_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  std::memcpy(out[0].raw_data(), in[0].raw_data(), out[0].nbytes());
}

void broadcast_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  out[0].copy_from(in[0].broadcast_to(out[0].shape()));
}

void permute_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  out[0].copy_from(in[0].permute(static_cast<const PermuteOp&>(op).axes));
}

}  // namespace

void register_shape_kernels(KernelRegistry& r) {
  add_for_dtypes(r, OpKind::Cast, kAllDTypes, cast_kernel, "cast");
  add_for_dtypes(r, OpKind::Reshape, kAllDTypes, reshape_kernel, "reshape");
  add_for_dtypes(r, OpKind::BroadcastTo, kAllDTypes, broadcast_kernel, "broadcast_to");
  add_for_dtypes(r, OpKind::Permute, kAllDTypes, permute_kernel, "permute");
}

}  // namespace mithril::cpu
