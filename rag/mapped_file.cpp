// What is here: MappedFile, a read-only mmap of a whole file (see rag/mapped_file.h).
#include "rag/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include "kernels/common.h"

namespace qforge::rag {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    QF_CHECK(fd >= 0, "{}: cannot open: {}", path.string(), std::strerror(errno));

    struct stat st {};

    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        QF_FAIL("{}: cannot stat: {}", path.string(), std::strerror(err));
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
        void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        const int err = errno;
        ::close(fd);
        QF_CHECK(addr != MAP_FAILED, "{}: mmap of {} bytes failed: {}", path.string(), size_,
                 std::strerror(err));
        mapping_ = addr;
        data_ = static_cast<const char*>(addr);
    } else {
        ::close(fd);
    }
}

MappedFile::~MappedFile() {
    release();
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapping_(std::exchange(other.mapping_, nullptr)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        mapping_ = std::exchange(other.mapping_, nullptr);
    }
    return *this;
}

void MappedFile::release() noexcept {
    if (mapping_ != nullptr) {
        ::munmap(mapping_, size_);
    }
    mapping_ = nullptr;
    data_ = nullptr;
    size_ = 0;
}

}  // namespace qforge::rag
