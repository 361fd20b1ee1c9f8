// "Did you mean": the candidates closest to a misspelt name, for the messages of unknown models,
// keys and fields.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mithril {

// Levenshtein distance, case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b);

// Up to `count` candidates by increasing edit distance from `name` (ties in candidate order),
// keeping only those within half the longer name's length, so unrelated names are not offered;
// a candidate that starts with `name` counts as distance 0 ("Exp" offers "Exponential").
std::vector<std::string> closest_names(std::string_view name, const std::vector<std::string>& candidates,
                                       size_t count = 3);

}  // namespace mithril
