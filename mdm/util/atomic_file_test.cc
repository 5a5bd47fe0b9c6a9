#include "mdm/util/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mdm::util {
namespace {

std::string Read(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream s;
  s << file.rdbuf();
  return s.str();
}

TEST(AtomicFileTest, ReplacesContentsAndLeavesNoTemporaries) {
  const std::string dir = ::testing::TempDir() + "/atomic/nested";
  const std::string path = dir + "/file.bin";
  ASSERT_TRUE(WriteFileAtomically(path, std::string("first\0bytes", 11)).ok());
  EXPECT_EQ(Read(path), std::string("first\0bytes", 11));
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  EXPECT_EQ(Read(path), "second");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(AtomicFileTest, UnwritableFolderIsAClearError) {
  const absl::Status status =
      WriteFileAtomically("/proc/definitely/not/here", "x");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("/proc/definitely/not"),
            std::string::npos);
}

}  // namespace
}  // namespace mdm::util
