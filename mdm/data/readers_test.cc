// Each reader against the generated files in testdata/data (known pixel
// values and labels, testdata_pattern.h), real Fashion-MNIST where Debian's
// package is installed, and the factory's checks.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mdm/data/cifar.h"
#include "mdm/data/factory.h"
#include "mdm/data/idx.h"
#include "mdm/data/image_folder.h"
#include "mdm/data/npz.h"
#include "mdm/data/testdata_pattern.h"
#include "mdm/data/toy.h"
#include "mdm/testing/textproto.h"

namespace mdm::data {
namespace {

using ::mdm::testing::ParseTextProtoOrDie;
using ::testing::HasSubstr;
namespace td = testdata;

const std::string kData = "testdata/data";

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// Every pixel of `images` (uint8 [N, C, H, W]) equals the pattern.
void ExpectPattern(const at::Tensor& images, int64_t salt, int64_t first = 0) {
  const at::Tensor cpu = images.contiguous();
  const uint8_t* p = cpu.data_ptr<uint8_t>();
  for (int64_t n = 0; n < cpu.size(0); ++n)
    for (int64_t c = 0; c < cpu.size(1); ++c)
      for (int64_t h = 0; h < cpu.size(2); ++h)
        for (int64_t w = 0; w < cpu.size(3); ++w) {
          ASSERT_EQ(*p++, td::Pixel(salt, first + n, c, h, w))
              << "example " << n << " at " << c << "," << h << "," << w;
        }
}

TEST(IdxTest, ReadsGzippedAndPlainFiles) {
  absl::StatusOr<InMemoryImages> train =
      LoadIdxImages(kData + "/mnist", "train", "mnist");
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ(train->images().sizes(),
            at::IntArrayRef({td::kMnistTrainSize, 1, 28, 28}));
  ExpectPattern(train->images(), td::kMnistTrain);
  for (int64_t n = 0; n < td::kMnistTrainSize; ++n) {
    EXPECT_EQ(train->labels()[n].item<int64_t>(), td::Label(n));
  }
  absl::StatusOr<InMemoryImages> test =
      LoadIdxImages(kData + "/mnist", "test", "mnist");
  ASSERT_TRUE(test.ok()) << test.status();
  ExpectPattern(test->images(), td::kMnistTest);
  // Values come out in [0, 1] as k / 255.
  const int64_t index = 1;
  absl::StatusOr<Examples> examples = test->Get({&index, 1});
  ASSERT_TRUE(examples.ok());
  EXPECT_FLOAT_EQ(examples->x[0][0][2][3].item<float>(),
                  td::Pixel(td::kMnistTest, 1, 0, 2, 3) / 255.0f);
}

TEST(IdxTest, BadFilesGiveClearErrors) {
  EXPECT_THAT(
      Message(ParseIdx(std::string("\x00\x00\x09\x01", 4), "f").status()),
      HasSubstr("f: bad IDX magic at offset 0"));
  const std::string header("\x00\x00\x08\x01\x00\x00\x00\x05", 8);
  EXPECT_THAT(
      Message(ParseIdx(header + "abc", "f").status()),
      HasSubstr(
          "declares 5 values after offset 8 but the file holds 3 (truncated)"));
  EXPECT_THAT(Message(ParseIdx(header + "abcdefg", "f").status()),
              HasSubstr("(trailing bytes)"));
  EXPECT_TRUE(ParseIdx(header + "abcde", "f").ok());
  absl::StatusOr<InMemoryImages> missing =
      LoadIdxImages("/nonexistent", "train", "mnist");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(
      Message(missing.status()),
      HasSubstr(
          "missing train-images-idx3-ubyte in /nonexistent: expected one of "
          "train-images-idx3-ubyte.gz, train-images-idx3-ubyte"));
}

// A fresh folder holding the test set's labels, for an images file of the
// test's own making.
std::string FolderWithLabels(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kData + "/mnist/t10k-labels-idx1-ubyte",
                             dir + "/t10k-labels-idx1-ubyte");
  return dir;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// While in scope, the process may map only `extra` more bytes: an
// allocation beyond that fails instead of being granted lazily.
class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(uint64_t extra) {
    EXPECT_EQ(getrlimit(RLIMIT_AS, &saved_), 0);
    uint64_t mapped_kib = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmSize:", 0) == 0)
        mapped_kib = std::stoull(line.substr(7));
    }
    rlimit limit = saved_;
    limit.rlim_cur =
        std::min<rlim_t>(mapped_kib * 1024 + extra, saved_.rlim_max);
    // Without the limit an oversized allocation would be granted lazily and
    // the test would prove nothing.
    EXPECT_GT(mapped_kib, 0u);
    EXPECT_EQ(setrlimit(RLIMIT_AS, &limit), 0) << std::strerror(errno);
  }
  ~AddressSpaceLimit() { setrlimit(RLIMIT_AS, &saved_); }

