// Prints the transition kernels of a configured diffusion or a trained run.
//
//   $ bazel run //mdm/bin:kernel --
//         --config=configs/fashion_mnist/cld.textproto --t=0.001,0.5,1
//         [--set=diffusion.stationary_aux_var=0.5]
//         [--format=json]
//   $ bazel run //mdm/bin:kernel -- --checkpoint=runs/quickstart --t=0.5
#include <gflags/gflags.h>

#include <iostream>
#include <string>

#include "mdm/bin/kernel_lib.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"

DEFINE_string(config, "", "Experiment config (.textproto).");
DEFINE_string(checkpoint, "",
              "Instead of --config: a trained run (directory or checkpoint "
              "file), to see its learned Q, D and kernels.");
DEFINE_string(set, "",
              "Override a config field, e.g. --set=diffusion.n_vars=3; "
              "repeatable.");
DEFINE_string(t, "0.001,0.5,1", "Comma-separated times in [0, T_max].");
DEFINE_string(format, "text", "Output format: text or json.");

int main(int argc, char** argv) {
  std::vector<std::string> overrides =
      mdm::util::ExtractRepeatedFlag("set", &argc, argv);
  mdm::util::ParseToolFlags(
      {.name = "kernel",
       .summary = "Prints Q, D, A, S and the full and hybrid transition "
                  "kernels of a configured diffusion or a trained run at the "
                  "given times.",
       .examples = "bazel run //mdm/bin:kernel -- "
                   "--config=configs/fashion_mnist/cld.textproto "
                   "--t=0.001,0.5,1\n"
                   "bazel run //mdm/bin:kernel -- --checkpoint=runs/quickstart "
                   "--t=0.5 --format=json"},
      &argc, &argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  return mdm::util::RunAndReport("kernel", [&]() -> absl::Status {
    if (absl::Status s = mdm::util::NoPositionalArguments(argc, argv); !s.ok())
      return s;
    absl::StatusOr<mdm::bin::KernelFormat> format =
        mdm::bin::ParseKernelFormat(FLAGS_format);
    if (!format.ok()) return format.status();
    absl::StatusOr<std::string> report = mdm::bin::RunKernelTool({
        .config_path = mdm::util::ResolveUserPath(FLAGS_config),
        .checkpoint = mdm::util::ResolveUserPath(FLAGS_checkpoint),
        .overrides = overrides,
        .times = FLAGS_t,
        .format = *format,
    });
    if (!report.ok()) return report.status();
    std::cout << *report;
    return absl::OkStatus();
  });
}
