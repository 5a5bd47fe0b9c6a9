// Writes the small data files the reader tests read, with known pixel
// values (testdata_pattern.h), into the folder given as the argument:
//   bazel run //mdm/data:make_testdata -- $PWD/testdata/data
// The outputs are committed; run this only to change them.
#include <stb/stb_image_write.h>
#include <zip.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "mdm/data/testdata_pattern.h"

namespace mdm::data::testdata {
namespace {

using Bytes = std::vector<uint8_t>;

void WriteFile(const std::string& path, const Bytes& bytes) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Bytes Gzip(const Bytes& raw) {
  z_stream s{};
  deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&s, raw.size()) + 32);
  s.next_in = const_cast<Bytef*>(raw.data());
  s.avail_in = raw.size();
  s.next_out = out.data();
  s.avail_out = out.size();
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

void AppendBigEndian(Bytes& b, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) b.push_back((v >> shift) & 0xff);
}

void WriteIdx(const std::string& dir, const std::string& prefix, int64_t salt,
              int64_t n) {
  Bytes images = {0, 0, 8, 3}, labels = {0, 0, 8, 1};
  AppendBigEndian(images, n);
  AppendBigEndian(images, 28);
  AppendBigEndian(images, 28);
  AppendBigEndian(labels, n);
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(Label(i));
    for (int h = 0; h < 28; ++h)
      for (int w = 0; w < 28; ++w) images.push_back(Pixel(salt, i, 0, h, w));
  }
  WriteFile(dir + "/" + prefix + "-images-idx3-ubyte.gz", Gzip(images));
  // Labels uncompressed: the reader accepts both.
  WriteFile(dir + "/" + prefix + "-labels-idx1-ubyte", labels);
}

Bytes CifarRecords(int64_t first, int64_t n) {
  Bytes b;
  for (int64_t i = first; i < first + n; ++i) {
    b.push_back(Label(i));
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 32; ++h)
        for (int w = 0; w < 32; ++w) b.push_back(Pixel(kCifar, i, c, h, w));
  }
  return b;
}

// One .npy (format 1.0) holding a C-order array.
Bytes Npy(const std::string& descr, const std::string& shape,
          const Bytes& data) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  b.push_back(header.size() & 0xff);
  b.push_back(header.size() >> 8);
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void WriteNpz(const std::string& path, int64_t first, int64_t n,
              bool compress) {
  Bytes data, labels;
  for (int64_t i = first; i < first + n; ++i) {
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 32; ++h)
        for (int w = 0; w < 32; ++w)
          data.push_back(Pixel(kImagenet, i, c, h, w));
    const int64_t label = i % 1000 + 1;  // 1-based, as in ImageNet32.
    for (int byte = 0; byte < 8; ++byte)
      labels.push_back((label >> (8 * byte)) & 0xff);
  }
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::filesystem::remove(path);
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  const std::vector<std::pair<std::string, Bytes>> arrays = {
      {"data.npy", Npy("|u1", std::to_string(n) + ", 3072", data)},
      {"labels.npy", Npy("<i8", std::to_string(n) + ",", labels)}};
  std::vector<Bytes> keep;  // libzip reads the buffers at zip_close.
  for (const auto& [name, bytes] : arrays) {
    keep.push_back(bytes);
    zip_source_t* source =
        zip_source_buffer(archive, keep.back().data(), keep.back().size(), 0);
    const zip_int64_t index =
        zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE);
    zip_set_file_compression(archive, index,
                             compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
    zip_file_set_mtime(archive, index, 0, 0);
  }
  zip_close(archive);
}

void WriteImage(const std::string& path, int width, int height, int64_t n) {
  std::vector<uint8_t> rgb;
  for (int h = 0; h < height; ++h)
    for (int w = 0; w < width; ++w)
      for (int c = 0; c < 3; ++c) rgb.push_back(Pixel(kCeleba, n, c, h, w));
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  if (std::filesystem::path(path).extension() == ".png") {
    stbi_write_png(path.c_str(), width, height, 3, rgb.data(), width * 3);
  } else {
    stbi_write_jpg(path.c_str(), width, height, 3, rgb.data(), 95);
  }
}

}  // namespace
}  // namespace mdm::data::testdata

int main(int argc, char** argv) {
  using namespace mdm::data::testdata;
  if (argc != 2) {
    std::cerr << "usage: make_testdata OUTPUT_DIR\n";
    return 1;
  }
  const std::string out = argv[1];
  WriteIdx(out + "/mnist", "train", kMnistTrain, kMnistTrainSize);
  WriteIdx(out + "/mnist", "t10k", kMnistTest, kMnistTestSize);
  for (int b = 0; b < 5; ++b) {
    WriteFile(out + "/cifar/data_batch_" + std::to_string(b + 1) + ".bin",
              CifarRecords(b * kCifarPerBatch, kCifarPerBatch));
  }
  WriteFile(out + "/cifar/test_batch.bin", CifarRecords(100, kCifarTestSize));
  WriteNpz(out + "/imagenet32/train_data_batch_1.npz", 0, kImagenetBatch1,
           false);
  WriteNpz(out + "/imagenet32/train_data_batch_2.npz", kImagenetBatch1,
           kImagenetBatch2, true);
  WriteNpz(out + "/imagenet32/val_data.npz", 50, kImagenetVal, true);
  WriteImage(out + "/celeba/train/a.png", 64, 64, 0);
  WriteImage(out + "/celeba/train/b.png", 40, 30, 1);
  WriteImage(out + "/celeba/train/c.jpg", 30, 40, 2);
  WriteImage(out + "/celeba/test/d.png", 64, 64, 3);
  std::cout << "wrote test data under " << out << "\n";
  return 0;
}