 private:
  rlimit saved_;
};

// Files are streamed into their tensors: gzip data that ends early or is
// corrupt is an error naming the file, and a header claiming more values
// than the file can hold is rejected before anything of its size is
// allocated.
TEST(IdxTest, StreamsFilesAndRejectsBadOnes) {
  const std::string gz = ReadFile(kData + "/mnist/t10k-images-idx3-ubyte.gz");
  std::string dir = FolderWithLabels("idx_truncated_gzip");
  WriteFile(dir + "/t10k-images-idx3-ubyte.gz", gz.substr(0, gz.size() - 40));
  absl::StatusOr<InMemoryImages> images = LoadIdxImages(dir, "test", "mnist");
  ASSERT_FALSE(images.ok());
  EXPECT_THAT(Message(images.status()),
              HasSubstr("t10k-images-idx3-ubyte.gz: corrupt or truncated "
                        "gzip data (unexpected end of file)"));

  dir = FolderWithLabels("idx_corrupt_gzip");
  std::string corrupt = gz;
  for (size_t i = 20; i < 60; ++i) corrupt[i] = static_cast<char>(0xff);
  WriteFile(dir + "/t10k-images-idx3-ubyte.gz", corrupt);
  images = LoadIdxImages(dir, "test", "mnist");
  ASSERT_FALSE(images.ok());
  EXPECT_THAT(Message(images.status()),
              HasSubstr("t10k-images-idx3-ubyte.gz: corrupt or truncated"));

  // 2^28 x 8 x 8 images (16 GiB) declared by a 26-byte file.
  dir = FolderWithLabels("idx_huge_claim");
  WriteFile(dir + "/t10k-images-idx3-ubyte",
            std::string("\x00\x00\x08\x03\x10\x00\x00\x00\x00\x00\x00"
                        "\x08\x00\x00\x00\x08",
                        16) +
                "0123456789");
  {
    const AddressSpaceLimit limit(uint64_t{1} << 30);
    images = LoadIdxImages(dir, "test", "mnist");
  }
  ASSERT_FALSE(images.ok());
  EXPECT_THAT(Message(images.status()),
              HasSubstr("declares 17179869184 values after offset 16 but the "
                        "file holds 10 (truncated)"));

  // The same bytes, whole and uncompressed, read as the gzipped original.
  dir = FolderWithLabels("idx_plain");
  absl::StatusOr<InMemoryImages> reference =
      LoadIdxImages(kData + "/mnist", "test", "mnist");
  ASSERT_TRUE(reference.ok()) << reference.status();
  const at::Tensor pixels = reference->images().contiguous();
  std::string plain("\x00\x00\x08\x03", 4);
  for (const int64_t d : {pixels.size(0), pixels.size(2), pixels.size(3)}) {
    for (int shift = 24; shift >= 0; shift -= 8)
      plain += static_cast<char>(d >> shift);
  }
  plain.append(reinterpret_cast<const char*>(pixels.data_ptr<uint8_t>()),
               pixels.numel());
  WriteFile(dir + "/t10k-images-idx3-ubyte", plain);
  images = LoadIdxImages(dir, "test", "mnist");
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_TRUE(at::equal(images->images(), reference->images()));
  WriteFile(dir + "/t10k-images-idx3-ubyte", plain + "x");
  images = LoadIdxImages(dir, "test", "mnist");
  ASSERT_FALSE(images.ok());
  EXPECT_THAT(Message(images.status()), HasSubstr("(trailing bytes)"));
}

