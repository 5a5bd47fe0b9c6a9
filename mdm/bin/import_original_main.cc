// Imports the original implementation's YAML config and, optionally, a
// checkpoint it trained, as a run directory of ours.
//
//   $ bazel run //mdm/bin:import_original --
//         --yaml=$HOME/mdm-original/configs/mnist/learned_2.yaml
//         --output_dir=runs/imported/learned_2
//         --set=data.data_dir=/usr/share/datasets/mnist
//   $ bazel run //mdm/bin:import_original --
//         --checkpoint=$HOME/mdm-original/checkpoints/last.ckpt
//         --output_dir=runs/imported/learned_2
//   $ bazel run //mdm/bin:eval -- --checkpoint=runs/imported/learned_2
#include <gflags/gflags.h>

#include <iostream>
#include <string>
#include <vector>

#include "mdm/bin/import_original_lib.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"

DEFINE_string(yaml, "",
              "The original's YAML config (optional with a checkpoint that "
              "stores its config).");
DEFINE_string(checkpoint, "",
              "A checkpoint the original trained (Lightning .ckpt) or a "
              "state dict it saved.");
DEFINE_string(output_dir, "", "The run directory to create.");
DEFINE_string(set, "",
              "Override a field after the YAML, e.g. "
              "--set=data.data_dir=/data/mnist; repeatable.");
DEFINE_string(python, "/usr/bin/python3",
              "Python with torch for reading Lightning checkpoints.");

int main(int argc, char** argv) {
  std::vector<std::string> overrides =
      mdm::util::ExtractRepeatedFlag("set", &argc, argv);
  mdm::util::ParseToolFlags(
      {.name = "import_original",
       .summary = "Imports the original implementation's YAML config and, "
                  "optionally, a checkpoint it trained, as a run directory.",
       .examples =
           "bazel run //mdm/bin:import_original -- "
           "--yaml=$HOME/mdm-original/configs/mnist/learned_2.yaml "
           "--output_dir=runs/imported/learned_2\n"
           "bazel run //mdm/bin:import_original -- "
           "--checkpoint=$HOME/mdm-original/checkpoints/last.ckpt "
           "--output_dir=runs/imported/learned_2"},
      &argc, &argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  using mdm::util::ResolveUserPath;
  return mdm::util::RunAndReport("import_original", [&]() -> absl::Status {
    if (absl::Status s = mdm::util::NoPositionalArguments(argc, argv); !s.ok())
      return s;
    absl::StatusOr<std::string> summary = mdm::bin::RunImport({
        .yaml = ResolveUserPath(FLAGS_yaml),
        .checkpoint = ResolveUserPath(FLAGS_checkpoint),
        .output_dir = ResolveUserPath(FLAGS_output_dir),
        .overrides = overrides,
        .python = FLAGS_python,
    });
    if (!summary.ok()) return summary.status();
    std::cout << *summary;
    return absl::OkStatus();
  });
}
