// JSON text from outside the program (model dicts, options, configs, file headers) parsed with
// a nesting limit: nlohmann parses deep documents iteratively, but copying, comparing or walking
// them recurses once per level, so 200,000 nested arrays overflowed the stack after parsing.
// Errors are ValueErrors naming the document and the place, without nlohmann's exception tags.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mithril::io {

// Far deeper than any model dict, config or tensor (a rank-8 tensor is 8 levels), far shallower
// than what overflows a thread's stack when a document is copied.
inline constexpr int kMaxJsonDepth = 256;

// `what` names the document in messages, tag included: "[model dict] m.json".
// Throws ValueError "<what>: nesting deeper than 256 levels at byte N" when an array or object
// opens deeper than kMaxJsonDepth (strings are skipped, so brackets inside them do not count).
void check_json_depth(std::string_view text, std::string_view what);

// check_json_depth, then parse; a syntax error is "<what>: not valid JSON: syntax error ... at
// line L, column C ...".
nlohmann::json parse_json(std::string_view text, std::string_view what);
nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view what);

// nlohmann's exception text without its "[json.exception.type_error.302] " tag.
std::string json_error_text(const nlohmann::json::exception& e);

}  // namespace mithril::io
