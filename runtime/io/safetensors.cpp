// What is here: the safetensors reader (mmap + header validation) and writer.
//
// The format: 8 bytes little-endian u64 N, then N bytes of JSON (an object: tensor name ->
// {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
// string -> string), then the data section. Offsets are relative to the data section, and the
// tensors must tile it exactly: no overlaps, no holes, nothing after the last one. This reader
// enforces all of that on open, as the reference Rust implementation does.
#include "runtime/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/io/atomic_file.h"

namespace qforge::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; qforge maps it without byte swapping");

struct SafetensorsFile::Mapping {
    void* addr = nullptr;
    std::size_t size = 0;

    Mapping(void* a, std::size_t s) : addr(a), size(s) {}

    ~Mapping() { ::munmap(addr, size); }

    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
};

namespace {

// The reference implementation's cap; it also bounds the JSON we are willing to parse.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

using json = nlohmann::json;

DType parse_dtype(const std::string& s, const std::string& file, const std::string& tensor) {
    if (s == "F32")
        return DType::kF32;
    if (s == "BF16")
        return DType::kBF16;
    if (s == "F16")
        return DType::kF16;
    if (s == "U8")
        return DType::kU8;
    if (s == "I32")
        return DType::kI32;
    QF_FAIL("{}: unsupported dtype \"{}\" for tensor '{}' (qforge reads F32, BF16, F16, U8, I32)",
            file, s, tensor);
}

// A JSON value that must be a non-negative integer fitting int64.
int64_t json_size(const json& v, const std::string& file, const std::string& tensor,
                  const char* field) {
    QF_CHECK(v.is_number_unsigned() &&
                 v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
             "{}: tensor '{}': \"{}\" must hold non-negative integers, got {}", file, tensor, field,
             v.dump());
    return static_cast<int64_t>(v.get<uint64_t>());
}

TensorInfo parse_entry(const std::string& name, const json& entry, const std::string& file) {
    QF_CHECK(entry.is_object(), "{}: tensor '{}': expected a JSON object, got {}", file, name,
             entry.type_name());
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
        QF_CHECK(entry.contains(key), "{}: tensor '{}': missing \"{}\"", file, name, key);
    }
    const json& dtype = entry["dtype"];
    const json& shape = entry["shape"];
    const json& offsets = entry["data_offsets"];
    QF_CHECK(dtype.is_string(), "{}: tensor '{}': \"dtype\" must be a string, got {}", file, name,
             dtype.dump());
    QF_CHECK(shape.is_array(), "{}: tensor '{}': \"shape\" must be an array, got {}", file, name,
             shape.dump());
    QF_CHECK(offsets.is_array() && offsets.size() == 2,
             "{}: tensor '{}': \"data_offsets\" must be an array [begin, end], got {}", file, name,
             offsets.dump());

    TensorInfo info;
    info.name = name;
    info.dtype = parse_dtype(dtype.get<std::string>(), file, name);
    for (const json& d : shape) {
        info.shape.push_back(json_size(d, file, name, "shape"));
    }
    info.begin = static_cast<uint64_t>(json_size(offsets[0], file, name, "data_offsets"));
    info.end = static_cast<uint64_t>(json_size(offsets[1], file, name, "data_offsets"));
    QF_CHECK(info.begin <= info.end, "{}: tensor '{}': data_offsets [{}, {}] end before begin",
             file, name, info.begin, info.end);

    const int64_t numel = shape_numel(info.shape, file + ": tensor '" + name + "'");
    const uint64_t elem = kernels::dtype_size(info.dtype);
    QF_CHECK(static_cast<uint64_t>(numel) <= std::numeric_limits<uint64_t>::max() / elem &&
                 static_cast<uint64_t>(numel) * elem == info.end - info.begin,
             "{}: tensor '{}': shape {} of {} needs {} bytes, but data_offsets [{}, {}] hold {}",
             file, name, shape_to_string(info.shape), dtype.get<std::string>(),
             static_cast<uint64_t>(numel) * elem, info.begin, info.end, info.end - info.begin);
    return info;
}

std::map<std::string, std::string> parse_metadata(const json& meta, const std::string& file) {
    QF_CHECK(meta.is_object(), "{}: \"__metadata__\" must be an object of strings, got {}", file,
             meta.type_name());
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : meta.items()) {
        QF_CHECK(value.is_string(), "{}: \"__metadata__\" entry \"{}\" must be a string, got {}",
                 file, key, value.dump());
        out[key] = value.get<std::string>();
    }
    return out;
}

// The tensors must tile [0, data_size) exactly, as the format requires.
void check_layout(const std::map<std::string, TensorInfo>& tensors, uint64_t data_size,
                  const std::string& file) {
    std::vector<const TensorInfo*> order;
    for (const auto& [name, info] : tensors) {
        QF_CHECK(info.end <= data_size,
                 "{}: tensor '{}': data_offsets [{}, {}] run past the end of the data section "
                 "({} bytes); the file is truncated or corrupt",
                 file, name, info.begin, info.end, data_size);
        order.push_back(&info);
    }
    std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    const TensorInfo* prev = nullptr;
    for (const TensorInfo* info : order) {
        QF_CHECK(info->begin >= cursor, "{}: tensors '{}' and '{}' overlap ([{}, {}] and [{}, {}])",
                 file, prev ? prev->name : "", info->name, prev ? prev->begin : 0, cursor,
                 info->begin, info->end);
        QF_CHECK(info->begin == cursor,
                 "{}: {} bytes of unused data before tensor '{}' (offset {}); the format forbids "
                 "holes",
                 file, info->begin - cursor, info->name, info->begin);
        cursor = info->end;
        prev = info;
    }
    QF_CHECK(cursor == data_size,
             "{}: {} bytes after the last tensor are not covered by any tensor (data section is "
             "{} bytes, tensors end at {})",
             file, data_size - cursor, data_size, cursor);
}

}  // namespace

