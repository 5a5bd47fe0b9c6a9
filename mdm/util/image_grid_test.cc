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
  ASSERT_TRUE(WritePngGrid(images, {.columns = 2, .padding = 1}, path).ok());
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
  ASSERT_TRUE(WritePngGrid(at::full({1, 1, 2, 2}, 0.5), {.padding = 0}, path)
                  .ok());
  int w = 0, h = 0, c = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> png(
      stbi_load(path.c_str(), &w, &h, &c, 0), stbi_image_free);
  ASSERT_NE(png, nullptr);
  EXPECT_EQ(c, 1);
  EXPECT_EQ(png.get()[0], 128);
  EXPECT_FALSE(WritePngGrid(at::zeros({1, 2, 2, 2}), {}, path).ok());
  EXPECT_FALSE(WritePngGrid(at::zeros({1, 1, 2, 2}), {.scale = 0}, path).ok());
}

// Scaled cells: every pixel a scale x scale block; border and empty cells
// in the border's gray.
TEST(ImageGridTest, ScalesByWholeFactorsWithAGrayBorder) {
  // Two 2x2 images: image i's pixel (r, c) is 10 i + 2 r + c.
  const at::Tensor images =
      (at::arange(8, at::kByte).view({2, 1, 2, 2}) +
       at::tensor({0, 6}, at::kByte).view({2, 1, 1, 1}))
          .to(at::kByte);
  absl::StatusOr<EncodedImage> png =
      EncodePngGrid(images, {.columns = 2, .padding = 1, .scale = 3,
                             .border = 128});
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->width, 2 * (6 + 1) + 1);
  EXPECT_EQ(png->height, 6 + 2);
  int w = 0, h = 0, c = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> pixels(
      stbi_load_from_memory(
          reinterpret_cast<const unsigned char*>(png->png.data()),
          static_cast<int>(png->png.size()), &w, &h, &c, 0),
      stbi_image_free);
  ASSERT_NE(pixels, nullptr);
  auto at_xy = [&](int x, int y) { return int{pixels.get()[y * w + x]}; };
  for (int y = 0; y < 6; ++y) {
    for (int x = 0; x < 6; ++x) {
      // Image 0 at (1, 1); image 1 at (8, 1).
      EXPECT_EQ(at_xy(1 + x, 1 + y), 2 * (y / 3) + x / 3) << x << "," << y;
      EXPECT_EQ(at_xy(8 + x, 1 + y), 10 + 2 * (y / 3) + x / 3);
    }
  }
  EXPECT_EQ(at_xy(0, 0), 128);
  EXPECT_EQ(at_xy(7, 3), 128);  // Between the cells.
}

}  // namespace
}  // namespace mdm::util