TEST(IdxTest, TruncationHoldsOnlyTheExamplesKept) {
  absl::StatusOr<InMemoryImages> train =
      LoadIdxImages(kData + "/mnist", "train", "mnist");
  ASSERT_TRUE(train.ok()) << train.status();
  const InMemoryImages first = Truncate(*train, 2);
  ASSERT_EQ(first.size(), 2);
  EXPECT_TRUE(at::equal(first.images(), train->images().narrow(0, 0, 2)));
  EXPECT_EQ(first.images().storage().nbytes(), 2 * 28 * 28);
  EXPECT_EQ(first.labels().storage().nbytes(), 2 * sizeof(int64_t));
}

TEST(CifarTest, ReadsTheBatchesInOrder) {
  absl::StatusOr<InMemoryImages> train = LoadCifar10(kData + "/cifar", "train");
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ(train->images().sizes(),
            at::IntArrayRef({5 * td::kCifarPerBatch, 3, 32, 32}));
  ExpectPattern(train->images(), td::kCifar);
  EXPECT_EQ(train->labels()[7].item<int64_t>(), td::Label(7));
  absl::StatusOr<InMemoryImages> test = LoadCifar10(kData + "/cifar", "test");
  ASSERT_TRUE(test.ok());
  ExpectPattern(test->images(), td::kCifar, 100);
}

TEST(CifarTest, AcceptsTheDistributionsSubfolder) {
  const std::string dir = ::testing::TempDir() + "/cifar_nested";
  std::filesystem::create_directories(dir + "/cifar-10-batches-bin");
  for (const auto& entry :
       std::filesystem::directory_iterator(kData + "/cifar")) {
    std::filesystem::copy_file(
        entry.path(),
        dir + "/cifar-10-batches-bin/" + entry.path().filename().string(),
        std::filesystem::copy_options::overwrite_existing);
  }
  EXPECT_TRUE(LoadCifar10(dir, "test").ok());
}

TEST(CifarTest, BadFilesGiveClearErrors) {
  EXPECT_THAT(
      Message(ParseCifarBatch(std::string(3073 + 10, '\0'), "b.bin").status()),
      HasSubstr("b.bin: 3083 bytes is not a whole number of 3073-byte CIFAR-10 "
                "records (the last record, at offset 3073, is truncated)"));
  std::string bad_label(3073, '\0');
  bad_label[0] = 12;
  EXPECT_THAT(Message(ParseCifarBatch(bad_label, "b.bin").status()),
              HasSubstr("record 0 at offset 0 has label 12"));
  EXPECT_THAT(Message(LoadCifar10("/nonexistent", "train").status()),
              HasSubstr("missing CIFAR-10 file /nonexistent/data_batch_1.bin"));
}

TEST(NpzTest, ReadsStoredAndDeflatedArchives) {
  absl::StatusOr<InMemoryImages> train =
      LoadImagenet32(kData + "/imagenet32", "train");
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ(train->images().size(0), td::kImagenetBatch1 + td::kImagenetBatch2);
  ExpectPattern(train->images(), td::kImagenet);
  // Stored 1-based; read 0-based.
  EXPECT_EQ(train->labels()[4].item<int64_t>(), 4);
  absl::StatusOr<InMemoryImages> val =
      LoadImagenet32(kData + "/imagenet32", "test");
  ASSERT_TRUE(val.ok());
  ExpectPattern(val->images(), td::kImagenet, 50);
}

TEST(NpzTest, ReadsTheOriginalsFileNamesAndRefusesBothSets) {
  // The original's ImageNet module names its files imagenet_*_jan182023.
  const std::string dir = ::testing::TempDir() + "/imagenet_original_names";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string from = kData + "/imagenet32/";
  std::filesystem::copy_file(from + "train_data_batch_1.npz",
                             dir + "/imagenet_train_jan182023_1.npz");
  std::filesystem::copy_file(from + "train_data_batch_2.npz",
                             dir + "/imagenet_train_jan182023_2.npz");
  std::filesystem::copy_file(from + "val_data.npz",
                             dir + "/imagenet_val_jan182023.npz");
  absl::StatusOr<InMemoryImages> train = LoadImagenet32(dir, "train");
  ASSERT_TRUE(train.ok()) << train.status();
  absl::StatusOr<InMemoryImages> reference =
      LoadImagenet32(kData + "/imagenet32", "train");
  ASSERT_TRUE(reference.ok());
  EXPECT_TRUE(train->images().equal(reference->images()));
  EXPECT_TRUE(train->labels().equal(reference->labels()));
  absl::StatusOr<InMemoryImages> test = LoadImagenet32(dir, "test");
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_TRUE(test->images().equal(
      LoadImagenet32(kData + "/imagenet32", "test")->images()));

  std::filesystem::copy_file(from + "train_data_batch_1.npz",
                             dir + "/train_data_batch_1.npz");
  EXPECT_THAT(Message(LoadImagenet32(dir, "train").status()),
              HasSubstr("under both names"));
}

