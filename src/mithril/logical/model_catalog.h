// Every name a model dict may use, with its constructor arguments: the library composites
// (library.h) and the primitives. `mithril models` prints it, and an unknown model name is
// answered with the closest of these names.
#pragma once

#include <string>
#include <vector>

namespace mithril::logical {

struct ModelInfo {
  std::string name;               // Mithril class name ("Linear", "Relu")
  bool library = false;           // a composite of library.h, else a primitive
  std::vector<std::string> args;  // constructor arguments a model dict may give
};

// The constructor arguments a model dict may give a primitive: its input ports (tensor and
// non-tensor) in port order, then the other arguments it declares. Defined beside the primitive
// registry (primitive.cpp).
std::vector<std::string> primitive_arguments(const std::string& name);

// Library composites first (in library.h order), then primitives by name.
const std::vector<ModelInfo>& model_catalog();
// The library composite's entry (case-insensitive), or nullptr.
const ModelInfo* find_library_model(const std::string& name);
// KeyError "unknown model 'Exp' (closest: Exponential; `mithril models` lists every model)".
[[noreturn]] void throw_unknown_model(const std::string& name);
// What `mithril models` prints: one line per model, "Linear(dimension, use_bias)  library".
std::string format_model_catalog();

}  // namespace mithril::logical
