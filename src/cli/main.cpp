// The `mithril` command. Subcommands grow with the product; each one is a thin layer over the
// library, so everything it prints is also available from C++.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>
#include <new>

#include "cli/commands.h"
#include "cli/model_file.h"
#include "cli/model_setup.h"
#include "cli/parallel_run.h"
#include "cli/run_io.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/backends/support_matrix.h"
#include "mithril/conformance/conformance.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/env.h"
#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"
#include "mithril/io/json_parse.h"
#include "mithril/io/npy.h"
#include "mithril/logical/model_catalog.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/runtime/summary.h"

namespace {

// Prints the op table as a support matrix: one row per op, one column per dtype (CPU kernels),
// or with `backends` one column per backend.
int print_ops(const std::string& family, bool backends) {
  using namespace mithril;
  if (backends) {
    fmt::print("{}", format_support_matrix(family));
    return 0;
  }
  const KernelTable& kernels = cpu::kernel_table();
  check_op_family(family);
  fmt::print("{:<24} {:<8} {:<5}", "op", "family", "grad");
  for (int d = 0; d < kNumDTypes; ++d) fmt::print(" {:>4}", dtype_name(static_cast<DType>(d)));
  fmt::print("\n");
  int shown = 0;
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    const OpInfo& info = op_info(k);
    if (!family.empty() && info.family != family) continue;
    ++shown;
    fmt::print("{:<24} {:<8} {:<5}", info.name, info.family, info.differentiable ? "yes" : "-");
    for (int d = 0; d < kNumDTypes; ++d) fmt::print(" {:>4}", kernels.has(k, static_cast<DType>(d)) ? "x" : ".");
    fmt::print("\n");
  }
  fmt::print("{} ops; x = CPU kernel available\n", shown);
  return 0;
}

int print_env() {
  using namespace mithril;
  fmt::print("cpu features: {}\nkernel threads: {}\n\n", cpu_features_string(), num_threads());
  for (const EnvKnob& k : env_knobs()) {
    const char* set = std::getenv(std::string(k.name).c_str());
    fmt::print("{}={}{}\n    {}\n", k.name, set ? set : std::string(k.default_value), set ? "" : " (default)",
               k.description);
  }
  return 0;
}

