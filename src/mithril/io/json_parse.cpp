#include "mithril/io/json_parse.h"

#include "mithril/core/error.h"

namespace mithril::io {

void check_json_depth(std::string_view text, std::string_view what) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot close the string
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      MI_CHECK(++depth <= kMaxJsonDepth, ValueError, "{}: nesting deeper than {} levels at byte {}", what,
               kMaxJsonDepth, i);
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced text is the parser's to report
    }
  }
}

std::string json_error_text(const nlohmann::json::exception& e) {
  const std::string s = e.what();
  if (s.rfind("[json.exception.", 0) == 0)
    if (const size_t end = s.find("] "); end != std::string::npos) return s.substr(end + 2);
  return s;
}

namespace {

template <typename Json>
Json parse_checked(std::string_view text, std::string_view what) {
  check_json_depth(text, what);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MI_THROW(ValueError, "{}: not valid JSON: {}", what, json_error_text(e));
  }
}

}  // namespace

nlohmann::json parse_json(std::string_view text, std::string_view what) {
  return parse_checked<nlohmann::json>(text, what);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view what) {
  return parse_checked<nlohmann::ordered_json>(text, what);
}

}  // namespace mithril::io
