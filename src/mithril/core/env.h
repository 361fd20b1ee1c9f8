// The one registry of environment variables Mithril reads. Every knob is listed here with its
// meaning and default; `mithril env` prints them with their current values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mithril {

struct EnvKnob {
  std::string_view name;
  std::string_view default_value;
  std::string_view description;
};

const std::vector<EnvKnob>& env_knobs();
// The variable's value, or its registered default when unset. Reading an unregistered
// name is an internal error: add the knob to the registry first.
std::string env_value(std::string_view name);
// "1", "true", "yes", "on" (any case) -> true; "0", "false", "no", "off", "" -> false; any other
// value is a ValueError naming the variable (a typo must not turn a switch silently off).
bool env_flag(std::string_view name);
// The variable as an integer in [min, max], or nullopt when it is unset or empty; a value that is
// not such an integer is a ValueError naming the variable, the value and the range.
std::optional<int64_t> env_int(std::string_view name, int64_t min, int64_t max);

}  // namespace mithril
