// The backend registry of this build: one line per backend in backends.def.
#include "mithril/backends/backend.h"

namespace mithril {

#define MI_BACKEND(id) void register_##id##_backend(BackendRegistry& registry);
#include "mithril/backends/backends.def"
#undef MI_BACKEND

BackendRegistry& BackendRegistry::instance() {
  static BackendRegistry registry = [] {
    BackendRegistry r;
#define MI_BACKEND(id) register_##id##_backend(r);
#include "mithril/backends/backends.def"
#undef MI_BACKEND
    return r;
  }();
  return registry;
}

BackendPtr make_backend(std::string_view name, const BackendOptions& options) {
  return BackendRegistry::instance().find(name).make(options);
}

BackendPtr default_backend() {
  static const BackendPtr cpu = make_backend(BackendRegistry::instance().backends().front().name);
  return cpu;
}

}  // namespace mithril
