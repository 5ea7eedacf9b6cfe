// What is here: CheckpointReader, a Hugging Face model directory seen as one set of tensors
// (model.safetensors, or the shards named by model.safetensors.index.json).
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/io/safetensors.h"

namespace qforge::io {

using json = nlohmann::json;

CheckpointReader CheckpointReader::open(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    CheckpointReader r;
    r.dir_ = dir;
    if (fs::is_regular_file(dir)) {
        r.files_.push_back(SafetensorsFile::open(dir));
        for (const std::string& name : r.files_[0].names()) {
            r.where_[name] = 0;
        }
        return r;
    }
    QF_CHECK(fs::is_directory(dir), "{}: no such model directory or .safetensors file",
             dir.string());
    // Same preference as transformers: the single file first, then the sharded index.
    const fs::path single = dir / "model.safetensors";
    const fs::path index = dir / "model.safetensors.index.json";
    if (fs::exists(single)) {
        return open(single);
    }
    QF_CHECK(fs::exists(index), "{}: no model.safetensors or model.safetensors.index.json",
             dir.string());

    std::ifstream in(index);
    QF_CHECK(in.good(), "{}: cannot open", index.string());
    json root;
    try {
        root = json::parse(in);
    } catch (const json::parse_error& e) {
        QF_FAIL("{}: not valid JSON: {}", index.string(), e.what());
    }
    QF_CHECK(root.is_object() && root.contains("weight_map") && root["weight_map"].is_object(),
             "{}: expected an object with a \"weight_map\" object (tensor name -> shard file)",
             index.string());
    std::map<std::string, std::size_t> shard_index;
    for (const auto& [name, shard] : root["weight_map"].items()) {
        QF_CHECK(shard.is_string(), "{}: weight_map[\"{}\"] must be a file name string, got {}",
                 index.string(), name, shard.dump());
        const fs::path rel(shard.get<std::string>());
        QF_CHECK(
            !rel.empty() && rel.is_relative() &&
                std::none_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; }),
            "{}: weight_map[\"{}\"] = \"{}\" must be a file inside the model directory",
            index.string(), name, rel.string());
        auto [it, inserted] = shard_index.emplace(rel.string(), r.files_.size());
        if (inserted) {
            r.files_.push_back(SafetensorsFile::open(dir / rel));
        }
        const SafetensorsFile& file = r.files_[it->second];
        QF_CHECK(file.contains(name),
                 "{}: weight_map puts '{}' in {}, but that shard has no such "
                 "tensor",
                 index.string(), name, file.path().string());
        r.where_[name] = it->second;
    }
    return r;
}

std::vector<std::string> CheckpointReader::names() const {
    std::vector<std::string> out;
    out.reserve(where_.size());
    for (const auto& [name, i] : where_) {
        out.push_back(name);
    }
    return out;
}

bool CheckpointReader::contains(const std::string& name) const {
    return where_.count(name) != 0;
}

const SafetensorsFile& CheckpointReader::file_for(const std::string& name) const {
    auto it = where_.find(name);
    QF_CHECK(it != where_.end(), "{}: checkpoint has no tensor named '{}'", dir_.string(), name);
    return files_[it->second];
}

const TensorInfo& CheckpointReader::info(const std::string& name) const {
    return file_for(name).info(name);
}

Tensor CheckpointReader::get(const std::string& name) const {
    return file_for(name).get(name);
}

const std::filesystem::path& CheckpointReader::file_of(const std::string& name) const {
    return file_for(name).path();
}

}  // namespace qforge::io
