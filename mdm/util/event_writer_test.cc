#include "mdm/util/event_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "mdm/util/crc32c.h"
#include "mdm/util/tensorboard.pb.h"

namespace mdm::util {
namespace {

TEST(Crc32cTest, StandardCheckValues) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32cExtend(Crc32c("1234"), "56789"), 0xe3069283u);
  // RFC 3720 B.4: 32 bytes of zeros.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8a9136aau);
  const uint32_t crc = Crc32c("123456789");
  EXPECT_EQ(MaskedCrc32c("123456789"),
            ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

// Writes every kind of summary, then reads the file back record by record,
// checking every CRC, and parses each Event.
TEST(EventWriterTest, RecordsReadBackWithValidCrcs) {
  const std::string dir = ::testing::TempDir() + "/events";
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<EventWriter>> writer =
      EventWriter::Create(dir);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->AddScalar("train/loss", 1.5, 10).ok());
  ASSERT_TRUE((*writer)->AddImage("samples", "\x89PNG fake", 4, 6, 1, 20).ok());
  ASSERT_TRUE((*writer)->AddHistogram("Q", {-1.0, 0.0, 0.5, 1.0}, 30, 4).ok());
  ASSERT_TRUE((*writer)->AddText("run/project", "mnist sweep", 0).ok());
  absl::StatusOr<std::vector<std::string>> records =
      ReadRecords((*writer)->path());
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 5u);
  tensorboard::Event event;
  ASSERT_TRUE(event.ParseFromString((*records)[0]));
  EXPECT_EQ(event.file_version(), "brain.Event:2");
  ASSERT_TRUE(event.ParseFromString((*records)[1]));
  EXPECT_EQ(event.step(), 10);
  EXPECT_EQ(event.summary().value(0).tag(), "train/loss");
  EXPECT_FLOAT_EQ(event.summary().value(0).simple_value(), 1.5f);
  ASSERT_TRUE(event.ParseFromString((*records)[2]));
  EXPECT_EQ(event.summary().value(0).image().width(), 6);
  EXPECT_EQ(event.summary().value(0).image().encoded_image_string(),
            "\x89PNG fake");
  ASSERT_TRUE(event.ParseFromString((*records)[3]));
  const tensorboard::HistogramProto& h = event.summary().value(0).histo();
  EXPECT_EQ(h.num(), 4);
  EXPECT_EQ(h.min(), -1.0);
  EXPECT_EQ(h.max(), 1.0);
  EXPECT_EQ(h.sum(), 0.5);
  ASSERT_EQ(h.bucket_size(), 4);
  EXPECT_EQ(h.bucket(0) + h.bucket(1) + h.bucket(2) + h.bucket(3), 4);
  // Text: TensorBoard's text plugin reads a scalar DT_STRING tensor under
  // Summary.Value field 8 with plugin metadata under field 9.
  ASSERT_TRUE(event.ParseFromString((*records)[4]));
  const tensorboard::Summary::Value& text = event.summary().value(0);
  EXPECT_EQ(text.tag(), "run/project");
  EXPECT_EQ(text.metadata().plugin_data().plugin_name(), "text");
  EXPECT_EQ(text.tensor().dtype(), 7);
  ASSERT_EQ(text.tensor().string_val_size(), 1);
  EXPECT_EQ(text.tensor().string_val(0), "mnist sweep");
  const auto* value = tensorboard::Summary::Value::descriptor();
  EXPECT_EQ(value->FindFieldByName("tensor")->number(), 8);
  EXPECT_EQ(value->FindFieldByName("metadata")->number(), 9);

  // A flipped byte is caught by the CRCs.
  std::string bytes;
  {
    std::ifstream in((*writer)->path(), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() - 10] ^= 0x40;
  const std::string corrupt = dir + "/corrupt";
  std::ofstream(corrupt, std::ios::binary) << bytes;
  absl::StatusOr<std::vector<std::string>> bad = ReadRecords(corrupt);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("bad data CRC"),
            std::string::npos);
}

}  // namespace
}  // namespace mdm::util
