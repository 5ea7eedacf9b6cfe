// What is here: the documents retrieval indexes: loading a directory of .txt/.md files or
// .jsonl files ({"id","title","text"} per line) into Document records.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qforge::rag {

struct Document {
    std::string id;      // jsonl "id" (or "<file>:<line>"); a text file's path under the root
    std::string title;   // jsonl "title"; a text file's first heading, else its name
    std::string text;    // valid UTF-8
    std::string source;  // where it came from, for display: "<file>" or "<file>:<line>"
};

// `path` is a directory (every .txt, .md and .jsonl file under it, recursively, in sorted
// order; hidden files and other extensions are skipped) or one such file. Paths in ids and
// sources are relative to the directory (or are the file's name). Malformed JSONL, invalid
// UTF-8, duplicate ids or an empty result are a qforge::Error naming the file and line.
std::vector<Document> load_documents(const std::filesystem::path& path);

// One .jsonl file; `display_name` is used in ids and sources. Lines that are empty or only
// whitespace are skipped.
std::vector<Document> load_jsonl_documents(const std::filesystem::path& file,
                                           const std::string& display_name);

// One .txt/.md file as a single document whose id and source are `display_name`.
Document load_text_document(const std::filesystem::path& file, const std::string& display_name);

// The title of a text file: its first Markdown ATX heading ("# Title") or reStructuredText
// heading (a line underlined with =, -, ~, ^, * or #) among the first lines, else "".
std::string find_text_title(const std::string& text);

// FNV-1a 64 of title and text: tells a re-added unchanged document from a changed one.
std::uint64_t document_hash(const Document& doc);

}  // namespace qforge::rag
