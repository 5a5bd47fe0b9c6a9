#include "mdm/proto/text_format.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mdm::proto {
namespace {

// Keeps the first parse error, 1-based, behind a caller-chosen prefix.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string prefix)
      : prefix_(std::move(prefix)) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    error_ =
        absl::StrCat(prefix_, ":", line + 1, ":", column + 1, ": ", message);
  }

  const std::string& error() const { return error_; }

 private:
  std::string prefix_;
  std::string error_;
};

}  // namespace

absl::Status ParseTextFormat(absl::string_view text,
                             absl::string_view source_name,
                             google::protobuf::Message& message, bool merge) {
  FirstErrorCollector errors{std::string(source_name)};
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  const bool parsed = merge
                          ? parser.MergeFromString(std::string(text), &message)
                          : parser.ParseFromString(std::string(text), &message);
  if (!parsed) {
    return absl::InvalidArgumentError(
        errors.error().empty() ? absl::StrCat(source_name, ": cannot parse")
                               : errors.error());
  }
  return absl::OkStatus();
}

}  // namespace mdm::proto
