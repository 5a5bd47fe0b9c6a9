#include "mdm/train/run_directory.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/logging.h"

namespace mdm::train {
namespace {

namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Files and folders a run writes (docs/tools.md, //mdm/bin:train).
constexpr const char* kRunFiles[] = {
    "config.textproto", "metrics.csv",     "eval.csv",
    "fid.csv",          "fid_reference.pt"};
constexpr const char* kRunFolders[] = {"checkpoints", "samples", "eval"};

bool IsEventFile(const fs::path& path) {
  return absl::StartsWith(path.filename().string(), "events.out.tfevents.");
}

// Fields whose change makes a checkpoint mean something else. A prefix
// ending in "." covers a whole message.
constexpr const char* kFixedOnResume[] = {
    "diffusion.",      "score_model.",       "data.dataset",
    "data.is_image",   "data.in_channels",   "data.out_channels",
    "data.height",     "data.width",         "data.vector_dim",
    "data.transform",  "optimizer.optim_type", "optimizer.use_ema",
    "objective.time_proposal", "objective.adaptive_bins",
    // The validation split is carved out of the training examples: a
    // change would evaluate on examples already trained on.
    "data.validation_examples",
};

bool FixedOnResume(const std::string& field) {
  for (const char* fixed : kFixedOnResume) {
    const absl::string_view prefix(fixed);
    if (absl::EndsWith(prefix, ".") ? absl::StartsWith(field, prefix)
                                    : field == prefix) {
      return true;
    }
  }
  return false;
}

std::string FieldText(const Message& message, const FieldDescriptor* field) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintFieldValueToString(message, field, -1, &text);
  return text;
}

void Diff(const Message& a, const Message& b, const std::string& prefix,
          std::vector<ConfigChange>& out) {
  const google::protobuf::Descriptor* descriptor = a.GetDescriptor();
  const google::protobuf::Reflection* ra = a.GetReflection();
  const google::protobuf::Reflection* rb = b.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const std::string name = prefix + field->name();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !field->is_repeated()) {
      Diff(ra->GetMessage(a, field), rb->GetMessage(b, field), name + ".",
           out);
      continue;
    }
    std::string before, after;
    if (field->is_repeated()) {
      for (int k = 0; k < ra->FieldSize(a, field); ++k) {
        std::string item;
        google::protobuf::TextFormat::Printer().PrintFieldValueToString(
            a, field, k, &item);
        absl::StrAppend(&before, k ? ", " : "", item);
      }
      for (int k = 0; k < rb->FieldSize(b, field); ++k) {
        std::string item;
        google::protobuf::TextFormat::Printer().PrintFieldValueToString(
            b, field, k, &item);
        absl::StrAppend(&after, k ? ", " : "", item);
      }
      before = absl::StrCat("[", before, "]");
      after = absl::StrCat("[", after, "]");
    } else {
      before = FieldText(a, field);
      after = FieldText(b, field);
    }
    if (before != after) out.push_back({name, before, after});
  }
}

}  // namespace

std::optional<std::string> RunEvidence(const std::string& dir) {
  std::error_code error;
  for (const char* file : kRunFiles) {
    if (fs::exists(fs::path(dir) / file, error)) return file;
  }
  if (fs::exists(fs::path(dir) / "checkpoints" / "last.pt", error)) {
    return "checkpoints/last.pt";
  }
  if (fs::is_directory(dir, error)) {
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      if (IsEventFile(entry.path())) return entry.path().filename().string();
    }
  }
  return std::nullopt;
}

absl::Status ClearRun(const std::string& dir) {
  std::error_code error;
  for (const char* file : kRunFiles) fs::remove(fs::path(dir) / file, error);
  for (const char* folder : kRunFolders) {
    fs::remove_all(fs::path(dir) / folder, error);
    if (error) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot remove ", (fs::path(dir) / folder).string(), ": ",
          error.message()));
    }
  }
  if (fs::is_directory(dir, error)) {
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      if (IsEventFile(entry.path())) fs::remove(entry.path(), error);
    }
  }
  if (std::optional<std::string> left = RunEvidence(dir)) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot remove ", dir, "/", *left));
  }
  return absl::OkStatus();
}

