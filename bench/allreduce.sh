#!/usr/bin/env bash
# What is here: the gradient all-reduce benchmark on the GPUs of this machine: algbw and busbw
# of the bucketed fp32 all-reduce of the Llama-3-8B LoRA gradient (r = 16, all seven
# projections: 41,943,040 floats, 160 MiB), NCCL transport with one rank per GPU, then the
# MPI transport (host-staged) on the same ranks. Usage, from the repository root:
#
#   bench/allreduce.sh [build dir (default build)] [ranks (default: every GPU)]
#
# With one GPU, NCCL has nothing to move (busbw = 0 by definition; algbw is a local copy);
# the numbers that matter come from N >= 2.
set -euo pipefail
build=${1:-build}
n=${2:-$(nvidia-smi -L 2>/dev/null | wc -l)}
[ "$n" -ge 1 ] || { echo "allreduce.sh: no GPU found (nvidia-smi -L)" >&2; exit 1; }
bin="$build/bench/allreduce_bench"
[ -x "$bin" ] || { echo "allreduce.sh: $bin not built (configure with -DQFORGE_BUILD_BENCH=ON)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# bucketed gradient all-reduce, Llama-3-8B LoRA r=16 (7 projections), $n rank(s), $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
mpirun -np "$n" --oversubscribe "$bin" --transport nccl --bucket-mb 1,25,100,160 --iters 20
mpirun -np "$n" --oversubscribe "$bin" --transport mpi --bucket-mb 25 --iters 5 | tail -n 1
