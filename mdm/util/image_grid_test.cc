#include "mdm/util/image_grid.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <memory>
#include <string>

namespace mdm::util {
namespace {

// Writes 5 distinct 3x4 RGB images in rows of 2 and reads the PNG back.
TEST(ImageGridTest, TilesImagesAndRoundTripsThroughPng) {
  const at::Tensor images = at::arange(5 * 3 * 3 * 4, at::kLong)
                                .remainder(256)
                                .view({5, 3, 3, 4})
                                .to(at::kByte);
  const std::string path = ::testing::TempDir() + "/grid.png";
  ASSERT_TRUE(WritePngGrid(images, /*columns=*/2, path, /*padding=*/1).ok());
  int w = 0, h = 0, c = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> png(
      stbi_load(path.c_str(), &w, &h, &c, 0), stbi_image_free);
  ASSERT_NE(png, nullptr);
  EXPECT_EQ(w, 2 * (4 + 1) + 1);
  EXPECT_EQ(h, 3 * (3 + 1) + 1);
  EXPECT_EQ(c, 3);
  // Image 3 is in row 1, column 1: top-left at (1 + 4, 1 + 5).
  for (int ch = 0; ch < 3; ++ch) {
    EXPECT_EQ(png.get()[((1 + 4) * w + (1 + 5)) * 3 + ch],
              images[3][ch][0][0].item<uint8_t>());
  }
  // The padding and the empty sixth cell are black.
  EXPECT_EQ(png.get()[0], 0);
  EXPECT_EQ(png.get()[((1 + 8) * w + (1 + 5)) * 3], 0);
}

TEST(ImageGridTest, FloatImagesAreScaledAndBadShapesRejected) {
  const std::string path = ::testing::TempDir() + "/gray.png";
  ASSERT_TRUE(WritePngGrid(at::full({1, 1, 2, 2}, 0.5), 1, path, 0).ok());
  int w = 0, h = 0, c = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> png(
      stbi_load(path.c_str(), &w, &h, &c, 0), stbi_image_free);
  ASSERT_NE(png, nullptr);
  EXPECT_EQ(c, 1);
  EXPECT_EQ(png.get()[0], 128);
  EXPECT_FALSE(WritePngGrid(at::zeros({1, 2, 2, 2}), 1, path).ok());
}

}  // namespace
}  // namespace mdm::util
