// Writes TensorBoard event files: TFRecord framing (length, masked CRC-32C
// of the length, the serialized Event, masked CRC-32C of the data) of
// Event protos holding scalars, PNG images and histograms.
#ifndef MDM_UTIL_EVENT_WRITER_H_
#define MDM_UTIL_EVENT_WRITER_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mdm/util/tensorboard.pb.h"

namespace mdm::util {

class EventWriter {
 public:
  // Creates `dir`/events.out.tfevents.<seconds>.<host> and writes the
  // file-version event.
  static absl::StatusOr<std::unique_ptr<EventWriter>> Create(
      const std::string& dir);

  absl::Status AddScalar(absl::string_view tag, double value, int64_t step);
  absl::Status AddImage(absl::string_view tag, std::string png, int height,
                        int width, int channels, int64_t step);
  // A histogram of `values` in `buckets` equal-width buckets.
  absl::Status AddHistogram(absl::string_view tag,
                            const std::vector<double>& values, int64_t step,
                            int buckets = 30);
  // Text for TensorBoard's text plugin (rendered as Markdown).
  absl::Status AddText(absl::string_view tag, absl::string_view text,
                       int64_t step);

  const std::string& path() const { return path_; }

 private:
  explicit EventWriter(std::string path) : path_(std::move(path)) {}
  absl::Status Write(const tensorboard::Event& event);

  std::string path_;
  std::ofstream out_;
};

// The records of a TFRecord file, each CRC checked; DataLoss naming the
// offset of the first bad one.
absl::StatusOr<std::vector<std::string>> ReadRecords(const std::string& path);

}  // namespace mdm::util

#endif  // MDM_UTIL_EVENT_WRITER_H_
