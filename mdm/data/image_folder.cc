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
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "mdm/data/joblib.h"

namespace mdm::data {
namespace {

std::string Extension(const std::filesystem::path& path) {
  return absl::AsciiStrToLower(path.extension().string());
}

bool IsImageFile(const std::filesystem::path& path) {
  const std::string ext = Extension(path);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".npy";
}

// File order: by name, but the original's `<index>.npy` files by index
// (its loader reads index i from "<i>.npy").
bool FileOrder(const std::string& a, const std::string& b) {
  const std::filesystem::path pa(a), pb(b);
  uint64_t na = 0, nb = 0;
  if (Extension(pa) == ".npy" && Extension(pb) == ".npy" &&
      pa.parent_path() == pb.parent_path() &&
      absl::SimpleAtoi(pa.stem().string(), &na) &&
      absl::SimpleAtoi(pb.stem().string(), &nb)) {
    return na < nb;
  }
  return a < b;
}

std::vector<std::string> ListImages(const std::string& dir,
                                    std::error_code& error) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file() && IsImageFile(entry.path())) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end(), FileOrder);
  return files;
}

}  // namespace

absl::StatusOr<at::Tensor> DecodeImage(const std::string& path, int64_t size) {
  int width = 0, height = 0, channels = 0;
  // The [height, width, 3] pixels: a joblib array as it is, or an image
  // decoded by stb_image.
  at::Tensor array;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> decoded(
      nullptr, stbi_image_free);
  const unsigned char* pixels = nullptr;
  if (Extension(path) == ".npy") {
    absl::StatusOr<at::Tensor> read = ReadJoblibImage(path);
    if (!read.ok()) return read.status();
    array = *std::move(read);
    height = static_cast<int>(array.size(0));
    width = static_cast<int>(array.size(1));
    pixels = array.data_ptr<uint8_t>();
  } else {
    decoded.reset(stbi_load(path.c_str(), &width, &height, &channels, 3));
    if (decoded == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": cannot decode image (", stbi_failure_reason(), ")"));
    }
    pixels = decoded.get();
  }
  if (width == 0 || height == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty image"));
  }
  const int side = std::min(width, height);
  const int left = (width - side) / 2, top = (height - side) / 2;
  // host: data is read and kept on the host; batches move
  at::Tensor out = at::empty({size, size, 3}, at::kByte);
  const unsigned char* crop =
      pixels + (static_cast<size_t>(top) * width + left) * 3;
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
  // The original's layout: celeba/celeba-joblib/{train,validation} under
  // its data_dir, validation serving as the test split.
  std::string root = dir;
  std::string split_dir = dir + "/" + split;
  if (const std::string original = dir + "/celeba/celeba-joblib";
      std::filesystem::is_directory(original, error)) {
    root = original;
    split_dir = original + "/" + (split == "test" ? "validation" : "train");
  }
  if (std::filesystem::is_directory(split_dir, error)) {
    files = ListImages(split_dir, error);
  } else {
    const std::vector<std::string> all = ListImages(root, error);
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
                     ": expected .jpg, .jpeg, .png or joblib .npy files in ",
                     split_dir, " or in ", root));
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
