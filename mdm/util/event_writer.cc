#include "mdm/util/event_writer.h"

#include <cerrno>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/crc32c.h"

namespace mdm::util {
namespace {

double Now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string LittleEndian(uint64_t value, int bytes) {
  std::string out(bytes, '\0');
  for (int i = 0; i < bytes; ++i)
    out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

uint64_t ReadLittleEndian(const char* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventWriter>> EventWriter::Create(
    const std::string& dir) {
  if (absl::Status s = CreateFolder(dir); !s.ok()) return s;
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  const std::string path = absl::StrCat(dir, "/events.out.tfevents.",
                                        static_cast<int64_t>(Now()), ".", host);
  std::unique_ptr<EventWriter> writer(new EventWriter(path));
  writer->out_.open(path, std::ios::binary | std::ios::app);
  if (!writer->out_)
    return absl::UnavailableError(absl::StrCat("cannot create ", path));
  tensorboard::Event version;
  version.set_wall_time(Now());
  version.set_file_version("brain.Event:2");
  if (absl::Status s = writer->Write(version); !s.ok()) return s;
  return writer;
}

absl::Status EventWriter::Write(const tensorboard::Event& event) {
  const std::string data = event.SerializeAsString();
  const std::string length = LittleEndian(data.size(), 8);
  out_ << length << LittleEndian(MaskedCrc32c(length), 4) << data
       << LittleEndian(MaskedCrc32c(data), 4);
  errno = 0;
  out_.flush();
  if (!out_) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path_, ": ",
                     errno != 0 ? std::strerror(errno) : "stream error"));
  }
  return absl::OkStatus();
}

absl::Status EventWriter::AddText(absl::string_view tag,
                                  absl::string_view text, int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(Now());
  event.set_step(step);
  tensorboard::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(std::string(tag));
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  tensorboard::TensorProto* tensor = v->mutable_tensor();
  tensor->set_dtype(7);  // DT_STRING.
  tensor->mutable_tensor_shape();
  tensor->add_string_val(std::string(text));
  return Write(event);
}

absl::Status EventWriter::AddScalar(absl::string_view tag, double value,
                                    int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(Now());
  event.set_step(step);
  tensorboard::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(std::string(tag));
  v->set_simple_value(static_cast<float>(value));
  return Write(event);
}

absl::Status EventWriter::AddImage(absl::string_view tag, std::string png,
                                   int height, int width, int channels,
                                   int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(Now());
  event.set_step(step);
  tensorboard::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(std::string(tag));
  tensorboard::Summary::Image* image = v->mutable_image();
  image->set_height(height);
  image->set_width(width);
  image->set_colorspace(channels);
  image->set_encoded_image_string(std::move(png));
  return Write(event);
}

absl::Status EventWriter::AddHistogram(absl::string_view tag,
                                       const std::vector<double>& values,
                                       int64_t step, int buckets) {
  if (values.empty() || buckets < 1) {
    return absl::InvalidArgumentError("a histogram needs values and buckets");
  }
  tensorboard::Event event;
  event.set_wall_time(Now());
  event.set_step(step);
  tensorboard::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(std::string(tag));
  tensorboard::HistogramProto* h = v->mutable_histo();
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const double min = *lo, max = *hi;
  const double width = max > min ? (max - min) / buckets : 1.0;
  std::vector<double> counts(buckets, 0.0);
  double sum = 0, sum_squares = 0;
  for (double x : values) {
    const int b = std::min(buckets - 1, static_cast<int>((x - min) / width));
    counts[b] += 1;
    sum += x;
    sum_squares += x * x;
  }
  h->set_min(min);
  h->set_max(max);
  h->set_num(static_cast<double>(values.size()));
  h->set_sum(sum);
  h->set_sum_squares(sum_squares);
  for (int b = 0; b < buckets; ++b) {
    h->add_bucket_limit(min + (b + 1) * width);
    h->add_bucket(counts[b]);
  }
  return Write(event);
}

absl::StatusOr<std::vector<std::string>> ReadRecords(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string bytes = buffer.str();
  std::vector<std::string> records;
  size_t offset = 0;
  while (offset < bytes.size()) {
    if (bytes.size() - offset < 12) {
      return absl::DataLossError(
          absl::StrCat(path, ": truncated record header at offset ", offset));
    }
    const uint64_t length = ReadLittleEndian(bytes.data() + offset, 8);
    const uint32_t length_crc = ReadLittleEndian(bytes.data() + offset + 8, 4);
    if (length_crc !=
        MaskedCrc32c(absl::string_view(bytes.data() + offset, 8))) {
      return absl::DataLossError(
          absl::StrCat(path, ": bad length CRC at offset ", offset));
    }
    if (bytes.size() - offset - 12 < length + 4) {
      return absl::DataLossError(
          absl::StrCat(path, ": truncated record at offset ", offset));
    }
    const absl::string_view data(bytes.data() + offset + 12, length);
    const uint32_t data_crc =
        ReadLittleEndian(bytes.data() + offset + 12 + length, 4);
    if (data_crc != MaskedCrc32c(data)) {
      return absl::DataLossError(
          absl::StrCat(path, ": bad data CRC at offset ", offset));
    }
    records.emplace_back(data);
    offset += 12 + length + 4;
  }
  return records;
}

}  // namespace mdm::util
