// What is here: manifest.json (de)serialisation, the checksum and file naming of the on-disk
// index (see rag/index_format.h and docs/index-format.md).
#include "rag/index_format.h"

#include <nlohmann/json.hpp>

#include "kernels/common.h"

namespace qforge::rag {

namespace {

using nlohmann::json;

const json& field(const json& obj, const char* key, const std::string& where,
                  const std::string& path) {
    QF_CHECK(obj.is_object(), "{}: \"{}\" must be an object", where, path);
    const auto it = obj.find(key);
    QF_CHECK(it != obj.end(), "{}: missing field \"{}{}\"", where, path.empty() ? "" : path + ".",
             key);
    return *it;
}

std::uint64_t get_u64(const json& obj, const char* key, const std::string& where,
                      const std::string& path) {
    const json& v = field(obj, key, where, path);
    QF_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0),
             "{}: field \"{}.{}\" must be a non-negative integer", where, path, key);
    return v.get<std::uint64_t>();
}

double get_double(const json& obj, const char* key, const std::string& where,
                  const std::string& path) {
    const json& v = field(obj, key, where, path);
    QF_CHECK(v.is_number(), "{}: field \"{}.{}\" must be a number", where, path, key);
    return v.get<double>();
}

std::string get_string(const json& obj, const char* key, const std::string& where,
                       const std::string& path) {
    const json& v = field(obj, key, where, path);
    QF_CHECK(v.is_string(), "{}: field \"{}.{}\" must be a string", where, path, key);
    return v.get<std::string>();
}

json file_json(const IndexFileInfo& f) {
    return {{"name", f.name}, {"bytes", f.bytes}, {"checksum", fmt::format("{:016x}", f.checksum)}};
}

IndexFileInfo file_from_json(const json& j, const std::string& where, const std::string& path) {
    IndexFileInfo f;
    f.name = get_string(j, "name", where, path);
    QF_CHECK(!f.name.empty() && f.name.find('/') == std::string::npos && f.name[0] != '.',
             "{}: field \"{}.name\" must be a plain file name, got \"{}\"", where, path, f.name);
    f.bytes = get_u64(j, "bytes", where, path);
    const std::string sum = get_string(j, "checksum", where, path);
    QF_CHECK(sum.size() == 16 && sum.find_first_not_of("0123456789abcdef") == std::string::npos,
             "{}: field \"{}.checksum\" must be 16 hex digits", where, path);
    f.checksum = std::stoull(sum, nullptr, 16);
    return f;
}

json dense_json(const DenseParams& d) {
    return {{"encoder", d.encoder},
            {"tokenizer", d.tokenizer},
            {"pooling", d.pooling},
            {"max_length", d.max_length},
            {"ann", d.ann},
            {"hnsw_m", d.hnsw_m},
            {"hnsw_ef_construction", d.hnsw_ef_construction}};
}

DenseParams dense_from_json(const json& j, const std::string& where) {
    const std::string path = "params.dense";
    DenseParams d;
    d.encoder = get_string(j, "encoder", where, path);
    d.tokenizer = get_string(j, "tokenizer", where, path);
    d.pooling = get_string(j, "pooling", where, path);
    QF_CHECK(d.pooling == "mean" || d.pooling == "cls",
             "{}: field \"params.dense.pooling\" must be \"mean\" or \"cls\", got \"{}\"", where,
             d.pooling);
    d.max_length = get_u64(j, "max_length", where, path);
    QF_CHECK(d.max_length >= 2, "{}: field \"params.dense.max_length\" must be >= 2", where);
    d.ann = get_string(j, "ann", where, path);
    QF_CHECK(d.ann == "exact" || d.ann == "hnsw",
             "{}: field \"params.dense.ann\" must be \"exact\" or \"hnsw\", got \"{}\"", where,
             d.ann);
    d.hnsw_m = get_u64(j, "hnsw_m", where, path);
    d.hnsw_ef_construction = get_u64(j, "hnsw_ef_construction", where, path);
    return d;
}

}  // namespace

