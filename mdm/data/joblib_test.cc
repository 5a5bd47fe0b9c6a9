#include "mdm/data/joblib.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace mdm::data {
namespace {

using ::testing::HasSubstr;

const std::string kDir = "testdata/joblib/";

// Files written by joblib 0.14.1 (no padding), 1.2.0 and 1.4.2 (16-byte
// alignment), with pickle protocol 2 and gzip-compressed: each holds the
// (6, 4, 3) image whose byte (r, c, k) is (r * 4 + c) * 3 + k.
TEST(JoblibTest, ReadsTheImageOfEveryVersion) {
  const at::Tensor expected =
      at::arange(6 * 4 * 3, at::kLong).to(at::kByte).reshape({6, 4, 3});
  for (const char* file :
       {"image_0.14.1.npy", "image_1.2.0.npy", "image_1.4.2.npy",
        "image_protocol2.npy", "image_gzip.npy"}) {
    absl::StatusOr<at::Tensor> image = ReadJoblibImage(kDir + file);
    ASSERT_TRUE(image.ok()) << file << ": " << image.status();
    EXPECT_EQ(image->sizes(), expected.sizes()) << file;
    EXPECT_TRUE(at::equal(*image, expected)) << file;
  }
}

TEST(JoblibTest, RefusesWhatIsNotAnRgbImage) {
  struct Case {
    const char* file;
    const char* message;
  };
  for (const Case& c : {
           Case{"float_image.npy", "holds a f4 array of shape (6, 4, 3)"},
           Case{"gray_image.npy", "holds a u1 array of shape (6, 4)"},
           Case{"truncated.npy", "truncated array data"},
           Case{"make_fixtures.py", "not a joblib file"},
           Case{"missing.npy", "missing.npy"},
       }) {
    absl::StatusOr<at::Tensor> image = ReadJoblibImage(kDir + c.file);
    ASSERT_FALSE(image.ok()) << c.file;
    EXPECT_THAT(image.status().message(), HasSubstr(c.message)) << c.file;
    EXPECT_THAT(image.status().message(), HasSubstr(c.file));
  }
}

}  // namespace
}  // namespace mdm::data
