#include "mdm/util/zip_check.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "mdm/util/state_dict.h"

namespace mdm::util {
namespace {

std::string Write(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A torch.save file of one tensor of 1.0f, and the offset of a byte of its
// data (the first 0x3f80 0000 float).
std::string SavedOnes(size_t* data_byte) {
  const std::string bytes =
      SerializeTensorDict({{"w", at::ones({4096}, at::kFloat)}});
  const std::string one("\x00\x00\x80\x3f", 4);
  *data_byte = bytes.find(one + one + one + one) + 2;
  return bytes;
}

TEST(ZipCheckTest, AcceptsAnIntactArchive) {
  size_t data_byte = 0;
  const std::string path = Write("intact.pt", SavedOnes(&data_byte));
  EXPECT_TRUE(LooksLikeZip(path));
  EXPECT_TRUE(VerifyZipChecksums(path).ok()) << VerifyZipChecksums(path);
}

// Four flipped bytes in a tensor's data (which the archive's structure
// never looks at) fail that entry's CRC-32.
TEST(ZipCheckTest, FlippedDataFailsItsCrc) {
  size_t data_byte = 0;
  std::string bytes = SavedOnes(&data_byte);
  ASSERT_NE(data_byte, std::string::npos + 2);
  for (int i = 0; i < 4; ++i) bytes[data_byte + i] ^= 0x5a;
  const std::string path = Write("flipped.pt", bytes);
  const absl::Status status = VerifyZipChecksums(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find(path + " is corrupt: entry "),
            std::string::npos)
      << status;
  EXPECT_NE(status.message().find("data/0"), std::string::npos) << status;
}

TEST(ZipCheckTest, TruncatedAndMissingFilesAreNamed) {
  size_t data_byte = 0;
  const std::string bytes = SavedOnes(&data_byte);
  const std::string path =
      Write("truncated.pt", bytes.substr(0, bytes.size() / 2));
  const absl::Status status = VerifyZipChecksums(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find(path + " is corrupt"), std::string::npos);
  EXPECT_EQ(VerifyZipChecksums("/no/such/file.pt").code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(LooksLikeZip(Write("text.pt", "not a zip")));
}

}  // namespace
}  // namespace mdm::util
