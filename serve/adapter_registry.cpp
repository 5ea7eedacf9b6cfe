// What is here: AdapterRegistry (see adapter_registry.h).
#include "serve/adapter_registry.h"

#include <chrono>
#include <fmt/format.h>

#include "serve/api_error.h"

namespace qforge::serve {

void AdapterRegistry::load(const std::string& name, const std::filesystem::path& dir) {
    if (name.empty()) {
        throw ApiError(400, "'lora_name' must not be empty", "lora_name");
    }
    {
        std::lock_guard lock(mutex_);
        if (adapters_.count(name) != 0) {
            throw ApiError(
                400, fmt::format("the adapter '{}' is already loaded (unload it first)", name),
                "lora_name");
        }
    }
    // Read outside the lock: loading takes a while and must not stall lookups.
    auto adapter = std::make_shared<LoraAdapter>(LoraAdapter::load_peft(dir, config_));
    Entry e;
    e.info.name = name;
    e.info.path = dir;
    e.info.created = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    e.info.rank = adapter->options().r;
    e.adapter = std::move(adapter);
    std::lock_guard lock(mutex_);
    if (!adapters_.emplace(name, std::move(e)).second) {
        throw ApiError(400, fmt::format("the adapter '{}' is already loaded", name), "lora_name");
    }
}

bool AdapterRegistry::unload(const std::string& name) {
    std::lock_guard lock(mutex_);
    return adapters_.erase(name) != 0;
}

std::shared_ptr<const LoraAdapter> AdapterRegistry::find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = adapters_.find(name);
    return it == adapters_.end() ? nullptr : it->second.adapter;
}

std::vector<AdapterInfo> AdapterRegistry::list() const {
    std::lock_guard lock(mutex_);
    std::vector<AdapterInfo> out;
    for (const auto& [name, e] : adapters_) {
        out.push_back(e.info);
    }
    return out;
}

int64_t AdapterRegistry::size() const {
    std::lock_guard lock(mutex_);
    return static_cast<int64_t>(adapters_.size());
}

}  // namespace qforge::serve
