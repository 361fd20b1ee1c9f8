// Error types and the checking macros used everywhere in Mithril.
//
// User errors (bad shapes, dtypes, attributes, files) throw a typed exception derived from
// mithril::Error whose message names the op or thing involved and the rule that was violated,
// e.g. "[matmul] inner dims differ: left=(2,3) right=(4,5)".  Internal invariants use
// MI_ASSERT, which reports an internal error with file and line.  Library code never aborts on
// user input.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mithril {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { public: using Error::Error; };
class DTypeError : public Error { public: using Error::Error; };
class AttributeError : public Error { public: using Error::Error; };
class KernelError : public Error { public: using Error::Error; };
class KeyError : public Error { public: using Error::Error; };
class ValueError : public Error { public: using Error::Error; };
class InternalError : public Error { public: using Error::Error; };

[[noreturn]] void throw_internal(const char* file, int line, const std::string& what);

}  // namespace mithril

// MI_CHECK(cond, ErrorType, "format {}", args...) throws ErrorType(formatted) when cond is false.
#define MI_CHECK(cond, ErrorType, ...)                                  \
  do {                                                                  \
    if (!(cond)) [[unlikely]] throw ErrorType(fmt::format(__VA_ARGS__)); \
  } while (0)

#define MI_THROW(ErrorType, ...) throw ErrorType(fmt::format(__VA_ARGS__))

#define MI_ASSERT(cond)                                                              \
  do {                                                                               \
    if (!(cond)) [[unlikely]] ::mithril::throw_internal(__FILE__, __LINE__, #cond); \
  } while (0)

#ifdef NDEBUG
#define MI_DEBUG_ASSERT(cond) ((void)0)
#else
#define MI_DEBUG_ASSERT(cond) MI_ASSERT(cond)
#endif
