// The backend seam. A backend is an execution engine behind one small interface: its name, its
// devices and options (validated by the backend itself), which nodes it supports (and why not),
// and compile(program) -> Executable (plan once, then run). Backends register by name in one
// registry (backends.def lists them); compile(model, backend, options) takes a backend object and
// the JSON/CLI `backend` option selects one by name.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mithril/backends/executable.h"
#include "mithril/backends/kernel_table.h"
#include "mithril/graph/passes.h"

namespace mithril {

// The options every backend is built from. A backend checks each against what it can do: a
// precision it has no kernels for, a device it does not have, a quantization it cannot run are
// ValueErrors naming the option, the value and the backend.
struct BackendOptions {
  DType precision = DType::f64;  // dtype of parameters, inputs and constants
  std::string device = "cpu";
  int64_t mem_size = 0;   // > 0: cap in bytes on a program's planned peak (arena + outputs)
  std::string quantize;   // empty: none
};

// A backend's answer to "can you run this node?": yes, or no with the reason.
struct Support {
  bool ok = true;
  std::string reason;
  static Support yes() { return {}; }
  static Support no(std::string why) { return {false, std::move(why)}; }
  explicit operator bool() const { return ok; }
};

class Backend;
using BackendPtr = std::shared_ptr<const Backend>;

class Backend {
 public:
  // What a backend can do, for checking the options it is built from.
  struct Capabilities {
    std::string_view name;
    std::vector<std::string> devices;
    std::vector<DType> precisions;           // dtypes it has kernels for
    std::vector<std::string> quantizations;  // formats `quantize` may name
  };

  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  const std::vector<std::string>& devices() const { return devices_; }
  const BackendOptions& options() const { return options_; }
  DType precision() const { return options_.precision; }

  // The kernels this backend runs nodes with (lookups keyed by op, dtype and ISA).
  virtual const KernelTable& kernels() const = 0;
  // Default: a kernel this machine can run is registered for the node's dispatch dtype.
  virtual Support supports(const Graph& graph, const Node& node) const;
  // The graph passes this backend runs, given the ones requested (a backend that has no fused
  // kernels turns fusion off).
  virtual PassOptions passes(const PassOptions& requested) const { return requested; }
  // Runs one node on constant inputs (constant folding), with this backend's kernels.
  std::vector<Tensor> run_node(const Node& node, const Graph& graph, const std::vector<Tensor>& inputs) const;
  // Plans `program` (its graph must outlive the result); a plan over mem_size is a ValueError.
  virtual std::unique_ptr<Executable> compile(const GraphProgram& program, const ExecutableOptions& options) const = 0;
  // Whether compile() generates code, so that ExecutableOptions::jit and file_path mean something
  // (otherwise compile() refuses them).
  virtual bool generates_code() const { return false; }

 protected:
  // Checks the options against `caps`: a precision it has kernels for, one of its devices,
  // mem_size >= 0, and `quantize` empty unless listed. ValueErrors name the option and value.
  Backend(BackendOptions options, const Capabilities& caps);

 private:
  BackendOptions options_;
  std::vector<std::string> devices_;
};

// One entry of the backend registry.
struct BackendInfo {
  std::string name;
  std::string description;  // one line, for listings and errors
  std::function<BackendPtr(const BackendOptions&)> make;
  std::function<const KernelTable&()> kernels;  // the kernel table, without building a backend
};

class BackendRegistry {
 public:
  static BackendRegistry& instance();  // every backend of this build (backends.def)
  void add(BackendInfo info);
  // KeyError naming the backends this build has when `name` is not one of them.
  const BackendInfo& find(std::string_view name) const;
  const std::vector<BackendInfo>& backends() const { return backends_; }
  std::vector<std::string> names() const;

 private:
  std::vector<BackendInfo> backends_;
};

// The backend named `name`, built from `options` (and checked by it).
BackendPtr make_backend(std::string_view name, const BackendOptions& options = {});
// The default backend: cpu, float64.
BackendPtr default_backend();

// "float32" for f32 (Mithril's precision names); dtype_name() for the rest.
std::string_view precision_name(DType dtype);

}  // namespace mithril
