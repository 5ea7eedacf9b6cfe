// What is here: HnswGraph over hnswlib (see rag/hnsw_graph.h). hnswlib's InnerProductSpace
// distance is 1 - <a, b>, so scores are 1 - distance. hnswlib reports errors by throwing
// std::runtime_error; they become qforge::Errors naming the file.
#include "rag/hnsw_graph.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <hnswlib/hnswlib.h>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <unistd.h>

#include "kernels/common.h"

namespace qforge::rag {

namespace fs = std::filesystem;

struct HnswGraph::Impl {
    std::size_t dim = 0;
    std::unique_ptr<hnswlib::InnerProductSpace> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
    mutable std::mutex search_lock;  // setEf changes shared state
};

HnswGraph::HnswGraph() = default;
HnswGraph::~HnswGraph() = default;
HnswGraph::HnswGraph(HnswGraph&&) noexcept = default;
HnswGraph& HnswGraph::operator=(HnswGraph&&) noexcept = default;

HnswGraph HnswGraph::build(const EmbeddingMatrix& m, const HnswBuildParams& params) {
    QF_CHECK(m.dim > 0, "hnsw: vectors of dimension 0");
    QF_CHECK(params.m >= 2 && params.ef_construction >= 1,
             "hnsw: M must be >= 2 and ef_construction >= 1 (got {} and {})", params.m,
             params.ef_construction);
    HnswGraph g;
    g.impl_ = std::make_unique<Impl>();
    g.impl_->dim = m.dim;
    g.impl_->space = std::make_unique<hnswlib::InnerProductSpace>(m.dim);
    try {
        g.impl_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            g.impl_->space.get(), std::max<std::size_t>(m.rows, 1), params.m,
            params.ef_construction);
    } catch (const std::exception& e) {
        QF_FAIL("hnsw: cannot build a graph of {} vectors: {}", m.rows, e.what());
    }
    g.extend(m);
    return g;
}

HnswGraph HnswGraph::load(const fs::path& file, std::size_t dim, std::size_t capacity) {
    HnswGraph g;
    g.impl_ = std::make_unique<Impl>();
    g.impl_->dim = dim;
    g.impl_->space = std::make_unique<hnswlib::InnerProductSpace>(dim);
    try {
        g.impl_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            g.impl_->space.get(), file.string(), false, capacity);
    } catch (const std::exception& e) {
        QF_FAIL("{}: cannot load the HNSW graph: {}", file.string(), e.what());
    }
    const auto& h = *g.impl_->hnsw;
    QF_CHECK(h.label_offset_ - h.offsetData_ == dim * sizeof(float),
             "{}: the HNSW graph holds {}-byte vectors, expected {}-d f32 ({} bytes)",
             file.string(), h.label_offset_ - h.offsetData_, dim, dim * sizeof(float));
    return g;
}

void HnswGraph::extend(const EmbeddingMatrix& m) {
    QF_CHECK(impl_ != nullptr, "hnsw: extend on an empty graph object");
    QF_CHECK(m.dim == impl_->dim, "hnsw: {}-d vectors added to a {}-d graph", m.dim, impl_->dim);
    auto& h = *impl_->hnsw;
    const std::size_t have = h.cur_element_count;
    QF_CHECK(m.rows >= have, "hnsw: {} rows given, the graph already holds {}", m.rows, have);
    try {
        if (m.rows > h.max_elements_) {
            h.resizeIndex(m.rows);
        }
        for (std::size_t i = have; i < m.rows; ++i) {
            h.addPoint(m.row(i).data(), static_cast<hnswlib::labeltype>(i));
        }
    } catch (const std::exception& e) {
        QF_FAIL("hnsw: adding vectors {}..{}: {}", have, m.rows, e.what());
    }
}

std::size_t HnswGraph::size() const {
    return impl_ ? impl_->hnsw->cur_element_count : 0;
}

std::size_t HnswGraph::dim() const {
    return impl_ ? impl_->dim : 0;
}

IndexFileInfo HnswGraph::save(const fs::path& file) const {
    QF_CHECK(impl_ != nullptr, "hnsw: save of an empty graph object");
    const fs::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
    auto fail = [&](const std::string& step) {
        const int err = errno;
        std::error_code ec;
        fs::remove(tmp, ec);
        QF_FAIL("{}: {}: {}", file.string(), step, std::strerror(err));
    };
    try {
        impl_->hnsw->saveIndex(tmp.string());
    } catch (const std::exception& e) {
        std::error_code ec;
        fs::remove(tmp, ec);
        QF_FAIL("{}: writing the HNSW graph: {}", file.string(), e.what());
    }
    IndexFileInfo info;
    {
        std::ifstream in(tmp, std::ios::binary);
        if (!in) {
            fail("cannot read back the temp file");
        }
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        info.bytes = bytes.size();
        info.checksum = fnv1a64(bytes);
    }
    const int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd < 0 || ::fsync(fd) != 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        fail("fsync of the temp file");
    }
    ::close(fd);
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        fail("rename of the temp file");
    }
    const fs::path parent = file.has_parent_path() ? file.parent_path() : fs::path(".");
    const int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    info.name = file.filename().string();
    return info;
}

std::vector<ScoredChunk> HnswGraph::search(std::span<const float> query, std::size_t k,
                                           std::size_t ef) const {
    QF_CHECK(impl_ != nullptr, "hnsw: search of an empty graph object");
    QF_CHECK(query.size() == impl_->dim, "hnsw: query has {} floats, the graph holds {}-d vectors",
             query.size(), impl_->dim);
    std::priority_queue<std::pair<float, hnswlib::labeltype>> found;
    {
        std::lock_guard<std::mutex> lock(impl_->search_lock);
        impl_->hnsw->setEf(std::max(ef, k));
        found = impl_->hnsw->searchKnn(query.data(), k);
    }
    std::vector<ScoredChunk> out;
    out.reserve(found.size());
    while (!found.empty()) {  // farthest first
        out.push_back({static_cast<std::uint32_t>(found.top().second),
                       1.0 - static_cast<double>(found.top().first)});
        found.pop();
    }
    std::sort(out.begin(), out.end(), [](const ScoredChunk& a, const ScoredChunk& b) {
        return a.score != b.score ? a.score > b.score : a.chunk < b.chunk;
    });
    return out;
}

}  // namespace qforge::rag
