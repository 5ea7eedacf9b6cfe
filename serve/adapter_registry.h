// What is here: AdapterRegistry, the LoRA adapters a server holds, by name: loaded at start
// (--adapter name=dir) or at run time (POST /v1/load_lora_adapter), unloaded at run time.
// Adapters are shared_ptr: a request keeps its adapter alive until it ends, even if the
// adapter is unloaded meanwhile. Thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/io/hf_config.h"
#include "runtime/model/lora.h"

namespace qforge::serve {

struct AdapterInfo {
    std::string name;
    std::filesystem::path path;
    int64_t created = 0;  // unix seconds
    int64_t rank = 0;
};

class AdapterRegistry {
public:
    explicit AdapterRegistry(const io::LlamaConfig& config) : config_(config) {}

    // Reads a PEFT adapter directory; a bad directory or an adapter that does not fit the
    // base model is a qforge::Error; a name already loaded is an ApiError (400).
    void load(const std::string& name, const std::filesystem::path& dir);
    // False when no adapter has that name.
    bool unload(const std::string& name);

    std::shared_ptr<const LoraAdapter> find(const std::string& name) const;
    std::vector<AdapterInfo> list() const;
    int64_t size() const;

private:
    struct Entry {
        AdapterInfo info;
        std::shared_ptr<const LoraAdapter> adapter;
    };

    const io::LlamaConfig& config_;
    mutable std::mutex mutex_;
    std::map<std::string, Entry> adapters_;
};

}  // namespace qforge::serve
