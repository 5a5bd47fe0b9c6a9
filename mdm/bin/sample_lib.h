// The sample binary's logic: load a run's checkpoint, draw samples with
// the chosen sampler, write a PNG (an image grid, or a 2-D histogram for
// vector data) and optionally the raw samples.
#ifndef MDM_BIN_SAMPLE_LIB_H_
#define MDM_BIN_SAMPLE_LIB_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace mdm::bin {

struct SampleFlags {
  std::string checkpoint;  // A run directory or a checkpoint file.
  std::string config;      // Optional: another config than the run's.
  int64_t n = 64;
  std::string sampler = "em";  // A name of sampling::kSamplers.
  int64_t steps = 0;                // 0: the config's sampling.n_fes.
  double rtol = 1e-5, atol = 1e-5;  // ode.
  int64_t ode_max_steps = 100000;   // ode: the solver's step limit.
  int64_t batch_size = 0;           // 0: all n at once.
  uint64_t seed = 0;
  std::string out;  // PNG.
  std::string raw;  // Optional: the samples as a pickled dict of tensors.
  int num_threads = 0;
  std::string device = "cpu";
};

absl::Status RunSampling(const SampleFlags& flags);

}  // namespace mdm::bin

#endif  // MDM_BIN_SAMPLE_LIB_H_