TEST(NpzTest, ParsesNpyHeadersAndRejectsBadOnes) {
  auto npy = [](const std::string& header, const std::string& data) {
    std::string h = header;
    while ((10 + h.size() + 1) % 16 != 0) h += ' ';
    h += '\n';
    std::string b = std::string("\x93NUMPY\x01\x00", 8);
    b += static_cast<char>(h.size());
    b += '\0';
    return b + h + data;
  };
  absl::StatusOr<at::Tensor> f =
      ParseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                   std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8)),
               "a");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->scalar_type(), at::kFloat);
  EXPECT_EQ(f->sizes(), at::IntArrayRef({2}));
  EXPECT_FLOAT_EQ(f->select(0, 1).item<float>(), 2.0f);
  // Fortran order: stored column-major.
  absl::StatusOr<at::Tensor> fortran =
      ParseNpy(npy("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }",
                   "\x01\x02\x03\x04\x05\x06"),
               "b");
  ASSERT_TRUE(fortran.ok());
  EXPECT_EQ(fortran->select(0, 0).select(0, 1).item<int>(), 3);
  EXPECT_THAT(
      Message(
          ParseNpy(
              npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                  "abcd"),
              "c")
              .status()),
      HasSubstr("unsupported .npy dtype '>f4'"));
  EXPECT_THAT(
      Message(
          ParseNpy(
              npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                  "abcd"),
              "d")
              .status()),
      HasSubstr("is 4 bytes; shape (2,) of '<i8' needs 16"));
  EXPECT_THAT(Message(ParseNpz("not a zip", "e.npz").status()),
              HasSubstr("e.npz: not a readable .npz (zip) archive"));
  EXPECT_THAT(Message(LoadImagenet32("/nonexistent", "train").status()),
              HasSubstr("expected train_data_batch_1.npz"));
}

TEST(ImageFolderTest, DecodesCropsAndResizes) {
  absl::StatusOr<std::unique_ptr<ImageFolder>> train =
      ImageFolder::Open(kData + "/celeba", "train", 64);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ((*train)->size(), 3);
  // a.png is 64x64: no crop, no resize: exact pixels.
  absl::StatusOr<at::Tensor> a = DecodeImage((*train)->files()[0], 64);
  ASSERT_TRUE(a.ok());
  ExpectPattern(a->unsqueeze(0), td::kCeleba, 0);
  // b.png (40x30) and c.jpg (30x40) are center-cropped to 30x30, resized.
  const int64_t all[] = {0, 1, 2};
  absl::StatusOr<Examples> batch = (*train)->Get(all);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->x.sizes(), at::IntArrayRef({3, 3, 64, 64}));
  EXPECT_GE(batch->x.min().item<float>(), 0.0f);
  EXPECT_LE(batch->x.max().item<float>(), 1.0f);
  // b.png's top-left pixel after cropping columns 5..34 is near Pixel(1, c, 0,
  // 5).
  EXPECT_NEAR(batch->x[1][0][0][0].item<float>() * 255,
              td::Pixel(td::kCeleba, 1, 0, 0, 5), 12);
  absl::StatusOr<std::unique_ptr<ImageFolder>> test =
      ImageFolder::Open(kData + "/celeba", "test", 32);
  ASSERT_TRUE(test.ok());
  EXPECT_EQ((*test)->size(), 1);
}

