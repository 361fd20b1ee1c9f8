#include "mithril/core/error.h"

namespace mithril {

void throw_internal(const char* file, int line, const std::string& what) {
  throw InternalError(fmt::format("internal error, please report: {} at {}:{}", what, file, line));
}

}  // namespace mithril
