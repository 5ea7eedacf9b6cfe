// What is here: reading (mmap, zero-copy) and writing (atomic) .safetensors files, and
// CheckpointReader, which opens a Hugging Face model directory, single-file or sharded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/tensor/tensor.h"

namespace qforge::io {

struct TensorInfo {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // byte offsets into the data section (after the header)
};

// "F32", "BF16", "F16", "U8", "I32" <-> DType. The parse throws for anything else, naming it.
std::string_view safetensors_dtype_name(DType dtype);

// A read-only, mmap'd .safetensors file. The whole header is validated on open (types,
// dtypes, sizes, offsets inside the file, no overlaps or holes), so get() cannot fail later.
class SafetensorsFile {
public:
    static SafetensorsFile open(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return path_; }

    std::vector<std::string> names() const;  // sorted
    bool contains(const std::string& name) const;
    const TensorInfo& info(const std::string& name) const;  // error names file and tensor
    // A zero-copy view into the mapping, which stays alive as long as the view does. (Data that
    // is not aligned to its element size, possible in files written by other tools, is copied.)
    Tensor get(const std::string& name) const;

    const std::map<std::string, std::string>& metadata() const { return metadata_; }

private:
    struct Mapping;

    std::filesystem::path path_;
    std::shared_ptr<Mapping> mapping_;
    const unsigned char* data_ = nullptr;  // start of the data section inside the mapping
    std::map<std::string, TensorInfo> tensors_;
    std::map<std::string, std::string> metadata_;
};

// A model directory: model.safetensors, or the shards listed by model.safetensors.index.json
// ("weight_map": tensor name -> shard file). A path to a single .safetensors file also works.
class CheckpointReader {
public:
    static CheckpointReader open(const std::filesystem::path& dir);

    const std::filesystem::path& dir() const { return dir_; }

    std::vector<std::string> names() const;  // sorted
    bool contains(const std::string& name) const;
    const TensorInfo& info(const std::string& name) const;
    Tensor get(const std::string& name) const;
    const std::filesystem::path& file_of(const std::string& name) const;  // the shard holding it

private:
    const SafetensorsFile& file_for(const std::string& name) const;

    std::filesystem::path dir_;
    std::vector<SafetensorsFile> files_;
    std::map<std::string, std::size_t> where_;  // tensor name -> index into files_
};

// Writes tensors (CPU, any strides; stored contiguous, in the given order) with an 8-byte
// aligned header, through write-to-temp + fsync + rename. Names must be unique and not
// "__metadata__".
void safetensors_write(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace qforge::io