// The original's CelebA layout under data_dir: joblib arrays in
// celeba/celeba-joblib/{train,validation}, read in index order, validation
// as the test split, centre-cropped like any image (the fixtures are
// 6 x 4: rows 1-4 at size 4, exactly).
TEST(ImageFolderTest, ReadsTheOriginalsJoblibLayout) {
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "/original_celeba";
  fs::remove_all(dir);
  const std::string root = dir + "/celeba/celeba-joblib";
  fs::create_directories(root + "/train");
  fs::create_directories(root + "/validation");
  for (const char* name : {"10.npy", "2.npy", "0.npy", "1.npy"}) {
    fs::copy_file("testdata/joblib/image_1.2.0.npy",
                  root + "/train/" + name);
  }
  fs::copy_file("testdata/joblib/image_0.14.1.npy",
                root + "/validation/0.npy");
  absl::StatusOr<std::unique_ptr<ImageFolder>> train =
      ImageFolder::Open(dir, "train", 4);
  ASSERT_TRUE(train.ok()) << train.status();
  std::vector<std::string> names;
  for (const std::string& f : (*train)->files())
    names.push_back(fs::path(f).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"0.npy", "1.npy", "2.npy",
                                             "10.npy"}));
  absl::StatusOr<std::unique_ptr<ImageFolder>> test =
      ImageFolder::Open(dir, "test", 4);
  ASSERT_TRUE(test.ok()) << test.status();
  ASSERT_EQ((*test)->size(), 1);
  const int64_t first[] = {0};
  absl::StatusOr<Examples> batch = (*test)->Get(first);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const at::Tensor expected = at::arange(6 * 4 * 3, at::kFloat)
                                  .reshape({6, 4, 3})
                                  .narrow(0, 1, 4)
                                  .permute({2, 0, 1})
                                  .div(255.0f);
  EXPECT_TRUE(at::equal(batch->x[0], expected));
  EXPECT_THAT(Message(DecodeImage("testdata/joblib/float_image.npy", 4)
                          .status()),
              HasSubstr("float_image.npy: holds a f4 array"));
}

TEST(ImageFolderTest, BadInputGivesClearErrors) {
  EXPECT_THAT(Message(ImageFolder::Open("/nonexistent", "train", 64).status()),
              HasSubstr("/nonexistent"));
  const std::string path = ::testing::TempDir() + "/broken.png";
  std::ofstream(path) << "not an image";
  EXPECT_THAT(Message(DecodeImage(path, 8).status()),
              HasSubstr("broken.png: cannot decode image"));
}

TEST(ToyTest, SetsAreReproducibleAndShaped) {
  for (ToyKind kind : {ToyKind::kCheckerboard, ToyKind::kSwissRoll,
                       ToyKind::kEightGaussians, ToyKind::kTwoMoons}) {
    const at::Tensor a = SampleToy(kind, 5000, 1);
    EXPECT_EQ(a.sizes(), at::IntArrayRef({5000, 2}));
    EXPECT_TRUE(at::equal(a, SampleToy(kind, 5000, 1)));
    EXPECT_FALSE(at::equal(a, SampleToy(kind, 5000, 2)));
    EXPECT_LT(a.abs().max().item<float>(), 6.0f);
    EXPECT_LT(a.mean(0).abs().max().item<float>(), 0.6f);
  }
  // The checkerboard has mass only on alternating squares of side 2.
  const at::Tensor c = SampleToy(ToyKind::kCheckerboard, 5000, 3);
  const at::Tensor parity = at::remainder(
      at::floor(c.select(1, 0) / 2) + at::floor(c.select(1, 1) / 2), 2);
  EXPECT_EQ(parity.ne(parity[0]).sum().item<int64_t>(), 0);
  // Eight Gaussians: every point within 1.5 of a centre on the radius-4/sqrt2
  // circle.
  const at::Tensor g = SampleToy(ToyKind::kEightGaussians, 5000, 4);
  const at::Tensor radius = g.norm(2, 1);
  EXPECT_NEAR(radius.mean().item<float>(), 4 / std::sqrt(2.0f), 0.1f);
}

