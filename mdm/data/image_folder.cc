#include "mdm/data/image_folder.h"

#include <ATen/ATen.h>
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mdm::data {
namespace {

bool IsImageFile(const std::filesystem::path& path) {
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> ListImages(const std::string& dir,
                                    std::error_code& error) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file() && IsImageFile(entry.path())) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

absl::StatusOr<at::Tensor> DecodeImage(const std::string& path, int64_t size) {
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> pixels(
      stbi_load(path.c_str(), &width, &height, &channels, 3), stbi_image_free);
  if (pixels == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": cannot decode image (", stbi_failure_reason(), ")"));
  }
  const int side = std::min(width, height);
  const int left = (width - side) / 2, top = (height - side) / 2;
  // host: data is read and kept on the host; batches move
  at::Tensor out = at::empty({size, size, 3}, at::kByte);
  const unsigned char* crop =
      pixels.get() + (static_cast<size_t>(top) * width + left) * 3;
  if (side == size) {  // Already the right size: copy, do not filter.
    for (int64_t row = 0; row < size; ++row) {
      std::memcpy(out.data_ptr<uint8_t>() + row * size * 3,
                  crop + static_cast<size_t>(row) * width * 3, size * 3);
    }
    return out.permute({2, 0, 1}).contiguous();
  }
  if (!stbir_resize_uint8(crop, side, side, width * 3, out.data_ptr<uint8_t>(),
                          static_cast<int>(size), static_cast<int>(size), 0,
                          3)) {
    return absl::InternalError(absl::StrCat(path, ": resize failed"));
  }
  return out.permute({2, 0, 1}).contiguous();
}

absl::StatusOr<std::unique_ptr<ImageFolder>> ImageFolder::Open(
    const std::string& dir, const std::string& split, int64_t size) {
  if (split != "train" && split != "test") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown split '", split, "'"));
  }
  if (size <= 0)
    return absl::InvalidArgumentError("image size must be positive");
  std::error_code error;
  std::vector<std::string> files;
  const std::string split_dir = dir + "/" + split;
  if (std::filesystem::is_directory(split_dir, error)) {
    files = ListImages(split_dir, error);
  } else {
    const std::vector<std::string> all = ListImages(dir, error);
    for (size_t i = 0; i < all.size(); ++i) {
      if ((i % 10 == 9) == (split == "test")) files.push_back(all[i]);
    }
  }
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("cannot list image folder ", dir, ": ", error.message()));
  }
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no images for the ", split, " split in ", dir,
                     ": expected .jpg, .jpeg or .png files in ", dir, "/",
                     split, " or in ", dir));
  }
  return std::unique_ptr<ImageFolder>(new ImageFolder(
      absl::StrCat("image folder ", dir, " ", split), std::move(files), size));
}

absl::StatusOr<Examples> ImageFolder::Get(
    absl::Span<const int64_t> indices) const {
  std::vector<at::Tensor> images;
  for (int64_t i : indices) {
    if (i < 0 || i >= size()) {
      return absl::OutOfRangeError(absl::StrCat(
          name_, ": example index ", i, " is outside [0, ", size(), ")"));
    }
    absl::StatusOr<at::Tensor> image = DecodeImage(files_[i], size_);
    if (!image.ok()) return image.status();
    images.push_back(*std::move(image));
  }
  const int64_t n = static_cast<int64_t>(indices.size());
  if (n == 0) {
    // host: data is read and kept on the host; batches move
    return Examples{.x = at::empty({0, 3, size_, size_}, at::kFloat),
                    // host: data is read and kept on the host; batches move
                    .labels = at::empty({0}, at::kLong)};
  }
  return Examples{.x = at::stack(images).to(at::kFloat).div_(255.0f),
                  // host: data is read and kept on the host; batches move
                  .labels = at::full({n}, -1, at::kLong)};
}

void ImageFolder::Truncate(int64_t limit) {
  if (limit > 0 && limit < size()) files_.resize(limit);
}

}  // namespace mdm::data
