// The op contract. Every op is one struct deriving from Op that holds its attributes as plain
// members and answers, in one place: its output shapes and dtypes (with errors that name the
// op, the shapes/values and the rule), its gradient written with other registered ops, and its
// cost. Kinds, names and differentiability come from the table in ops.def.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mithril/core/dtype.h"
#include "mithril/core/shape.h"

namespace mithril {

enum class OpKind : uint16_t {
#define MI_OP(Kind, name, family, differentiable) Kind,
#include "mithril/ir/ops.def"
#undef MI_OP
};

inline constexpr int kNumOps = 0
#define MI_OP(Kind, name, family, differentiable) +1
#include "mithril/ir/ops.def"
#undef MI_OP
    ;

struct OpInfo {
  std::string_view kind;  // "LeakyRelu": the enum spelling, used in test names
  std::string_view name;  // "leaky_relu": the name in messages and files
  std::string_view family;
  bool differentiable;
};

inline constexpr OpInfo kOpTable[] = {
#define MI_OP(Kind, name, family, differentiable) {#Kind, name, #family, differentiable},
#include "mithril/ir/ops.def"
#undef MI_OP
};
static_assert(sizeof(kOpTable) / sizeof(kOpTable[0]) == kNumOps, "ops.def table and OpKind disagree");

constexpr const OpInfo& op_info(OpKind k) { return kOpTable[static_cast<int>(k)]; }
constexpr std::string_view op_name(OpKind k) { return op_info(k).name; }
// Unary and binary maps: output element i depends on input element i only (after broadcasting).
constexpr bool is_elementwise(OpKind k) { return op_info(k).family == "unary" || op_info(k).family == "binary"; }
std::optional<OpKind> op_kind_from_name(std::string_view name);
// KeyError unless `family` is empty (all of them) or a family of the op table.
void check_op_family(std::string_view family);

// The dtypes an op accepts, as its family's traits table declares them.
enum class DTypeDomain : uint8_t {
  any,       // every dtype
  numeric,   // every dtype but bool
  floating,  // f64, f32, f16, bf16
  boolean,   // bool only
  integer,   // i8, i32, i64
};
bool in_domain(DType t, DTypeDomain d);

// True when `rows` (a family's constexpr traits table, rows with a `kind` member) holds one
// row per op of `family`, in ops.def order, as consecutive kinds: what every family table is
// static_asserted against, so that a forgotten row fails to compile. With `whole_family` false
// the rows may stop before the family's last op (the ops after them have structs of their own).
template <typename Row, size_t N>
constexpr bool declares_family(const Row (&rows)[N], std::string_view family, bool whole_family = true) {
  int first = -1, count = 0;
  for (int i = 0; i < kNumOps; ++i)
    if (kOpTable[i].family == family) {
      if (first < 0) first = i;
      ++count;
    }
  if (first < 0 || (whole_family ? N != static_cast<size_t>(count) : N > static_cast<size_t>(count))) return false;
  for (size_t j = 0; j < N; ++j)
    if (static_cast<int>(rows[j].kind) != first + static_cast<int>(j) || kOpTable[first + j].family != family)
      return false;
  return true;
}

// The row of `kind` in a table that declares_family accepted.
template <typename Row, size_t N>
constexpr const Row* find_row(const Row (&rows)[N], OpKind kind) {
  const auto j = static_cast<int>(kind) - static_cast<int>(rows[0].kind);
  return j >= 0 && j < static_cast<int>(N) ? &rows[j] : nullptr;
}

class Var;  // ir/ir.h: a value in a graph under construction

// Shapes and dtypes of an op application; what cost models and kernels are chosen from.
struct OpSignature {
  std::vector<Shape> input_shapes, output_shapes;
  std::vector<DType> input_dtypes, output_dtypes;
};

struct Cost {
  double flops = 0;  // floating point (or integer) operations
  double bytes = 0;  // bytes read plus bytes written, assuming no reuse between ops
};

class Op {
 public:
  explicit Op(OpKind kind) : kind_(kind) {}
  virtual ~Op() = default;

  OpKind kind() const { return kind_; }
  std::string_view name() const { return op_name(kind_); }
  bool differentiable() const { return op_info(kind_).differentiable; }

  // Output shapes from input shapes. Throws ShapeError/AttributeError naming the op.
  virtual std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const = 0;
  // Output dtypes from input dtypes. Default: every input has the same dtype (DTypeError
  // otherwise) and the single output has it too. Implicit promotion happens in the builder
  // functions (ops::add(a, b) casts), never silently inside a graph.
  virtual std::vector<DType> infer_dtypes(std::span<const DType> inputs) const;
  virtual int num_outputs() const { return 1; }

  // Gradient rule: builds the cotangent of every input from the inputs, the outputs and the
  // cotangents of the outputs (nullopt where an output receives none). Returns one entry per
  // input; nullopt means no gradient flows to it. Gradients may have the broadcast shape of
  // the output: autodiff sums them back to the input's shape.
  virtual std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                              const std::vector<std::optional<Var>>& cotangents) const;

  // Default cost: one operation per output element, every input and output read/written once.
  virtual Cost cost(const OpSignature& sig) const;

  // Attributes as "key=value, ..." for printing, hashing and equivalence (CSE).
  virtual std::string attributes() const { return {}; }
  bool equivalent(const Op& other) const { return kind_ == other.kind_ && attributes() == other.attributes(); }
  size_t hash() const;
  std::string to_string() const;  // "sum(axes=(1), keepdim=false)"

  // The dtype that selects the kernel. Default: the first input's (the output's for ops
  // without inputs).
  virtual DType dispatch_dtype(std::span<const DType> inputs, std::span<const DType> outputs) const;

 private:
  OpKind kind_;
};

using OpPtr = std::shared_ptr<const Op>;

// Helpers shared by op families for consistent messages.
void check_arity(const Op& op, size_t got, size_t expected);
// DTypeError unless `t`, the dtype of the op's `inputs` inputs (1: "a floating-point input",
// more: "floating-point inputs"), lies in `domain`.
void check_domain(const Op& op, DType t, DTypeDomain domain, size_t inputs = 1);
std::string shapes_str(std::span<const Shape> shapes);

}  // namespace mithril
