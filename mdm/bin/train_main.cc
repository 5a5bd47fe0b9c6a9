// Trains a multivariate diffusion model.
//
//   $ bazel run //mdm/bin:train   # the Fashion-MNIST quick start
//   $ bazel run //mdm/bin:train -- --config=configs/fashion_mnist/cld.textproto
//         --set=training.n_epochs=5 --output_dir=runs/cld [--resume]
//         [--debug_mode]
#include <gflags/gflags.h>

#include <string>
#include <vector>

#include "mdm/bin/train_lib.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"

DEFINE_string(
    config, "",
    "Experiment config (.textproto); default: the Fashion-MNIST quick start.");
DEFINE_string(
    set, "",
    "Override a config field, e.g. --set=training.n_epochs=5; repeatable.");
DEFINE_string(output_dir, "",
              "Output directory; default: output.output_dir of the config.");
DEFINE_bool(resume, false,
            "Continue from OUTPUT_DIR/checkpoints/last.pt if it exists.");
DEFINE_bool(overwrite, false,
            "Replace the run OUTPUT_DIR already holds (without it, train "
            "refuses to write into another run).");
DEFINE_bool(debug_mode, false,
            "Run a couple of batches of training and evaluation.");
DEFINE_int32(num_threads, 0,
             "Threads to compute with (the network on as many batch shards; "
             "LibTorch and BLAS serial in each); 0: one per core.");
DEFINE_string(device, "cpu", "cpu, cuda or cuda:N.");
DEFINE_int32(dist_timeout_s, 1800,
             "Data-parallel runs: seconds a rank waits for the others.");

int main(int argc, char** argv) {
  std::vector<std::string> overrides =
      mdm::util::ExtractRepeatedFlag("set", &argc, argv);
  mdm::util::ParseToolFlags(
      {.name = "train",
       .summary = "Trains a multivariate diffusion model; with no flags, the "
                  "Fashion-MNIST quick start.",
       .examples =
           "bazel run //mdm/bin:train\n"
           "bazel run //mdm/bin:train -- "
           "--config=configs/fashion_mnist/cld.textproto "
           "--set=training.n_epochs=5 --output_dir=runs/cld"},
      &argc, &argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  return mdm::util::RunAndReport("train", [&]() -> absl::Status {
    if (absl::Status s = mdm::util::NoPositionalArguments(argc, argv); !s.ok())
      return s;
    return mdm::bin::RunTraining(
               {
                   .config_path =
                       FLAGS_config.empty()
                           ? mdm::bin::kQuickstartConfig
                           : mdm::util::ResolveUserPath(FLAGS_config),
                   .overrides = overrides,
                   .output_dir = FLAGS_output_dir,
                   .resume = FLAGS_resume,
                   .overwrite = FLAGS_overwrite,
                   .debug_mode = FLAGS_debug_mode,
                   .num_threads = FLAGS_num_threads,
                   .device = FLAGS_device,
                   .dist_timeout_s = FLAGS_dist_timeout_s,
               })
        .status();
  });
}
