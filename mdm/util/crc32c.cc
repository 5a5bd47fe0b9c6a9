#include "mdm/util/crc32c.h"

#include <array>

namespace mdm::util {
namespace {

// The reflected polynomial 0x1EDC6F41.
constexpr uint32_t kPolynomial = 0x82F63B78u;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ (crc & 1 ? kPolynomial : 0);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, absl::string_view data) {
  crc ^= 0xFFFFFFFFu;
  for (unsigned char byte : data)
    crc = (crc >> 8) ^ kTable[(crc ^ byte) & 0xFF];
  return crc ^ 0xFFFFFFFFu;
}

uint32_t Crc32c(absl::string_view data) { return Crc32cExtend(0, data); }

uint32_t MaskedCrc32c(absl::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace mdm::util
