// The types of the parallelism rows of compile_options.def. compile() builds the same per-rank
// program whatever they say (a data-parallel rank runs the one-process program on its shard);
// the parallel layer and the commands that run ranks (mithril train, mithril bench) read them.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace mithril {

// "none" (one process) or "data" (every rank trains on its shard, gradients summed across ranks).
// Mithril's "model" and "pipeline" are rejected by the options reader with the reason.
enum class Parallelism { none, data };
std::string_view parallelism_name(Parallelism p);

// (n,) or (data, model); empty: (world size,).
using MeshDims = std::vector<int64_t>;

}  // namespace mithril
