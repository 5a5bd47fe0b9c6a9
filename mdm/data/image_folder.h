// A folder of images for CelebA, decoded on demand, center-cropped to a
// square and resized to `size` x `size` RGB: JPEG/PNG files (stb_image), or
// the original's joblib-saved arrays `<index>.npy` (data/joblib.h). The
// split is data_dir/train and data_dir/test when those folders exist, or
// the original's data_dir/celeba/celeba-joblib/train and .../validation
// (as the test split); otherwise the files of data_dir with every 10th one
// (index % 10 == 9) held out as the test split. Files are in name order,
// the original's numbered .npy files in index order (0, 1, ..., 10).
#ifndef MDM_DATA_IMAGE_FOLDER_H_
#define MDM_DATA_IMAGE_FOLDER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/data/dataset.h"

namespace mdm::data {

// Decodes one image file (JPEG, PNG or joblib .npy) to uint8
// [3, size, size]: center crop, then resize. Errors name the file.
absl::StatusOr<at::Tensor> DecodeImage(const std::string& path, int64_t size);

class ImageFolder : public Dataset {
 public:
  // Lists the split's image files; NotFound when there are none.
  static absl::StatusOr<std::unique_ptr<ImageFolder>> Open(
      const std::string& dir, const std::string& split, int64_t size);

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  std::vector<int64_t> example_shape() const override {
    return {3, size_, size_};
  }
  bool is_8bit() const override { return true; }
  absl::StatusOr<Examples> Get(
      absl::Span<const int64_t> indices) const override;
  std::string name() const override { return name_; }

  const std::vector<std::string>& files() const { return files_; }
  void Truncate(int64_t limit);

 private:
  ImageFolder(std::string name, std::vector<std::string> files, int64_t size)
      : name_(std::move(name)), files_(std::move(files)), size_(size) {}

  std::string name_;
  std::vector<std::string> files_;
  int64_t size_;
};

}  // namespace mdm::data

#endif  // MDM_DATA_IMAGE_FOLDER_H_
