// The known pixel values and labels of the generated files in
// testdata/data/, shared by their generator and the reader tests.
#ifndef MDM_DATA_TESTDATA_PATTERN_H_
#define MDM_DATA_TESTDATA_PATTERN_H_

#include <cstdint>

namespace mdm::data::testdata {

// Pixel value of example n, channel c, row h, column w of data set `salt`.
inline uint8_t Pixel(int64_t salt, int64_t n, int64_t c, int64_t h, int64_t w) {
  return static_cast<uint8_t>((salt * 101 + n * 37 + c * 11 + h * 5 + w * 3) %
                              256);
}

inline int64_t Label(int64_t n) { return (n * 7 + 3) % 10; }

// Salts of the generated sets.
constexpr int64_t kMnistTrain = 1, kMnistTest = 2, kCifar = 3, kImagenet = 4,
                  kCeleba = 5;
// Examples per file.
constexpr int64_t kMnistTrainSize = 6, kMnistTestSize = 4;
constexpr int64_t kCifarPerBatch = 2, kCifarTestSize = 3;
constexpr int64_t kImagenetBatch1 = 3, kImagenetBatch2 = 2, kImagenetVal = 2;

}  // namespace mdm::data::testdata

#endif  // MDM_DATA_TESTDATA_PATTERN_H_
