// Draws samples from a trained run and writes them as a PNG grid:
//
//   $ bazel run //mdm/bin:sample -- --checkpoint=runs/quickstart --n=64
//         --sampler=expint --steps=100 --out=samples.png
#include <gflags/gflags.h>

#include "mdm/bin/sample_lib.h"
#include "mdm/sampling/sample.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"

DEFINE_string(checkpoint, "",
              "A run directory (its best, else last, checkpoint) or a "
              "checkpoint file.");
DEFINE_string(config, "", "Another config than the run's config.textproto.");
DEFINE_int64(n, 64, "Number of samples.");
DEFINE_string(sampler, "em", mdm::sampling::SamplerNames());
DEFINE_int64(steps, 0,
             "Score evaluations per sample (not ode); 0: the config's "
             "sampling.n_fes.");
DEFINE_double(rtol, 1e-5, "ode: relative tolerance.");
DEFINE_double(atol, 1e-5, "ode: absolute tolerance.");
DEFINE_int64(ode_max_steps, 100000, "ode: the adaptive solver's step limit.");
DEFINE_int64(batch_size, 0, "Samples drawn at once; 0: all.");
DEFINE_uint64(seed, 0, "Seed of the prior draw and the sampler's noise.");
DEFINE_string(out, "samples.png", "The PNG to write.");
DEFINE_string(raw, "",
              "Also write the samples (uint8 images, or float vectors) as a "
              "pickled dict that Python's torch.load opens.");
DEFINE_int32(num_threads, 0,
             "Threads to compute with (LibTorch's pool; BLAS runs in its "
             "callers' threads); 0: one per core.");
DEFINE_string(device, "cpu", "cpu, cuda or cuda:N.");

int main(int argc, char** argv) {
  mdm::util::ParseToolFlags(
      {.name = "sample",
       .summary = "Draws samples from a trained run and writes them as a PNG "
                  "(and, with --raw, as a tensor file).",
       .examples = "bazel run //mdm/bin:sample -- --checkpoint=runs/quickstart "
                   "--sampler=expint --steps=100 --out=samples.png"},
      &argc, &argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  return mdm::util::RunAndReport("sample", [&]() -> absl::Status {
    if (absl::Status s = mdm::util::NoPositionalArguments(argc, argv); !s.ok())
      return s;
    return mdm::bin::RunSampling({
        .checkpoint = mdm::util::ResolveUserPath(FLAGS_checkpoint),
        .config = mdm::util::ResolveUserPath(FLAGS_config),
        .n = FLAGS_n,
        .sampler = FLAGS_sampler,
        .steps = FLAGS_steps,
        .rtol = FLAGS_rtol,
        .atol = FLAGS_atol,
        .ode_max_steps = FLAGS_ode_max_steps,
        .batch_size = FLAGS_batch_size,
        .seed = FLAGS_seed,
        .out = mdm::util::ResolveUserPath(FLAGS_out),
        .raw = mdm::util::ResolveUserPath(FLAGS_raw),
        .num_threads = FLAGS_num_threads,
        .device = FLAGS_device,
    });
  });
}
