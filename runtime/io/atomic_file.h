// What is here: crash-safe file replacement (write a temp file, fsync, rename over the target,
// fsync the directory), so a checkpoint on disk is always either the old or the new one.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace qforge::io {

// Writes `bytes` to "<path>.tmp.<pid>", fsyncs it, renames it over `path` and fsyncs the
// directory. On any error the temp file is removed, the old file stays untouched, and a
// qforge::Error names the path and the failed step.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// The streaming form: write() any number of times, then commit(). Destroying the writer
// without commit() (an exception, an early return) removes the temp file and leaves `path`
// as it was.
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(std::filesystem::path path);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
    AtomicFileWriter(AtomicFileWriter&& other) noexcept;
    AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;

    void write(const void* data, std::size_t size);
    void commit();

    const std::filesystem::path& path() const { return path_; }

    const std::filesystem::path& temp_path() const { return temp_path_; }

private:
    void abort() noexcept;  // close and unlink the temp file

    std::filesystem::path path_;
    std::filesystem::path temp_path_;
    int fd_ = -1;
};

}  // namespace qforge::io