std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t seed) {
    std::uint64_t h = seed;
    for (char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

std::string index_file_name(std::string_view stem, std::uint64_t generation) {
    return fmt::format("{}-{:06d}.bin", stem, generation);
}

std::string manifest_to_json(const IndexManifest& m) {
    json j = {
        {"format", kIndexFormatName},
        {"version", kIndexFormatVersion},
        {"generation", m.generation},
        {"params",
         {{"k1", m.params.bm25.k1},
          {"b", m.params.bm25.b},
          {"stop_words", m.params.stop_words ? "english" : "none"},
          {"chunk_tokens", m.params.chunk.max_tokens},
          {"overlap", m.params.chunk.overlap},
          {"tokenizer", m.params.tokenizer}}},
        {"counts",
         {{"documents", m.counts.documents},
          {"chunks", m.counts.chunks},
          {"terms", m.counts.terms},
          {"postings", m.counts.postings},
          {"total_terms", m.counts.total_terms}}},
        {"files", {{"chunks", file_json(m.chunks_file)}, {"postings", file_json(m.postings_file)}}},
    };
    if (m.params.dense) {
        j["params"]["dense"] = dense_json(*m.params.dense);
        j["counts"]["dim"] = m.counts.dim;
    }
    if (m.embeddings_file) {
        j["files"]["embeddings"] = file_json(*m.embeddings_file);
    }
    if (m.hnsw_file) {
        j["files"]["hnsw"] = file_json(*m.hnsw_file);
    }
    return j.dump(2) + "\n";
}

IndexManifest manifest_from_json(std::string_view text, const std::string& where) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        QF_FAIL("{}: not valid JSON ({})", where, e.what());
    }
    QF_CHECK(j.is_object(), "{}: expected a JSON object", where);
    const std::string format = get_string(j, "format", where, "");
    QF_CHECK(format == kIndexFormatName,
             "{}: format \"{}\" is not a qforge index (expected \"{}\")", where, format,
             kIndexFormatName);
    const std::uint64_t version = get_u64(j, "version", where, "");
    QF_CHECK(version == kIndexFormatVersion,
             "{}: index format version {}, but this qforge reads version {}; rebuild the index "
             "with `qforge index`",
             where, version, kIndexFormatVersion);
    IndexManifest m;
    m.generation = get_u64(j, "generation", where, "");
    const json& p = field(j, "params", where, "");
    m.params.bm25.k1 = get_double(p, "k1", where, "params");
    m.params.bm25.b = get_double(p, "b", where, "params");
    const std::string stop = get_string(p, "stop_words", where, "params");
    QF_CHECK(stop == "english" || stop == "none",
             "{}: field \"params.stop_words\" must be \"english\" or \"none\", got \"{}\"", where,
             stop);
    m.params.stop_words = stop == "english";
    m.params.chunk.max_tokens = get_u64(p, "chunk_tokens", where, "params");
    m.params.chunk.overlap = get_u64(p, "overlap", where, "params");
    m.params.tokenizer = get_string(p, "tokenizer", where, "params");
    if (p.contains("dense")) {
        m.params.dense = dense_from_json(p["dense"], where);
    }
    const json& c = field(j, "counts", where, "");
    m.counts.documents = get_u64(c, "documents", where, "counts");
    m.counts.chunks = get_u64(c, "chunks", where, "counts");
    m.counts.terms = get_u64(c, "terms", where, "counts");
    m.counts.postings = get_u64(c, "postings", where, "counts");
    m.counts.total_terms = get_u64(c, "total_terms", where, "counts");
    if (m.params.dense) {
        m.counts.dim = get_u64(c, "dim", where, "counts");
        QF_CHECK(m.counts.dim > 0, "{}: field \"counts.dim\" must be > 0", where);
    }
    const json& f = field(j, "files", where, "");
    m.chunks_file = file_from_json(field(f, "chunks", where, "files"), where, "files.chunks");
    m.postings_file = file_from_json(field(f, "postings", where, "files"), where, "files.postings");
    if (m.params.dense) {
        m.embeddings_file =
            file_from_json(field(f, "embeddings", where, "files"), where, "files.embeddings");
        if (m.params.dense->ann == "hnsw") {
            m.hnsw_file = file_from_json(field(f, "hnsw", where, "files"), where, "files.hnsw");
        }
    }
    return m;
}

}  // namespace qforge::rag
