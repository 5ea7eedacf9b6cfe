// What is here: checkpoint_save / checkpoint_latest / checkpoint_load (see checkpoint.h).
#include "runtime/train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "runtime/io/atomic_file.h"
#include "runtime/io/safetensors.h"

namespace qforge::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "checkpoint-";

void fsync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    QF_CHECK(fd >= 0, "{}: cannot open directory to fsync", dir.string());
    const int rc = ::fsync(fd);
    ::close(fd);
    QF_CHECK(rc == 0, "{}: fsync failed", dir.string());
}

// Step number of a "checkpoint-<step>" directory name, or -1.
int64_t step_of(const fs::path& p) {
    const std::string name = p.filename().string();
    if (name.rfind(kPrefix, 0) != 0) {
        return -1;
    }
    const std::string digits = name.substr(std::string(kPrefix).size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
        return -1;
    }
    return std::stoll(digits);
}

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& run_dir) {
    std::vector<std::pair<int64_t, fs::path>> found;
    if (!fs::is_directory(run_dir)) {
        return found;
    }
    for (const auto& entry : fs::directory_iterator(run_dir)) {
        const int64_t step = step_of(entry.path());
        if (step >= 0 && entry.is_directory() && fs::exists(entry.path() / "trainer_state.json")) {
            found.emplace_back(step, entry.path());
        }
    }
    std::sort(found.begin(), found.end());
    return found;
}

Tensor vector_tensor(const std::vector<float>& values) {
    auto t = Tensor::empty({static_cast<int64_t>(values.size())}, kernels::DType::kF32);
    std::copy(values.begin(), values.end(), t.data<float>());
    return t;
}

}  // namespace

fs::path checkpoint_save(const fs::path& run_dir, const LoraAdapter& adapter,
                         const std::vector<float>& m, const std::vector<float>& v,
                         const TrainerState& state, const std::string& base_model,
                         int64_t keep_last) {
    const fs::path final_dir = run_dir / fmt::format("{}{}", kPrefix, state.step);
    const fs::path tmp_dir = run_dir / fmt::format(".{}{}.tmp-{}", kPrefix, state.step, ::getpid());
    fs::remove_all(tmp_dir);
    fs::create_directories(tmp_dir);
    adapter.save_peft(tmp_dir, base_model);
    io::safetensors_write(tmp_dir / "optimizer.safetensors",
                          {{"exp_avg", vector_tensor(m)}, {"exp_avg_sq", vector_tensor(v)}},
                          {{"format", "qforge-adamw"}});
    const nlohmann::json js = {{"step", state.step},
                               {"total_steps", state.total_steps},
                               {"epoch", state.epoch},
                               {"cursor", state.cursor},
                               {"seed", state.seed},
                               {"world", state.world},
                               {"train_loss", state.train_loss}};
    io::write_file_atomic(tmp_dir / "trainer_state.json", js.dump(2) + "\n");
    fsync_dir(tmp_dir);
    if (fs::exists(final_dir)) {
        fs::remove_all(final_dir);
    }
    fs::rename(tmp_dir, final_dir);
    fsync_dir(run_dir);

    if (keep_last > 0) {
        auto all = list_checkpoints(run_dir);
        for (std::size_t i = 0; i + static_cast<std::size_t>(keep_last) < all.size(); ++i) {
            fs::remove_all(all[i].second);
        }
    }
    return final_dir;
}

std::optional<fs::path> checkpoint_latest(const fs::path& run_dir) {
    auto all = list_checkpoints(run_dir);
    if (all.empty()) {
        return std::nullopt;
    }
    return all.back().second;
}

void checkpoint_load(const fs::path& dir, const io::LlamaConfig& config, LoraAdapter& adapter,
                     std::vector<float>& m, std::vector<float>& v, TrainerState& state) {
    const fs::path state_path = dir / "trainer_state.json";
    std::ifstream in(state_path);
    QF_CHECK(in.good(), "{}: cannot open", state_path.string());
    try {
        const auto js = nlohmann::json::parse(in);
        state.step = js.at("step").get<int64_t>();
        state.total_steps = js.at("total_steps").get<int64_t>();
        state.epoch = js.at("epoch").get<int64_t>();
        state.cursor = js.at("cursor").get<int64_t>();
        state.seed = js.at("seed").get<uint64_t>();
        state.world = js.at("world").get<int>();
        const auto& loss = js.at("train_loss");  // NaN is written as null
        state.train_loss = loss.is_number() ? loss.get<double>() : std::nan("");
    } catch (const nlohmann::json::exception& e) {
        QF_FAIL("{}: {}", state_path.string(), e.what());
    }
    adapter = LoraAdapter::load_peft(dir, config);
    const auto moments = io::SafetensorsFile::open(dir / "optimizer.safetensors");
    for (auto [name, dst] :
         {std::pair<const char*, std::vector<float>*>{"exp_avg", &m}, {"exp_avg_sq", &v}}) {
        const Tensor t = moments.get(name);
        QF_CHECK(t.numel() == adapter.num_params(),
                 "{}: {} has {} values, the adapter {} (different LoRA settings?)",
                 (dir / "optimizer.safetensors").string(), name, t.numel(), adapter.num_params());
        dst->assign(t.data<float>(), t.data<float>() + t.numel());
    }
}

}  // namespace qforge::train
