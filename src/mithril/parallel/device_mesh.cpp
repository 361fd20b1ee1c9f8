#include "mithril/parallel/device_mesh.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mithril/core/error.h"

namespace mithril::parallel {

std::string DeviceMesh::str() const { return fmt::format("({}, {})", data, model); }

DeviceMesh DeviceMesh::from_dims(const std::vector<int64_t>& dims, int64_t world_size) {
  MI_CHECK(dims.size() <= 2, ValueError, "[device_mesh] ({}) has {} dims: a mesh is (n,) or (data, model)",
           fmt::join(dims, ", "), dims.size());
  for (int64_t d : dims)
    MI_CHECK(d >= 1, ValueError, "[device_mesh] ({}) has a dim of {}: every dim is at least 1", fmt::join(dims, ", "), d);
  DeviceMesh mesh;
  if (dims.empty()) mesh.data = world_size;
  if (!dims.empty()) mesh.data = dims[0];
  if (dims.size() == 2) mesh.model = dims[1];
  MI_CHECK(mesh.size() == world_size, ValueError,
           "[device_mesh] ({}) has {} devices but the world has {} ranks (mpirun -np {}): the mesh must factor the world "
           "size",
           fmt::join(dims, ", "), mesh.size(), world_size, world_size);
  return mesh;
}

}  // namespace mithril::parallel
