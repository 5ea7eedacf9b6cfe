// What is here: allreduce_bench, the bucketed gradient all-reduce on the GPUs of one job: the
// fp32 LoRA gradient of Llama-3-8B (r = 16 on all seven projections of the 32 layers,
// 41,943,040 floats = 160 MiB) summed in place on GPU memory with the NCCL transport
// (parallel::NcclCollective) or the MPI transport with host staging (MpiCollective with device
// buffers), for several bucket sizes. Prints algbw = bytes / time and busbw = algbw x 2(N-1)/N
// (nccl-tests' definitions) as Markdown rows on rank 0. Run by bench/allreduce.sh under mpirun.
//
//   allreduce_bench [--transport nccl|mpi] [--bucket-mb 25,100] [--iters 20] [--r 16]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <mpi.h>

#include "kernels/common.h"
#include "parallel/device_memory.h"
#include "parallel/mpi_collective.h"
#include "parallel/nccl_collective.h"

namespace {

using namespace qforge;

// LoRA parameters of one layer of Llama-3-8B for rank r: r x (in + out) per projection.
int64_t llama3_8b_lora_params(int64_t r) {
    const int64_t h = 4096, kv = 1024, ffn = 14336, layers = 32;
    const int64_t per_layer =
        r * ((h + h) + (h + kv) + (h + kv) + (h + h) + (h + ffn) + (h + ffn) + (ffn + h));
    return per_layer * layers;
}

std::vector<double> parse_list(const std::string& s) {
    std::vector<double> out;
    size_t at = 0;
    while (at <= s.size()) {
        const size_t comma = s.find(',', at);
        out.push_back(std::stod(s.substr(at, comma - at)));
        if (comma == std::string::npos) {
            break;
        }
        at = comma + 1;
    }
    return out;
}

int run(int argc, char** argv, const parallel::MpiSession& mpi) {
    std::string transport = "nccl";
    std::vector<double> bucket_mb = {25.0};
    int iters = 20;
    int64_t r = 16;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i], value = argv[i + 1];
        if (key == "--transport") {
            transport = value;
        } else if (key == "--bucket-mb") {
            bucket_mb = parse_list(value);
        } else if (key == "--iters") {
            iters = std::atoi(value.c_str());
        } else if (key == "--r") {
            r = std::atoll(value.c_str());
        } else {
            QF_FAIL("allreduce_bench: unknown option {}", key);
        }
    }
    QF_CHECK(transport == "nccl" || transport == "mpi", "--transport nccl|mpi, got {}", transport);
    QF_CHECK(iters >= 1, "--iters must be >= 1");
    const int world = mpi.topology().world, rank = mpi.topology().rank;
    const int64_t n = llama3_8b_lora_params(r);
    const double bytes = static_cast<double>(n) * sizeof(float);
    const bool lead = rank == 0;
    if (lead) {
        std::printf(
            "| transport | ranks | bucket MiB | buckets | floats | MiB | time ms | algbw "
            "GB/s | busbw GB/s |\n|---|---|---|---|---|---|---|---|---|\n");
    }
    for (const double mb : bucket_mb) {
        const std::size_t bucket_bytes = parallel::bucket_bytes_from_mb(mb);
        std::unique_ptr<train::Collective> coll;
        if (transport == "nccl") {
            parallel::NcclOptions o;
            o.bucket_bytes = bucket_bytes;
            coll = std::make_unique<parallel::NcclCollective>(MPI_COMM_WORLD, o);
        } else {
            auto c = std::make_unique<parallel::MpiCollective>(MPI_COMM_WORLD, bucket_bytes);
            c->set_device_buffers(true);
            coll = std::move(c);
        }
        // Small values so that repeated sums stay finite; the contents do not change the time.
        std::vector<float> host(static_cast<size_t>(n), 1e-6f);
        parallel::DeviceFloats grads(n);
        grads.upload(host.data());
        for (int i = 0; i < 3; ++i) {  // warm-up: NCCL sets up its channels on first use
            coll->allreduce_gradients(grads.data(), n);
        }
        coll->barrier();
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i) {
            coll->allreduce_gradients(grads.data(), n);
        }
        double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
        coll->allreduce_sum(&t, 1);  // the mean over ranks
        t /= world;
        const double algbw = bytes / t / 1e9;
        const double busbw = algbw * 2.0 * (world - 1) / world;
        const int64_t buckets = (n + static_cast<int64_t>(bucket_bytes / 4) - 1) /
                                static_cast<int64_t>(bucket_bytes / 4);
        if (lead) {
            std::printf("| %s | %d | %g | %lld | %lld | %.1f | %.3f | %.1f | %.1f |\n",
                        transport.c_str(), world, mb, static_cast<long long>(buckets),
                        static_cast<long long>(n), bytes / (1 << 20), t * 1e3, algbw, busbw);
            std::fflush(stdout);
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    qforge::parallel::MpiSession mpi(&argc, &argv);
    try {
        return run(argc, argv, mpi);
    } catch (const qforge::Error& e) {
        std::fprintf(stderr, "allreduce_bench: error on %s: %s\n",
                     qforge::parallel::rank_and_host().c_str(), e.what());
        qforge::parallel::MpiSession::abort_job(1);
    }
}
