// What this machine can do at best, for the profiler's "% of peak": GEMM FLOP/s (float32 and
// float64, through the same GEMM wrapper the matmul kernels call) and memory bandwidth (a large
// copy spread over the thread pool). Measured once per process, on first use, and cached.
#pragma once

namespace mithril {

struct MachinePeaks {
  double gflops_f32 = 0;  // GFLOP/s of a float32 GEMM
  double gflops_f64 = 0;  // GFLOP/s of a float64 GEMM
  double gbs = 0;         // GB/s moved (bytes read + bytes written) by a large copy
};

// Measures on the first call (about a tenth of a second), then returns the cached values.
const MachinePeaks& measured_machine_peaks();

// The measured peaks with every positive override put in their place (CompileOptions::peak_gflops
// sets both GEMM peaks); nothing is measured when every value is overridden.
MachinePeaks machine_peaks(double gflops_override, double gbs_override);

}  // namespace mithril
