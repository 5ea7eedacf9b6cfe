// What is here: the POSIX implementation of atomic file replacement.
#include "runtime/io/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include "kernels/common.h"

namespace qforge::io {

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

void fsync_directory(const std::filesystem::path& file) {
    std::filesystem::path dir = file.parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    QF_CHECK(fd >= 0, "{}: cannot open directory {} to fsync the rename: {}", file.string(),
             dir.string(), errno_text());
    int rc = ::fsync(fd);
    const std::string why = rc != 0 ? errno_text() : std::string();
    ::close(fd);
    QF_CHECK(rc == 0, "{}: fsync of directory {} failed: {}", file.string(), dir.string(), why);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path)
    : path_(std::move(path)), temp_path_(path_.string() + ".tmp." + std::to_string(::getpid())) {
    QF_CHECK(!path_.empty() && path_.has_filename(), "AtomicFileWriter: bad output path '{}'",
             path_.string());
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    QF_CHECK(fd_ >= 0, "{}: cannot create temp file {}: {}", path_.string(), temp_path_.string(),
             errno_text());
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)) {}

AtomicFileWriter::~AtomicFileWriter() {
    abort();
}

void AtomicFileWriter::abort() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
        ::unlink(temp_path_.c_str());
    }
}

void AtomicFileWriter::write(const void* data, std::size_t size) {
    QF_CHECK(fd_ >= 0, "{}: write after commit or on a moved-from writer", path_.string());
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd_, p, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const std::string why = n < 0 ? errno_text() : std::string("wrote 0 bytes");
            abort();
            QF_FAIL("{}: writing temp file {} failed: {}", path_.string(), temp_path_.string(),
                    why);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

void AtomicFileWriter::commit() {
    QF_CHECK(fd_ >= 0, "{}: commit called twice or on a moved-from writer", path_.string());
    if (::fsync(fd_) != 0) {
        const std::string why = errno_text();
        abort();
        QF_FAIL("{}: fsync of temp file {} failed: {}", path_.string(), temp_path_.string(), why);
    }
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) {
        const std::string why = errno_text();
        ::unlink(temp_path_.c_str());
        QF_FAIL("{}: closing temp file {} failed: {}", path_.string(), temp_path_.string(), why);
    }
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
        const std::string why = errno_text();
        ::unlink(temp_path_.c_str());
        QF_FAIL("{}: renaming {} over it failed: {}", path_.string(), temp_path_.string(), why);
    }
    // The new file is in place; making the rename durable is the last step.
    fsync_directory(path_);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
    AtomicFileWriter writer(path);
    writer.write(bytes.data(), bytes.size());
    writer.commit();
}

}  // namespace qforge::io
