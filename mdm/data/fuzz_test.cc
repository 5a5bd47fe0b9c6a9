// Mutation fuzzing of the binary parsers: thousands of deterministic
// corruptions (bit flips, overwritten header fields, truncations,
// insertions) of the valid test files. Every input must give OK or an
// error status; nothing may crash, hang or throw.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>

#include "mdm/data/cifar.h"
#include "mdm/data/idx.h"
#include "mdm/data/joblib.h"
#include "mdm/data/npz.h"

namespace mdm::data {
namespace {

std::string Read(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

std::string Mutate(const std::string& original, std::mt19937_64& rng) {
  std::string s = original;
  auto pick = [&](size_t n) { return n == 0 ? 0 : rng() % n; };
  switch (rng() % 5) {
    case 0:  // Flip a few bits anywhere.
      for (int i = 0, n = 1 + rng() % 8; i < n && !s.empty(); ++i) {
        s[pick(s.size())] ^= static_cast<char>(1 << (rng() % 8));
      }
      break;
    case 1:  // Overwrite a header byte with an extreme value.
      if (!s.empty())
        s[pick(std::min<size_t>(s.size(), 64))] = "\x00\xff\x7f\x80"[rng() % 4];
      break;
    case 2:  // Truncate.
      s.resize(pick(s.size() + 1));
      break;
    case 3:  // Insert random bytes.
      s.insert(pick(s.size() + 1),
               std::string(1 + rng() % 16, static_cast<char>(rng())));
      break;
    case 4:  // Duplicate a chunk.
      if (!s.empty()) {
        const size_t at = pick(s.size());
        s.insert(at, s.substr(at, 1 + rng() % 64));
      }
      break;
  }
  return s;
}

// Runs `parse` on `mutations` corruptions of `seed_file`; returns how many
// were rejected.
int Fuzz(const std::string& seed_file, int mutations,
         const std::function<absl::Status(const std::string&)>& parse) {
  const std::string original = Read(seed_file);
  EXPECT_FALSE(original.empty()) << seed_file;
  EXPECT_TRUE(parse(original).ok()) << "the unmutated file must parse";
  std::mt19937_64 rng(12345);
  int rejected = 0;
  for (int i = 0; i < mutations; ++i) {
    const std::string input = Mutate(original, rng);
    try {
      if (!parse(input).ok()) ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "mutation " << i << " threw: " << e.what();
    }
  }
  return rejected;
}

// Through a file, as the data sets read it: zlib's gz reader streaming
// into the parser.
TEST(ParserFuzzTest, Idx) {
  const std::string path = ::testing::TempDir() + "/fuzz-idx3-ubyte.gz";
  const int rejected = Fuzz("testdata/data/mnist/train-images-idx3-ubyte.gz",
                            3000, [&path](const std::string& bytes) {
                              std::ofstream(path, std::ios::binary) << bytes;
                              return ReadIdxFile(path).status();
                            });
  EXPECT_GT(rejected, 1000);
}

TEST(ParserFuzzTest, Cifar) {
  const int rejected = Fuzz("testdata/data/cifar/test_batch.bin", 3000,
                            [](const std::string& bytes) {
                              return ParseCifarBatch(bytes, "f").status();
                            });
  EXPECT_GT(rejected, 500);
}

TEST(ParserFuzzTest, Npz) {
  for (const char* file : {"testdata/data/imagenet32/train_data_batch_1.npz",
                           "testdata/data/imagenet32/val_data.npz"}) {
    const int rejected = Fuzz(file, 2000, [](const std::string& bytes) {
      return ParseNpz(bytes, "f").status();
    });
    EXPECT_GT(rejected, 500) << file;
  }
}

// Through a file, as the image folder reads the original's CelebA.
TEST(ParserFuzzTest, Joblib) {
  const std::string path = ::testing::TempDir() + "/fuzz-joblib.npy";
  for (const char* file : {"testdata/joblib/image_1.2.0.npy",
                           "testdata/joblib/image_protocol2.npy"}) {
    const int rejected = Fuzz(file, 2000, [&path](const std::string& bytes) {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
      return ReadJoblibImage(path).status();
    });
    EXPECT_GT(rejected, 500) << file;
  }
}

}  // namespace
}  // namespace mdm::data
