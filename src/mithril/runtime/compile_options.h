// CompileOptions by name: the keyword names of Mithril's ml.compile (and of its backend objects)
// as a JSON object, for options that come from a file or the command line (`--options`).
//
// Every name either maps to a CompileOptions field or is rejected with a ValueError that names
// it and says why (JAX/XLA, PyTorch and CUDA knobs, parallelism across devices, quantization):
// an option is never silently ignored. Names that are not options at all are a KeyError listing
// the valid ones; values of the wrong type name the option, the expected type and the value.
#pragma once

#include <string>

#include "mithril/runtime/compile.h"

namespace mithril {

// {"inference": true, "shapes": {"input": [32, 128]}, "backend": {"name": "cpu", "precision":
// "float32"}, ...}: the table in README.md ("Compile options") lists every name. Options start
// from `base` (a command's own defaults) and the names given override its fields.
CompileOptions compile_options_from_json(const logical::json& options, CompileOptions base = {});

// The inverse: every field under its ml.compile name (constant_tensors join constant_keys as
// nested lists), so that compile_options_from_json(compile_options_to_json(o)) compiles the same.
logical::json compile_options_to_json(const CompileOptions& options);

// README's table of the options (compile_options.def), the aliases, the always-on switches and the
// rejected seed knobs, as Markdown; `mithril options` prints it.
std::string compile_options_markdown();

// `text` is inline JSON when it starts with '{' and otherwise the path of a JSON file. Parse and
// file errors are ValueErrors naming the file (or "inline JSON") and the problem.
CompileOptions load_compile_options(const std::string& text, CompileOptions base = {});

}  // namespace mithril
