#include "mithril/backends/cpu/registry.h"

namespace mithril::cpu {

const KernelTable& kernel_table() {
  static const KernelTable table = [] {
    KernelTable t("cpu");
    register_unary_kernels(t);
    register_binary_kernels(t);
    register_reduce_kernels(t);
    register_shape_kernels(t);
    register_linalg_kernels(t);
    register_conv_kernels(t);
    register_loss_kernels(t);
    register_fused_kernels(t);
    register_low_precision_kernels(t);  // last: wraps the float32 kernels registered above
    return t;
  }();
  return table;
}

}  // namespace mithril::cpu
