// What is here: loading documents from .txt/.md/.jsonl files (see rag/document.h).
#include "rag/document.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "kernels/common.h"
#include "rag/index_format.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::rag {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    QF_CHECK(in.good(), "{}: cannot open for reading", file.string());
    std::ostringstream bytes;
    bytes << in.rdbuf();
    QF_CHECK(!in.bad(), "{}: read failed", file.string());
    return std::move(bytes).str();
}

std::string lower_ascii(std::string s) {
    for (auto& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

enum class DocKind { kText, kJsonl, kOther };

DocKind doc_kind(const fs::path& file) {
    const std::string ext = lower_ascii(file.extension().string());
    if (ext == ".jsonl") {
        return DocKind::kJsonl;
    }
    if (ext == ".txt" || ext == ".md" || ext == ".markdown") {
        return DocKind::kText;
    }
    return DocKind::kOther;
}

// "design.rst.txt" -> "design".
std::string bare_name(const fs::path& file) {
    std::string name = file.filename().string();
    if (auto dot = name.find('.'); dot != std::string::npos && dot > 0) {
        name.resize(dot);
    }
    return name;
}

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(first, last - first + 1));
}

bool is_rst_underline(std::string_view line, std::size_t title_len) {
    const std::string t = trim(line);
    if (t.size() < 3 || t.size() < title_len) {
        return false;
    }
    const char c = t[0];
    if (std::string_view("=-~^*#+").find(c) == std::string_view::npos) {
        return false;
    }
    return std::all_of(t.begin(), t.end(), [c](char x) { return x == c; });
}

void check_utf8(std::string_view text, const std::string& where) {
    const auto bad = tokenizer::utf8_find_invalid(text);
    QF_CHECK(bad == std::string_view::npos, "{}: invalid UTF-8 at byte {}", where, bad);
}

}  // namespace

std::string find_text_title(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> lines;
    std::string line;
    while (lines.size() < 40 && std::getline(in, line)) {
        lines.push_back(line);
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string t = trim(lines[i]);
        if (t.size() > 1 && t[0] == '#') {
            const auto body = t.find_first_not_of('#');
            if (body != std::string::npos && t[body] == ' ') {
                return trim(std::string_view(t).substr(body));
            }
        }
        if (!t.empty() && i + 1 < lines.size() && !is_rst_underline(lines[i], 0) &&
            is_rst_underline(lines[i + 1], t.size())) {
            return t;
        }
    }
    return {};
}

std::uint64_t document_hash(const Document& doc) {
    std::uint64_t h = fnv1a64(doc.title);
    h = fnv1a64(std::string_view("\0", 1), h);
    return fnv1a64(doc.text, h);
}

Document load_text_document(const fs::path& file, const std::string& display_name) {
    Document doc;
    doc.text = read_file(file);
    check_utf8(doc.text, file.string());
    doc.id = display_name;
    doc.source = display_name;
    doc.title = find_text_title(doc.text);
    if (doc.title.empty()) {
        doc.title = bare_name(file);
    }
    return doc;
}

std::vector<Document> load_jsonl_documents(const fs::path& file, const std::string& display_name) {
    std::ifstream in(file, std::ios::binary);
    QF_CHECK(in.good(), "{}: cannot open for reading", file.string());
    std::vector<Document> docs;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        const std::string where = fmt::format("{}:{}", file.string(), line_no);
        check_utf8(line, where);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            QF_FAIL("{}: not valid JSON ({})", where, e.what());
        }
        QF_CHECK(j.is_object(),
                 "{}: expected a JSON object {{\"id\", \"title\", \"text\"}}, got {}", where,
                 j.type_name());
        Document doc;
        const auto text = j.find("text");
        QF_CHECK(text != j.end() && text->is_string(),
                 "{}: field \"text\" is required and must be a string", where);
        doc.text = text->get<std::string>();
        if (const auto id = j.find("id"); id != j.end()) {
            QF_CHECK(id->is_string() || id->is_number_integer(),
                     "{}: field \"id\" must be a string or an integer, got {}", where,
                     id->type_name());
            doc.id = id->is_string() ? id->get<std::string>() : id->dump();
        } else {
            doc.id = fmt::format("{}:{}", display_name, line_no);
        }
        if (const auto title = j.find("title"); title != j.end() && !title->is_null()) {
            QF_CHECK(title->is_string(), "{}: field \"title\" must be a string, got {}", where,
                     title->type_name());
            doc.title = title->get<std::string>();
        }
        doc.source = fmt::format("{}:{}", display_name, line_no);
        docs.push_back(std::move(doc));
    }
    QF_CHECK(!in.bad(), "{}: read failed", file.string());
    return docs;
}

std::vector<Document> load_documents(const fs::path& path) {
    std::error_code ec;
    QF_CHECK(fs::exists(path, ec), "{}: no such file or directory", path.string());
    std::vector<std::pair<fs::path, std::string>> files;  // (file, display name)
    if (fs::is_directory(path, ec)) {
        for (auto it = fs::recursive_directory_iterator(path); it != fs::end(it); ++it) {
            const std::string name = it->path().filename().string();
            if (!name.empty() && name[0] == '.') {
                if (it->is_directory()) {
                    it.disable_recursion_pending();
                }
                continue;
            }
            if (it->is_regular_file() && doc_kind(it->path()) != DocKind::kOther) {
                files.emplace_back(it->path(),
                                   it->path().lexically_relative(path).generic_string());
            }
        }
        std::sort(files.begin(), files.end(),
                  [](const auto& a, const auto& b) { return a.second < b.second; });
        QF_CHECK(!files.empty(), "{}: no .txt, .md or .jsonl files in this directory",
                 path.string());
    } else {
        QF_CHECK(doc_kind(path) != DocKind::kOther,
                 "{}: expected a directory or a .txt, .md or .jsonl file", path.string());
        files.emplace_back(path, path.filename().string());
    }

    std::vector<Document> docs;
    std::unordered_map<std::string, std::string> seen;  // id -> source
    for (const auto& [file, name] : files) {
        std::vector<Document> loaded;
        if (doc_kind(file) == DocKind::kJsonl) {
            loaded = load_jsonl_documents(file, name);
        } else {
            loaded.push_back(load_text_document(file, name));
        }
        for (auto& doc : loaded) {
            auto [it, inserted] = seen.emplace(doc.id, doc.source);
            QF_CHECK(inserted, "{}: document id \"{}\" already used by {}", doc.source, doc.id,
                     it->second);
            docs.push_back(std::move(doc));
        }
    }
    return docs;
}

}  // namespace qforge::rag
