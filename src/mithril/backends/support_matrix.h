// The support matrix: for every op of the table (or of one family), which dtypes each backend of
// this build has a kernel for on this machine. `mithril ops --backends` and the cross-backend op
// test's `support` mode print it.
#pragma once

#include <string>
#include <string_view>

namespace mithril {

// One row per op, one column per backend; a column shows one mark per dtype (in dtype order,
// given in the header): x = a kernel this machine runs, . = none. An empty family means all.
std::string format_support_matrix(std::string_view family = {});

}  // namespace mithril
