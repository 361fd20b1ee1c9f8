// NumPy's .npy and .npz files: read and write tensors the way numpy.save / numpy.savez do.
//
// .npy: format versions 1.0, 2.0 and 3.0, C order, little-endian dtypes <f8 <f4 <f2 <i8 <i4 |i1 |b1
// (|u1 is read as i32, which holds every uint8 value). .npz: a ZIP archive of .npy members, stored
// or deflated (numpy.savez / savez_compressed); writing produces stored archives. Every malformed
// file throws ValueError naming the file and the reason; nothing is returned half-read.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mithril/core/tensor.h"

namespace mithril::io {

// Parses the bytes of a .npy file; `what` names it in errors ("x.npy", "a.npz member 'x.npy'").
Tensor parse_npy(std::string_view bytes, const std::string& what);
// The bytes of a version 1.0 .npy file (2.0 when the header needs it). bf16 has no NumPy dtype:
// DTypeError.
std::string npy_bytes(const Tensor& t);

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);  // atomic: temp file + rename

// Every member of an .npz archive by name, without the ".npy" suffix; parse_npz reads the bytes
// of an archive that `what` names in errors.
std::map<std::string, Tensor> parse_npz(std::string_view bytes, const std::string& what);
std::map<std::string, Tensor> read_npz(const std::string& path);
// One member ("x" or "x.npy"); a missing member is a ValueError listing the members present.
Tensor read_npz_member(const std::string& path, const std::string& name);
// Several members, in the order of `names`, from one read of the archive.
std::vector<Tensor> read_npz_members(const std::string& path, const std::vector<std::string>& names);
// A stored (uncompressed) archive with one "<name>.npy" member per entry; atomic.
void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays);

}  // namespace mithril::io