// Runs Mithril conformance files; prints failing cases (every case with --verbose) and ends
// with "N passed, N failed[, N skipped]". Exit status 0 only when nothing failed.
int run_conformance(const std::vector<std::string>& files, const std::string& filter, bool verbose,
                    const std::string& options, const std::string& backend_name) {
  using namespace mithril::conformance;
  mithril::CompileOptions base = options.empty() ? mithril::CompileOptions{} : mithril::load_compile_options(options);
  if (!backend_name.empty())  // --backend wins over the options' backend name, keeping its other options
    base.backend = mithril::make_backend(backend_name, base.backend_or_default().options());
  int passed = 0, failed = 0, skipped = 0;
  for (const std::string& f : files) {
    const FileReport r = run_file(f, filter, base);
    for (const CaseResult& c : r.cases) {
      if (c.status == Status::failed) fmt::print("FAIL {} {}: {}\n", f, c.name, c.reason);
      else if (c.status == Status::skipped) fmt::print("SKIP {} {}: {}\n", f, c.name, c.reason);
      else if (!c.detail.empty()) fmt::print("PASS {} {}: {}\n", f, c.name, c.detail);  // what it checked
      else if (verbose) fmt::print("PASS {} {}\n", f, c.name);
    }
    if (files.size() > 1) fmt::print("{}: {} passed, {} failed, {} skipped\n", f, r.passed, r.failed, r.skipped);
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
  }
  if (skipped) fmt::print("{} passed, {} failed, {} skipped\n", passed, failed, skipped);
  else fmt::print("{} passed, {} failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

// With --params (or a GGUF model) the parameters are constants, so a quantizing backend of the
// --options reports its quantized layers.
int print_summary(const std::string& model_file, const std::vector<std::string>& shape_specs, bool gradients,
                  const std::string& options_arg, const std::string& params_file) {
  using namespace mithril;
  const auto shapes = parse_shape_specs(shape_specs);
  const cli::ModelFile mf = cli::load_model_file(model_file, params_file);
  CompileOptions base = cli::model_file_defaults(mf, {});
  if (!options_arg.empty()) base = load_compile_options(options_arg, std::move(base));
  cli::bind_params(mf, base);
  fmt::print("{}", format_summary(summarize(mf.model, shapes, gradients, base)));
  return 0;
}

// Compiles the model (float64 unless --dtype or the --options precision say otherwise), evaluates
// it on the given or random inputs and prints each output.
int run_model(const std::string& model_file, const std::vector<std::string>& shape_specs,
              const std::string& inputs_file, uint64_t seed, const std::string& output_file,
              const std::string& options_arg, const std::string& dtype_flag, const std::string& params_file) {
  using namespace mithril;
  std::map<std::string, Shape> shapes;
  const cli::ModelFile mf = cli::load_model_file(model_file, params_file);
  CompileOptions opts =
      cli::command_compile_options(options_arg, cli::model_file_defaults(mf, {}), dtype_flag, shape_specs, shapes, "run");
  cli::bind_params(mf, opts);
  const PhysicalModel pm = compile(mf.model, opts);
  const DataMap inputs = make_run_inputs(pm, inputs_file, shapes, seed, opts.precision());
  const DataMap outputs = pm.evaluate(inputs);
  std::map<std::string, Tensor> to_save;
  for (const std::string& key : pm.output_keys()) {
    const Data& d = outputs.at(key);
    if (d.is_list) {
      for (size_t i = 0; i < d.list.size(); ++i) {
        const std::string name = fmt::format("{}[{}]", key, i);
        fmt::print("{}\n", describe_output(name, d.list[i]));
        to_save[name] = d.list[i];
      }
    } else {
      fmt::print("{}\n", describe_output(key, d.tensor));
      to_save[key] = d.tensor;
    }
  }
  if (!output_file.empty()) {
    io::write_npz(output_file, to_save);
    fmt::print("wrote {} output(s) to {}\n", to_save.size(), output_file);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Mithril C++: compose, compile and run machine-learning models"};
  app.set_version_flag("--version", std::string("mithril 0.1.0"));
  app.require_subcommand(1);

  std::string family;
  auto* ops = app.add_subcommand("ops", "List every registered op with its CPU kernels per dtype");
  ops->add_option("--family", family, "Only ops of this family (unary, binary, reduce, shape, linalg, conv, loss)");
  bool ops_backends = false;
  ops->add_flag("--backends", ops_backends, "One column per backend of this build: the support matrix");
  auto* env = app.add_subcommand("env", "Show CPU features and every environment variable Mithril reads");
  auto* options = app.add_subcommand("options", "List every compile option (Markdown: README's table)");
  auto* models = app.add_subcommand("models", "List every model name a model dict may use, with its arguments");

  std::vector<std::string> conformance_files;
  std::string filter, conformance_backend;
  bool verbose = false;
  auto* conf = app.add_subcommand("conformance", "Run Mithril JSON test-case files (shared/conformance/*.json)");
  conf->add_option("files", conformance_files, "Test-case files")->required()->check(CLI::ExistingFile);
  conf->add_option("--filter", filter, "Only cases whose name contains this text");
  conf->add_flag("--verbose", verbose, "Print every case, not only failures");
  conf->add_option("--backend", conformance_backend, "Compile every case for this backend (default: cpu)");
  std::string conformance_options;
  conf->add_option("--options", conformance_options,
                   "Compile options every case starts from (JSON file or inline JSON, e.g. '{\"jit\": false}')");

  std::string model_file, inputs_file, output_file;
  std::vector<std::string> shape_specs;
  uint64_t seed = 0;
  bool summary_train = false;
  auto* summary = app.add_subcommand(
      "summary", "Show a model dict's primitive calls and keys (with --shapes, their shapes, the passes and memory plan)");
  summary->add_option("model", model_file, "Model dict (JSON) or GGUF model")->required()->check(CLI::ExistingFile);
  summary
      ->add_option("--shapes", shape_specs, "Input shape, e.g. --shapes input=32x128 (repeatable; KEY= for a scalar)")
      ->allow_extra_args(false);
  summary->add_flag("--train", summary_train, "Show the program with the gradient graph (cotangents on every output)");
  std::string summary_options, params_file;
  mithril::cli::add_compile_options_flag(summary, summary_options);
  summary->add_option("--params", params_file, "Parameters as constant keys (.safetensors or .npz, by key name)")
      ->check(CLI::ExistingFile);
  auto* run = app.add_subcommand("run", "Compile a model dict and evaluate it on given or random inputs");
  run->add_option("model", model_file, "Model dict (JSON) or GGUF model (mithril quantize)")->required()->check(CLI::ExistingFile);
  run->add_option("--params", params_file, "Parameters as constant keys (.safetensors or .npz, by key name)")
      ->check(CLI::ExistingFile);
  run->add_option("--shapes", shape_specs, "Shape of a random standard-normal input, e.g. --shapes input=32x128")
      ->allow_extra_args(false);
  run->add_option("--inputs", inputs_file, "Inputs by key name (.npz)")->check(CLI::ExistingFile);
  run->add_option("--seed", seed, "Seed of the random inputs")->capture_default_str();
  run->add_option("--output", output_file, "Write the outputs to this .npz");
  std::string run_options, run_dtype;
  run->add_option("--dtype", run_dtype, "f64, f32, bf16 or f16 (default: the --options precision, else f64)");
  mithril::cli::add_compile_options_flag(run, run_options);

  // Commands in their own files (src/cli/*_command.cpp, declared in commands.h) run from their
  // CLI11 callbacks during parse() and leave their exit status here.
  int status = 0;
  mithril::cli::add_train_command(app, status);
  mithril::cli::add_bench_command(app, status);
  mithril::cli::add_profile_command(app, status);
  mithril::cli::add_quantize_command(app, status);

  try {
    app.parse(argc, argv);
    if (*ops) return print_ops(family, ops_backends);
    if (*options) {
      fmt::print("{}", mithril::compile_options_markdown());
      return 0;
    }
    if (*models) {
      fmt::print("{}", mithril::logical::format_model_catalog());
      return 0;
    }
    if (*env) return print_env();
    if (*conf) return run_conformance(conformance_files, filter, verbose, conformance_options, conformance_backend);
    if (*summary) return print_summary(model_file, shape_specs, summary_train, summary_options, params_file);
    if (*run)
      return run_model(model_file, shape_specs, inputs_file, seed, output_file, run_options, run_dtype, params_file);
    return status;
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or --help/--version) and has its own codes (105, 106, ...); the
    // command exits 1 on every error, as README says.
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const mithril::Error& e) {
    std::cerr << "mithril: " << e.what() << "\n";
    mithril::cli::end_all_ranks(1);
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "mithril: out of memory\n";
    return 1;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "mithril: invalid JSON value: " << mithril::io::json_error_text(e) << "\n";
    return 1;
  } catch (const std::exception& e) {  // e.g. file system errors
    std::cerr << "mithril: " << e.what() << "\n";
    mithril::cli::end_all_ranks(1);
    return 1;
  }
  return 0;
}
