// The one registry of environment variables Mithril reads. Every knob is listed here with its
// meaning and default; `mithril env` prints them with their current values.
#pragma once

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
bool env_flag(std::string_view name);  // "1", "true", "yes", "on" (any case) -> true

}  // namespace mithril
