// What is here: one binary file of the on-disk index: header, atomic write, load-time checks
// (see rag/index_file.h).
#include "rag/index_file.h"

#include <cstring>

#include "kernels/common.h"
#include "runtime/io/atomic_file.h"

namespace qforge::rag {

void write_index_file(const std::filesystem::path& file, std::string_view magic,
                      const std::string& payload, IndexFileInfo& info) {
    FileHeader header{};
    std::memcpy(header.magic, magic.data(), sizeof(header.magic));
    header.version = kIndexFormatVersion;
    header.payload_bytes = payload.size();
    header.checksum = fnv1a64(payload);
    io::AtomicFileWriter writer(file);
    writer.write(&header, sizeof(header));
    writer.write(payload.data(), payload.size());
    writer.commit();
    info.name = file.filename().string();
    info.bytes = sizeof(header) + payload.size();
    info.checksum = header.checksum;
}

std::string_view check_index_file(const MappedFile& file, const IndexFileInfo& info,
                                  std::string_view magic) {
    const std::string name = file.path().string();
    const std::string_view bytes = file.bytes();
    QF_CHECK(bytes.size() == info.bytes,
             "{}: {} bytes, but manifest.json says {} (truncated or altered file)", name,
             bytes.size(), info.bytes);
    QF_CHECK(bytes.size() >= sizeof(FileHeader), "{}: too short for the {}-byte header", name,
             sizeof(FileHeader));
    FileHeader header;
    std::memcpy(&header, bytes.data(), sizeof(header));
    QF_CHECK(std::string_view(header.magic, sizeof(header.magic)) == magic,
             "{}: not a qforge index file (magic is not \"{}\")", name, magic);
    QF_CHECK(header.version == kIndexFormatVersion,
             "{}: file format version {}, but this qforge reads version {}", name, header.version,
             kIndexFormatVersion);
    const std::string_view payload = bytes.substr(sizeof(FileHeader));
    QF_CHECK(header.payload_bytes == payload.size(),
             "{}: header says {} payload bytes, file has {} (truncated file)", name,
             header.payload_bytes, payload.size());
    QF_CHECK(header.checksum == info.checksum,
             "{}: checksum {:016x} does not match manifest.json's {:016x} (file from another "
             "build of the index)",
             name, header.checksum, info.checksum);
    QF_CHECK(fnv1a64(payload) == header.checksum,
             "{}: checksum mismatch, the file is corrupt; rebuild the index", name);
    return payload;
}

}  // namespace qforge::rag