TEST(FactoryTest, RealFashionMnistFromTheDebianPackage) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const proto::DataConfig config = ParseTextProtoOrDie<proto::DataConfig>(
      "dataset: FASHION_MNIST data_dir: '" + dir + "'");
  absl::StatusOr<std::shared_ptr<const Dataset>> train =
      CreateDataset(config, "train", 0);
  absl::StatusOr<std::shared_ptr<const Dataset>> test =
      CreateDataset(config, "test", 0);
  ASSERT_TRUE(train.ok() && test.ok()) << train.status() << test.status();
  EXPECT_EQ((*train)->size(), 60000);
  EXPECT_EQ((*test)->size(), 10000);
  EXPECT_EQ((*train)->example_shape(), (std::vector<int64_t>{1, 28, 28}));
  const int64_t indices[] = {0, 59999};
  absl::StatusOr<Examples> x = (*train)->Get(indices);
  ASSERT_TRUE(x.ok());
  EXPECT_GE(x->x.min().item<float>(), 0.0f);
  EXPECT_LE(x->x.max().item<float>(), 1.0f);
  EXPECT_GT(x->x.max().item<float>(), 0.9f);
}

TEST(FactoryTest, ChecksShapesLimitsAndDirectories) {
  proto::DataConfig config = ParseTextProtoOrDie<proto::DataConfig>(
      "dataset: CIFAR10 data_dir: 'testdata/data/cifar' in_channels: 3 "
      "out_channels: 3 "
      "height: 32 width: 32 limit_examples: 4");
  absl::StatusOr<std::shared_ptr<const Dataset>> cifar =
      CreateDataset(config, "train", 0);
  ASSERT_TRUE(cifar.ok()) << cifar.status();
  EXPECT_EQ((*cifar)->size(), 4);
  config.set_height(28);
  config.set_width(28);
  EXPECT_THAT(Message(CreateDataset(config, "train", 0).status()),
              HasSubstr("has examples of shape [3, 32, 32] but the config"));
  config.set_data_dir("/nonexistent/cifar");
  EXPECT_THAT(Message(CreateDataset(config, "train", 0).status()),
              HasSubstr("data.data_dir /nonexistent/cifar is not a directory"));
  const proto::DataConfig toy = ParseTextProtoOrDie<proto::DataConfig>(
      "dataset: TWO_MOONS is_image: false vector_dim: 2 limit_examples: 300");
  absl::StatusOr<std::shared_ptr<const Dataset>> moons =
      CreateDataset(toy, "train", 5);
  ASSERT_TRUE(moons.ok());
  EXPECT_EQ((*moons)->size(), 300);
  EXPECT_FALSE((*moons)->is_8bit());
}

// A held-out validation split: a seeded choice of training examples,
// disjoint from what training then reads, together all of them.
TEST(FactoryTest, ValidationSplitIsHeldOutOfTraining) {
  const proto::DataConfig config = ParseTextProtoOrDie<proto::DataConfig>(
      "dataset: TWO_MOONS is_image: false vector_dim: 2 limit_examples: 300 "
      "validation_examples: 50");
  absl::StatusOr<std::shared_ptr<const Dataset>> train =
      CreateDataset(config, "train", 5);
  absl::StatusOr<std::shared_ptr<const Dataset>> validation =
      CreateDataset(config, "validation", 5);
  ASSERT_TRUE(train.ok() && validation.ok());
  ASSERT_EQ((*train)->size(), 250);
  ASSERT_EQ((*validation)->size(), 50);
  proto::DataConfig whole_config = config;
  whole_config.set_validation_examples(0);
  const std::shared_ptr<const Dataset> whole =
      *CreateDataset(whole_config, "train", 5);
  auto all = [](const Dataset& d) {
    std::vector<int64_t> indices(d.size());
    for (int64_t i = 0; i < d.size(); ++i) indices[i] = i;
    return d.Get(indices)->x;
  };
  const at::Tensor parts = at::cat({all(**train), all(**validation)});
  // Same examples as the whole split, each exactly once.
  EXPECT_TRUE(at::allclose(std::get<0>(parts.sum(1).sort()),
                           std::get<0>(all(*whole).sum(1).sort())));
  // Another seed holds out other examples.
  const std::shared_ptr<const Dataset> other =
      *CreateDataset(config, "validation", 6);
  EXPECT_FALSE(at::equal(all(*other), all(**validation)));
  whole_config.set_validation_examples(300);
  EXPECT_THAT(Message(CreateDataset(whole_config, "train", 5).status()),
              HasSubstr("leaves no training examples"));
  EXPECT_THAT(Message(CreateDataset(whole_config, "val", 5).status()),
              HasSubstr("unknown split 'val'"));
}

}  // namespace
}  // namespace mdm::data
