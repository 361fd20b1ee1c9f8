#include "mithril/backends/jit/codegen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/fused.h"
#include "mithril/ops/unary.h"

namespace mithril::jit {
namespace {

// Elements per parallel chunk of a region: below it a region runs on the calling thread (waking
// the pool costs more than a few microseconds of streaming).
constexpr long kGrainElements = 32768;

bool generated_op(OpKind k) {
  switch (k) {
    case OpKind::Neg: case OpKind::Abs: case OpKind::Sign: case OpKind::Square: case OpKind::Relu:
    case OpKind::Sqrt: case OpKind::Exp: case OpKind::Log: case OpKind::Log1p: case OpKind::Sin:
    case OpKind::Cos: case OpKind::Tanh: case OpKind::Sigmoid: case OpKind::LeakyRelu: case OpKind::Softplus:
    case OpKind::Gelu: case OpKind::Erf: case OpKind::Reciprocal: case OpKind::StableReciprocal:
    case OpKind::Floor: case OpKind::Identity: case OpKind::StopGradient:
    case OpKind::Add: case OpKind::Sub: case OpKind::Mul: case OpKind::Div: case OpKind::FloorDiv:
    case OpKind::Pow: case OpKind::Maximum: case OpKind::Minimum:
      return true;
    default: return false;
  }
}

bool float_dtype(DType t) { return t == DType::f64 || t == DType::f32; }
const char* ctype(DType t) { return t == DType::f64 ? "double" : "float"; }

// A double as a C++ literal of type T, exact (hex float), rounded to T as static_cast<T> does.
std::string lit(double x, DType t) {
  std::string v;
  if (std::isnan(x)) v = "__builtin_nan(\"\")";
  else if (std::isinf(x)) v = x > 0 ? "__builtin_inf()" : "(-__builtin_inf())";
  else v = fmt::format("{:a}", x);
  return fmt::format("(({}){})", ctype(t), v);
}

// libm through builtins (no headers): the same functions the cpu kernels call.
std::string fn(const char* name, DType t, const std::string& arg) {
  return fmt::format("__builtin_{}{}({})", name, t == DType::f32 ? "f" : "", arg);
}

// The expression of one elementwise op on operand expressions `a` (each a plain variable or
// element read), as the cpu kernels define it (backends/cpu/unary.cpp, binary.cpp), so results
// agree to the last bit. Statements it needs go to `pre` (inside the loop body).
std::string op_expr(const Op& op, DType t, const std::vector<std::string>& a, std::string& pre, int& tmp) {
  const std::string T = ctype(t);
  auto var = [&](const std::string& e) {
    const std::string n = fmt::format("u{}", tmp++);
    pre += fmt::format("      const {} {} = {};\n", T, n, e);
    return n;
  };
  const std::string zero = lit(0, t), one = lit(1, t);
  const OpKind k = op.kind();
  if (op_info(k).family == "unary") {
    const UnaryAttrs& at = static_cast<const UnaryOp&>(op).attrs;
    const std::string x = var(a[0]);
    auto thr = [&] { return lit(effective_threshold(at.threshold, t), t); };
    switch (k) {
      case OpKind::Neg: return fmt::format("(-{})", x);
      case OpKind::Abs: return fmt::format("({0} < {1} ? -{0} : {0})", x, zero);
      case OpKind::Sign: return fmt::format("({0} > {1} ? {2} : ({0} < {1} ? {3} : {0}))", x, zero, one, lit(-1, t));
      case OpKind::Square: return fmt::format("({0} * {0})", x);
      case OpKind::Relu: return fmt::format("({0} < {1} ? {1} : {0})", x, zero);
      case OpKind::Sqrt:
        if (!at.robust) return fn("sqrt", t, x);
        {
          const std::string th = var(thr()), ab = var(fn("fabs", t, x));
          return fmt::format("({0} >= {1} ? {2} : {0} / {3})", ab, th, fn("sqrt", t, ab), fn("sqrt", t, th));
        }
      case OpKind::Log:
        if (!at.robust) return fn("log", t, x);
        {
          const std::string th = var(thr()), ab = var(fn("fabs", t, x));
          return fmt::format("({0} >= {1} ? {2} : {3} + {0} / {1} - {4})", ab, th, fn("log", t, ab), fn("log", t, th), one);
        }
      case OpKind::StableReciprocal: {
        const std::string th = var(thr()), ab = var(fn("fabs", t, x));
        return fmt::format("({0} >= {1} ? {2} / {3} : ({3} < {4} ? {5} : {6}) / {1} - {3} / {1} / {1})", ab, th, one, x,
                           zero, lit(-2, t), lit(2, t));
      }
      case OpKind::LeakyRelu: return fmt::format("({0} < {1} ? {2} * {0} : {0})", x, zero, lit(at.slope, t));
      case OpKind::Gelu:
        if (at.approximate) {
          const std::string kk = lit(std::sqrt(2.0 / std::numbers::pi), t);
          return fmt::format("({0} / ({1} + {2}))", x, one,
                             fn("exp", t, fmt::format("{} * {} * ({} + {} * {} * {} * {})", lit(-2, t), kk, x, lit(0.044715, t), x, x, x)));
        }
        return fmt::format("({} * {} * {})", lit(0.5, t), x, fn("erfc", t, fmt::format("-{} * {}", x, lit(std::numbers::sqrt2 / 2, t))));
      case OpKind::Exp: return fn("exp", t, x);
      case OpKind::Log1p: return fn("log1p", t, x);
      case OpKind::Sin: return fn("sin", t, x);
      case OpKind::Cos: return fn("cos", t, x);
      case OpKind::Tanh: return fn("tanh", t, x);
      case OpKind::Sigmoid: {
        const std::string e = var(fn("exp", t, fmt::format("-{}", fn("fabs", t, x))));
        const std::string r = var(fmt::format("{0} / ({0} + {1})", one, e));
        return fmt::format("({} >= {} ? {} : {} * {})", x, zero, r, e, r);
      }
      case OpKind::Softplus:
        return fmt::format("({0} + ({1} < {2} ? {2} : {1}))", fn("log1p", t, fn("exp", t, fmt::format("-{}", fn("fabs", t, x)))), x, zero);
      case OpKind::Erf: return fn("erf", t, x);
      case OpKind::Reciprocal: return fmt::format("({} / {})", one, x);
      case OpKind::Floor: return fn("floor", t, x);
      case OpKind::Identity: case OpKind::StopGradient: return x;
      default: break;
    }
  } else {
    const std::string x = var(a[0]), y = var(a[1]);
    switch (k) {
      case OpKind::Add: return fmt::format("({} + {})", x, y);
      case OpKind::Sub: return fmt::format("({} - {})", x, y);
      case OpKind::Mul: return fmt::format("({} * {})", x, y);
      case OpKind::Div: return fmt::format("({} / {})", x, y);
      case OpKind::FloorDiv: return fn("floor", t, fmt::format("{} / {}", x, y));
      case OpKind::Maximum: return fmt::format("({0} > {1} ? {0} : {1})", x, y);
      case OpKind::Minimum: return fmt::format("({0} < {1} ? {0} : {1})", x, y);
      case OpKind::Pow: {
        const auto& b = static_cast<const BinaryOp&>(op);
        if (!b.robust) return fn("pow", t, x + ", " + y);
        const std::string th = var(lit(b.threshold, t)), ab = var(fn("fabs", t, x));
        return fmt::format("(({0} < {1} && {2} < {3} - {4} / {5}) ? {0} / {1} : {6})", ab, th, y, one, fn("log", t, th),
                           fn("log", t, ab), fn("pow", t, ab + ", " + y));
      }
      default: break;
    }
  }
  MI_ASSERT(false);
  return {};
}

// The steps of a region: a fused node's program, or a plain node as one step over its inputs.
std::vector<FusedStep> region_steps(const Node& node) {
  if (node.op->kind() == OpKind::FusedElementwise) return static_cast<const FusedOp&>(*node.op).steps;
  FusedStep s;
  s.op = node.op;
  for (size_t i = 0; i < node.inputs.size(); ++i) s.args.push_back(static_cast<int>(i));
  return {s};
}

std::string value_label(const Graph& g, ValueId v) {
  const Value& val = g.value(v);
  return fmt::format("v{}{} {} {}", v, val.name.empty() ? "" : " '" + val.name + "'", dtype_name(val.dtype), shape_str(val.shape));
}

// Comments must not end early.
std::string comment(std::string s) {
  for (size_t p; (p = s.find("*/")) != std::string::npos;) s.replace(p, 2, "* /");
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// The expression of a value's data pointer at run time.
std::string pointer(const Plan& plan, const Graph& g, ValueId v) {
  const std::string T = ctype(g.value(v).dtype);
  const auto id = static_cast<size_t>(v);
  if (plan.place[id] == Place::arena) return fmt::format("({}*)(arena + {})", T, plan.arena_offset(v));
  return fmt::format("({}*)io[{}]", T, plan.slot[id]);
}

}  // namespace

bool can_generate(const Graph& graph, const Node& node) {
  const OpKind k = node.op->kind();
  if (node.outputs.size() != 1) return false;
  const Value& out = graph.value(node.outputs[0]);
  if (!float_dtype(out.dtype)) return false;
  for (ValueId v : node.inputs) {
    const Value& in = graph.value(v);
    if (in.dtype != out.dtype || !fused_operand_kind(in.shape, out.shape)) return false;
  }
  if (k == OpKind::FusedElementwise) {
    for (const FusedStep& s : static_cast<const FusedOp&>(*node.op).steps)
      if (!generated_op(s.op->kind())) return false;
    return true;
  }
  return generated_op(k);
}

GeneratedSource generate_source(const Graph& g, const Plan& plan, const std::string& title) {
  GeneratedSource src;
  std::string& o = src.text;
  o += fmt::format("// Generated by Mithril's jit backend: {}\n", comment(title));
  o += "// Regions are loops over the output (intermediates are locals: registers); other steps call the host's\n"
       "// cpu kernel for the node. Arena values are fixed byte offsets of `arena`; io[] holds the inputs, the\n"
       "// outputs and the constants of this run.\n//\n// io slots:\n";
  for (size_t s = 0; s < plan.io_values.size(); ++s)
    o += fmt::format("//   io[{}] {} {}\n", s, s < plan.n_inputs ? "input " : s < plan.n_inputs + plan.n_outputs ? "output" : "const ",
                     comment(value_label(g, plan.io_values[s])));
  o += fmt::format("// arena: {} bytes\n\n", plan.memory.arena_bytes);
  o += "extern \"C\" {\n"
       "struct mi_host {\n"
       "  void* ctx;\n"
       "  void (*call)(void* ctx, int step);  // runs plan step `step` with the cpu kernel\n"
       "  void (*parallel)(long n, long grain, void (*body)(void*, long, long), void* closure);\n"
       "};\n";
  o += fmt::format("extern const char mi_key[] = \"{}\";\n", kKeyPlaceholder);

  // Regions.
  std::string run_body;
  for (size_t si = 0; si < plan.steps.size(); ++si) {
    const PlanStep& step = plan.steps[si];
    const Node& node = g.nodes()[static_cast<size_t>(step.node)];
    if (step.aliased) {
      run_body += fmt::format("  // step {}: node n{} {} aliases its input\n", si, step.node, comment(step.op->to_string()));
      continue;
    }
    if (!step.generated) {
      std::string ins;
      for (ValueId v : node.inputs) ins += (ins.empty() ? "" : ", ") + comment(value_label(g, v));
      run_body += fmt::format("  h->call(h->ctx, {});  // node n{} {}({}) -> {}\n", si, step.node, comment(step.op->to_string()),
                              ins, comment(value_label(g, node.outputs[0])));
      continue;
    }
    const int r = static_cast<int>(src.region_step.size());
    const ValueId outv = node.outputs[0];
    const Value& out = g.value(outv);
    const DType t = out.dtype;
    const std::string T = ctype(t);
    const int64_t total = numel(out.shape);
    const int64_t cols = out.shape.empty() ? 1 : out.shape.back();
    const int64_t rows = cols == 0 ? 0 : total / cols;
    std::vector<FusedOperand> kinds;
    bool flat = true;
    for (ValueId v : node.inputs) {
      kinds.push_back(*fused_operand_kind(g.value(v).shape, out.shape));
      if (kinds.back() == FusedOperand::row || kinds.back() == FusedOperand::column) flat = false;
    }
    const long range = flat ? static_cast<long>(total) : static_cast<long>(rows);
    const long grain = flat ? kGrainElements : std::max<long>(1, kGrainElements / std::max<long>(1, static_cast<long>(cols)));
    src.region_step.push_back(static_cast<int>(si));
    src.region_rows.push_back(range);
    src.region_grain.push_back(grain);

    o += fmt::format("\n// region {} = step {}: node n{} {}\n", r, si, step.node, comment(step.op->to_string()));
    for (size_t i = 0; i < node.inputs.size(); ++i)
      o += fmt::format("//   a{} = {} ({})\n", i, comment(value_label(g, node.inputs[i])),
                       kinds[i] == FusedOperand::full ? "full" : kinds[i] == FusedOperand::scalar ? "one element"
                                                               : kinds[i] == FusedOperand::row ? "one row" : "one column");
    o += fmt::format("//   out = {}\n", comment(value_label(g, outv)));
    o += fmt::format("struct mi_r{} {{", r);
    for (size_t i = 0; i < node.inputs.size(); ++i) o += fmt::format(" const {}* a{};", T, i);
    o += fmt::format(" {}* out; }};\n", T);
    o += fmt::format("static void mi_r{}_body(void* c, long b, long e) {{\n  const mi_r{}& p = *(const mi_r{}*)c;\n", r, r, r);
    // Loop-invariant operands.
    for (size_t i = 0; i < kinds.size(); ++i)
      if (kinds[i] == FusedOperand::scalar) o += fmt::format("  const {} s{} = p.a{}[0];\n", T, i, i);
    std::string inner_indent;
    std::string idx;
    if (flat) {
      o += "  for (long i = b; i < e; ++i) {\n";
      idx = "i";
    } else {
      o += "  for (long r = b; r < e; ++r) {\n";
      for (size_t i = 0; i < kinds.size(); ++i) {
        if (kinds[i] == FusedOperand::full) o += fmt::format("    const {}* f{} = p.a{} + r * {};\n", T, i, i, cols);
        if (kinds[i] == FusedOperand::column) o += fmt::format("    const {} c{} = p.a{}[r];\n", T, i, i);
      }
      o += fmt::format("    {}* y = p.out + r * {};\n", T, cols);
      o += fmt::format("    for (long j = 0; j < {}; ++j) {{\n", cols);
      idx = "j";
    }
    auto operand = [&](size_t i) -> std::string {
      switch (kinds[i]) {
        case FusedOperand::scalar: return fmt::format("s{}", i);
        case FusedOperand::column: return fmt::format("c{}", i);
        case FusedOperand::row: return fmt::format("p.a{}[{}]", i, idx);
        case FusedOperand::full: return flat ? fmt::format("p.a{}[i]", i) : fmt::format("f{}[j]", i);
      }
      return {};
    };
    std::string body;
    int tmp = 0;
    std::string running;
    const std::vector<FusedStep> steps = region_steps(node);
    for (size_t k = 0; k < steps.size(); ++k) {
      std::vector<std::string> args;
      for (int a : steps[k].args) args.push_back(a == FusedStep::kRunning ? running : operand(static_cast<size_t>(a)));
      std::string pre;
      const std::string e = op_expr(*steps[k].op, t, args, pre, tmp);
      body += pre;
      body += fmt::format("      const {} t{} = {};  // {}\n", T, k, e, comment(steps[k].op->to_string()));
      running = fmt::format("t{}", k);
    }
    if (flat) {
      o += body;
      o += fmt::format("      p.out[i] = {};\n  }}\n}}\n", running);
    } else {
      o += body;
      o += fmt::format("      y[j] = {};\n    }}\n  }}\n}}\n", running);
    }
    o += fmt::format("void mi_region_{}(const mi_host* h, char* arena, void* const* io, long grain) {{\n", r);
    o += fmt::format("  mi_r{} p{{", r);
    for (size_t i = 0; i < node.inputs.size(); ++i) o += pointer(plan, g, node.inputs[i]) + ", ";
    o += pointer(plan, g, outv) + "};\n";
    o += fmt::format("  if ({} <= grain) mi_r{}_body(&p, 0, {});\n  else h->parallel({}, grain, mi_r{}_body, &p);\n}}\n", range, r,
                     range, range, r);
    run_body += fmt::format("  mi_region_{}(h, arena, io, mi_grain[{}]);  // step {}: node n{} {}\n", r, r, si, step.node,
                            comment(step.op->to_string()));
  }
  o += fmt::format("\n// Chunk of each region's range per task (max-autotune may replace them).\nlong mi_grain[{}] = {{", std::max<size_t>(1, src.region_grain.size()));
  for (size_t r = 0; r < src.region_grain.size(); ++r) o += fmt::format("{}{}", r ? ", " : "", src.region_grain[r]);
  if (src.region_grain.empty()) o += "0";
  o += "};\n";
  o += fmt::format("extern const int mi_num_regions = {};\n", src.region_grain.size());
  o += "\n// The whole program, one call (jit_options.mode = reduce-overhead).\nvoid mi_run(const mi_host* h, char* arena, void* const* io) {\n";
  o += run_body;
  o += "}\n}  // extern \"C\"\n";
  return src;
}

}  // namespace mithril::jit