std::string_view safetensors_dtype_name(DType dtype) {
    switch (dtype) {
        case DType::kF32:
            return "F32";
        case DType::kBF16:
            return "BF16";
        case DType::kF16:
            return "F16";
        case DType::kU8:
            return "U8";
        case DType::kI32:
            return "I32";
    }
    QF_FAIL("safetensors: unknown dtype {}", static_cast<int>(dtype));
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
    const std::string file = path.string();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    QF_CHECK(fd >= 0, "{}: cannot open: {}", file, std::strerror(errno));

    struct stat st {};

    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        QF_FAIL("{}: not a regular file", file);
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size < 8) {
        ::close(fd);
        QF_FAIL("{}: file is {} bytes, shorter than the 8-byte safetensors header length", file,
                size);
    }
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int mmap_errno = errno;
    ::close(fd);  // the mapping keeps its own reference to the file
    QF_CHECK(addr != MAP_FAILED, "{}: mmap of {} bytes failed: {}", file, size,
             std::strerror(mmap_errno));

    SafetensorsFile f;
    f.path_ = path;
    f.mapping_ = std::make_shared<Mapping>(addr, size);
    const auto* bytes = static_cast<const unsigned char*>(addr);

    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes, 8);
    QF_CHECK(header_len <= size - 8,
             "{}: header length {} is larger than the rest of the file ({} bytes); not a "
             "safetensors file, or truncated",
             file, header_len, size - 8);
    QF_CHECK(header_len <= kMaxHeaderBytes, "{}: header length {} exceeds the format's limit of {}",
             file, header_len, kMaxHeaderBytes);
    const auto* header = reinterpret_cast<const char*>(bytes + 8);
    json root;
    try {
        root = json::parse(header, header + header_len);
    } catch (const json::parse_error& e) {
        QF_FAIL("{}: header is not valid JSON: {}", file, e.what());
    }
    QF_CHECK(root.is_object(), "{}: header must be a JSON object, got {}", file, root.type_name());

    for (const auto& [name, entry] : root.items()) {
        if (name == "__metadata__") {
            f.metadata_ = parse_metadata(entry, file);
        } else {
            f.tensors_.emplace(name, parse_entry(name, entry, file));
        }
    }
    const uint64_t data_size = size - 8 - header_len;
    check_layout(f.tensors_, data_size, file);
    f.data_ = bytes + 8 + header_len;
    return f;
}

std::vector<std::string> SafetensorsFile::names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& [name, info] : tensors_) {
        out.push_back(name);
    }
    return out;
}

bool SafetensorsFile::contains(const std::string& name) const {
    return tensors_.count(name) != 0;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
    auto it = tensors_.find(name);
    QF_CHECK(it != tensors_.end(), "{}: no tensor named '{}' (the file has {} tensors)",
             path_.string(), name, tensors_.size());
    return it->second;
}

Tensor SafetensorsFile::get(const std::string& name) const {
    const TensorInfo& ti = info(name);
    // const_cast: the mapping is PROT_READ; callers that write get a SIGSEGV, not silent
    // corruption, and MAP_PRIVATE keeps the file itself safe either way.
    void* p = const_cast<unsigned char*>(data_ + ti.begin);
    Tensor view = Tensor::from_blob(p, ti.shape, ti.dtype, mapping_);
    if (reinterpret_cast<std::uintptr_t>(p) % kernels::dtype_size(ti.dtype) != 0) {
        return view.clone();  // header length not a multiple of the element size
    }
    return view;
}

void safetensors_write(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    const std::string file = path.string();
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        header["__metadata__"] = metadata;
    }
    std::set<std::string> seen;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        QF_CHECK(name != "__metadata__", "{}: \"__metadata__\" is reserved, not a tensor name",
                 file);
        QF_CHECK(seen.insert(name).second, "{}: tensor '{}' given twice", file, name);
        QF_CHECK(t.defined(), "{}: tensor '{}' is undefined", file, name);
        QF_CHECK(t.device() == Device::kCpu, "{}: tensor '{}' is on {}; copy it to the host first",
                 file, name, kernels::device_name(t.device()));
        const uint64_t bytes = t.nbytes();
        header[name] = {{"dtype", safetensors_dtype_name(t.dtype())},
                        {"shape", t.shape()},
                        {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
    text.append((8 - text.size() % 8) % 8, ' ');
    const uint64_t header_len = text.size();

    AtomicFileWriter out(path);
    out.write(&header_len, 8);
    out.write(text.data(), text.size());
    for (const auto& [name, t] : tensors) {
        const Tensor c = t.contiguous();
        out.write(c.raw_data(), c.nbytes());
    }
    out.commit();
}

}  // namespace qforge::io
