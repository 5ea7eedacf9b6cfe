// What is here: writing and checking one binary file of the on-disk index (the 32-byte
// FileHeader + payload of docs/index-format.md), shared by every part of the index.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "rag/index_format.h"
#include "rag/mapped_file.h"

namespace qforge::rag {

// Writes header + payload to `file` atomically (temp file, fsync, rename) and fills `info`
// (name, size, checksum) for the manifest.
void write_index_file(const std::filesystem::path& file, std::string_view magic,
                      const std::string& payload, IndexFileInfo& info);

// Checks a mapped binary file against its manifest entry: size, magic, version, header and
// payload checksums. Returns the payload; every problem is a qforge::Error naming the file.
std::string_view check_index_file(const MappedFile& file, const IndexFileInfo& info,
                                  std::string_view magic);

}  // namespace qforge::rag
