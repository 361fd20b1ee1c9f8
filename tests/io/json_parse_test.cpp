// The nesting limit and the messages of JSON documents read from outside.
#include "mithril/io/json_parse.h"

#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "support/error_of.h"

namespace mithril::io {
namespace {

using testing::error_of;

TEST(JsonParse, NestingDeeperThanTheLimitIsAnError) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parse_json(ok, "[t] x").is_array());
  // 200,000 nested arrays overflowed the stack when the parsed document was copied.
  const std::string deep(200000, '[');
  EXPECT_EQ(error_of<ValueError>([&] { (void)parse_ordered_json(deep, "[model dict] m.json"); }),
            "[model dict] m.json: nesting deeper than 256 levels at byte 256");
  // Brackets inside strings (escaped quotes too) do not count.
  const std::string in_string = "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]";
  EXPECT_EQ(parse_json(in_string, "[t] x").size(), 1u);
}

TEST(JsonParse, SyntaxErrorsHaveNoLibraryTag) {
  const std::string e = error_of<ValueError>([] { (void)parse_json("{\"a\": }", "[config] c.json"); });
  EXPECT_EQ(e.rfind("[config] c.json: not valid JSON: parse error at line 1, column 7: syntax error while parsing value", 0), 0u) << e;
  EXPECT_EQ(e.find("json.exception"), std::string::npos) << e;
  try {
    (void)nlohmann::json("text").get<int>();
    FAIL();
  } catch (const nlohmann::json::exception& x) {
    EXPECT_EQ(json_error_text(x), "type must be number, but is string");
  }
}

}  // namespace
}  // namespace mithril::io