int RemoveStaleTemporaries(const std::string& dir) {
  int removed = 0;
  std::error_code error;
  for (const fs::path folder :
       {fs::path(dir), fs::path(dir) / "checkpoints", fs::path(dir) / "samples",
        fs::path(dir) / "eval"}) {
    if (!fs::is_directory(folder, error)) continue;
    for (const auto& entry : fs::directory_iterator(folder, error)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file(error) &&
          name.find(".tmp.") != std::string::npos &&
          fs::remove(entry.path(), error)) {
        ++removed;
      }
    }
  }
  return removed;
}

absl::StatusOr<RunStart> PlanRunStart(const std::string& dir,
                                      const std::string& checkpoint_path,
                                      bool resume, bool overwrite, bool chief) {
  RunStart start;
  const std::string resume_from = checkpoint_path.empty()
                                      ? dir + "/checkpoints/last.pt"
                                      : checkpoint_path;
  std::error_code error;
  const bool resuming = resume && fs::exists(resume_from, error);
  if (resume && !checkpoint_path.empty() && !resuming) {
    return absl::NotFoundError(absl::StrCat(
        "training.checkpoint_path ", checkpoint_path, " does not exist"));
  }
  if (resuming) {
    start.checkpoint = resume_from;
    start.own_checkpoint =
        checkpoint_path.empty() ||
        fs::equivalent(fs::path(checkpoint_path).parent_path(),
                       dir + "/checkpoints", error);
  }
  if (!chief || start.own_checkpoint) return start;
  start.replaced_run = RunEvidence(dir);
  if (start.replaced_run && resume && checkpoint_path.empty()) {
    LOG(INFO) << dir << " has no checkpoint to resume: starting the run again";
  } else if (start.replaced_run && !overwrite) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " already holds a run (", *start.replaced_run,
                     "): --resume continues it, --overwrite replaces it"));
  }
  return start;
}

absl::StatusOr<std::unique_ptr<util::RunLock>> PrepareRunDirectory(
    const std::string& dir, const RunStart& start,
    const std::string& config_text) {
  absl::StatusOr<std::unique_ptr<util::RunLock>> lock =
      util::RunLock::Acquire(dir);
  if (!lock.ok()) return lock.status();
  if (start.replaced_run) {
    if (absl::Status s = ClearRun(dir); !s.ok()) return s;
    LOG(INFO) << "removed the earlier run in " << dir;
  }
  if (const int stale = RemoveStaleTemporaries(dir)) {
    LOG(INFO) << "removed " << stale
              << " temporary file(s) of interrupted writes";
  }
  if (absl::Status s =
          util::WriteFileAtomically(dir + "/config.textproto", config_text);
      !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("output directory: ", s.message()));
  }
  return lock;
}

std::string SamplePicturePath(const std::string& dir, int64_t step) {
  return absl::StrCat(dir, "/samples/step_", step, ".png");
}

int RemoveSamplePicturesAfter(const std::string& dir, int64_t step) {
  int removed = 0;
  std::error_code error;
  for (const auto& entry :
       fs::directory_iterator(fs::path(dir) / "samples", error)) {
    const std::string name = entry.path().filename().string();
    absl::string_view number = name;
    int64_t picture_step = 0;
    if (absl::ConsumePrefix(&number, "step_") &&
        absl::ConsumeSuffix(&number, ".png") &&
        absl::SimpleAtoi(number, &picture_step) && picture_step > step &&
        fs::remove(entry.path(), error)) {
      ++removed;
    }
  }
  return removed;
}

std::vector<ConfigChange> ConfigChanges(const proto::Experiment& saved,
                                        const proto::Experiment& resumed) {
  std::vector<ConfigChange> changes;
  Diff(saved, resumed, "", changes);
  return changes;
}

absl::Status CheckResumable(const proto::Experiment& saved,
                            const proto::Experiment& resumed,
                            const std::string& checkpoint) {
  for (const ConfigChange& change : ConfigChanges(saved, resumed)) {
    if (FixedOnResume(change.field)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot resume ", checkpoint, " with ", change.field, " = ",
          change.after, ": the run was trained with ", change.before,
          " (a new output directory starts a new run)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mdm::train
