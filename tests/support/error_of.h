// The message of the error a callable throws, for tests of the exact messages users see.
#pragma once

#include <functional>
#include <string>

namespace mithril::testing {

// e.what() when `f` throws an E; "no error" when it returns. Other exceptions propagate, so a
// wrong error type fails the test with its own message.
template <typename E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace mithril::testing
