#include "mdm/sampling/picture.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <cmath>
#include <memory>

namespace mdm::sampling {
namespace {

// The decoded grayscale pixels of a PNG.
struct Decoded {
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> pixels{
      nullptr, stbi_image_free};
  int width = 0, height = 0, channels = 0;
  int At(int x, int y) const { return pixels.get()[y * width + x]; }
};

Decoded Decode(const util::EncodedImage& image) {
  Decoded d;
  d.pixels.reset(stbi_load_from_memory(
      reinterpret_cast<const unsigned char*>(image.png.data()),
      static_cast<int>(image.png.size()), &d.width, &d.height, &d.channels,
      0));
  return d;
}

// 64 Fashion-MNIST-sized samples: 8 x 8 cells of 84 pixels (28 x 3) with
// 2-pixel gray borders; other sides take the least factor that reaches 64.
TEST(PictureTest, ImagesAreEnlargedToAtLeast64PixelsWithGrayBorders) {
  const at::Tensor images = at::rand({64, 1, 28, 28});
  absl::StatusOr<util::EncodedImage> png = DrawImages(images);
  ASSERT_TRUE(png.ok()) << png.status();
  const Decoded d = Decode(*png);
  ASSERT_NE(d.pixels, nullptr);
  EXPECT_EQ(d.width, 8 * (84 + 2) + 2);
  EXPECT_EQ(d.height, 8 * (84 + 2) + 2);
  EXPECT_EQ(d.At(0, 0), 128);
  EXPECT_EQ(d.At(2 + 84, 40), 128);  // Between the first two cells.
  // Sample 9 (row 1, column 1), its pixel (r 5, c 7): a 3 x 3 block.
  const int expected =
      static_cast<int>(std::lround(images[9][0][5][7].item<float>() * 255));
  const int left = 2 + 86 + 7 * 3, top = 2 + 86 + 5 * 3;
  for (int dy = 0; dy < 3; ++dy) {
    for (int dx = 0; dx < 3; ++dx) {
      EXPECT_EQ(d.At(left + dx, top + dy), expected);
    }
  }
  for (const auto& [side, cell] :
       {std::pair{17, 68}, std::pair{32, 64}, std::pair{64, 64},
        std::pair{100, 100}}) {
    png = DrawImages(at::rand({1, 3, side, side}));
    ASSERT_TRUE(png.ok());
    EXPECT_EQ(png->width, cell + 4) << side;
    EXPECT_EQ(png->channels, 3);
  }
  EXPECT_FALSE(DrawImages(at::rand({0, 1, 28, 28})).ok());
}

// 2-D samples: 512 x 512 in a 2-pixel black frame; a cluster at (1, 1)
// darkens its bin, 4 x 4 pixels at the place the extent puts it; gray
// axes through the origin; black ticks at whole coordinates.
TEST(PictureTest, TwoDimensionalSamplesAreA512PixelHistogramWithAxes) {
  proto::DataConfig data;
  data.set_is_image(false);
  data.set_vector_dim(2);
  const at::Tensor points = at::tensor({1.03, 0.97}).repeat({50, 1});
  absl::StatusOr<util::EncodedImage> png = DrawSamples(points, data);
  ASSERT_TRUE(png.ok()) << png.status();
  const Decoded d = Decode(*png);
  ASSERT_NE(d.pixels, nullptr);
  EXPECT_EQ(d.width, 516);
  EXPECT_EQ(d.height, 516);
  EXPECT_EQ(d.At(0, 0), 0);
  EXPECT_EQ(d.At(515, 300), 0);
  // x 1.03 -> bin 80, y 0.97 -> row 48 (y up): pixels from 2 + 4 x bin.
  EXPECT_EQ(d.At(2 + 320 + 1, 2 + 192 + 2), 0);
  EXPECT_EQ(d.At(2 + 320 + 1, 2 + 200), 255);  // The bin below: empty.
  EXPECT_EQ(d.At(2 + 256, 2 + 100), 191);      // The y axis: 0.75 gray.
  EXPECT_EQ(d.At(2 + 100, 2 + 256), 191);      // The x axis.
  EXPECT_EQ(d.At(2 + 64, 2 + 5), 0);           // The tick at x = -3.
  EXPECT_EQ(d.At(2 + 64, 2 + 20), 255);        // Ticks are 12 pixels.
  EXPECT_EQ(PictureLegend(data),
            "2-D histogram of [-4, 4] x [-4, 4], axes through 0, ticks "
            "every 1");
  data.set_is_image(true);
  EXPECT_EQ(PictureLegend(data), "");
}

}  // namespace
}  // namespace mdm::sampling
