// DeviceMesh: how the ranks of a run are arranged, (n,) or (data, model), factored over the world
// size. `device_mesh` in the compile options gives it; empty means (world size,).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mithril::parallel {

struct DeviceMesh {
  int64_t data = 1;   // replicas that split the batch
  int64_t model = 1;  // ranks that split each replica's tensors

  int64_t size() const { return data * model; }
  std::string str() const;  // "(2, 1)"

  // The mesh of `dims` ((), (n,) or (data, model); every dim >= 1) for a world of `world_size`
  // ranks; a mesh whose product is not the world size is a ValueError naming both.
  static DeviceMesh from_dims(const std::vector<int64_t>& dims, int64_t world_size);
};

}  // namespace mithril::parallel
