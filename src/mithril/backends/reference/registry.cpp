#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/reference_backend.h"

namespace mithril::reference {

const KernelTable& kernel_table() {
  static const KernelTable table = [] {
    KernelTable t("reference");
    register_unary_kernels(t);
    register_binary_kernels(t);
    register_reduce_kernels(t);
    register_shape_kernels(t);
    register_linalg_kernels(t);
    register_conv_kernels(t);
    register_loss_kernels(t);
    return t;
  }();
  return table;
}

}  // namespace mithril::reference
