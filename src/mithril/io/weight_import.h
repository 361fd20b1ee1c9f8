// Importing PyTorch state dicts saved as safetensors (`safetensors.torch.save_file(model.state_dict())`
// or any writer of the format) into the keys of one of our models, through a name-mapping table:
// one row per tensor, the source name in the file and the key it becomes. Every tensor of the
// file must have a row and every row its tensor, and shapes must be the ones the model expects;
// otherwise one error lists all unmatched, missing and mis-shaped tensors together, so a wrong
// table is fixed in one pass rather than one name at a time.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mithril/core/tensor.h"

namespace mithril::io {

struct WeightRow {
  std::string source;  // name in the state dict ("transformer.h.0.attn.c_attn.weight")
  std::string key;     // our key ("h0_attn_c_attn_weight")
};
using WeightTable = std::vector<WeightRow>;

// The tensors of `path` under their keys, converted to `dtype`. `expected_shapes` (by key, may be
// empty) are checked. Errors: KeyError "[import] FILE: 1 tensor of the file has no row in the
// table: lm_head.bias; 1 tensor of the table is missing from the file: wpe.weight", ShapeError
// for shapes, both naming every offender; ValueError for a table with a repeated source or key.
std::map<std::string, Tensor> import_weights(const std::string& path, const WeightTable& table, DType dtype,
                                             const std::map<std::string, Shape>& expected_shapes = {});
// The same on tensors already read (the file's name only labels the errors).
std::map<std::string, Tensor> map_weights(const std::map<std::string, Tensor>& tensors, const std::string& what,
                                          const WeightTable& table, DType dtype,
                                          const std::map<std::string, Shape>& expected_shapes = {});

}  // namespace mithril::io
