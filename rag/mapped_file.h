// What is here: a read-only memory-mapped file (RAII), which the on-disk index is read from.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace qforge::rag {

class MappedFile {
public:
    MappedFile() = default;
    // Maps the whole file; a missing or unreadable file is a qforge::Error naming it.
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;

    std::string_view bytes() const { return {data_, size_}; }

    const std::filesystem::path& path() const { return path_; }

private:
    void release() noexcept;

    std::filesystem::path path_;
    const char* data_ = nullptr;
    std::size_t size_ = 0;
    void* mapping_ = nullptr;  // nullptr for an empty file (nothing to map)
};

}  // namespace qforge::rag
