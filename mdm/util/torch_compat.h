// What differs between the LibTorch versions MDM builds against (Debian's
// 1.13 and 2.x from PyTorch's wheels), each difference written once here so
// that the rest of the tree reads the same for both.
#ifndef MDM_UTIL_TORCH_COMPAT_H_
#define MDM_UTIL_TORCH_COMPAT_H_

#include <ATen/core/Tensor.h>
#include <torch/version.h>

#include <variant>

#if TORCH_VERSION_MAJOR < 2
#include <c10/util/string_utils.h>
#include <c10/util/variant.h>

#include <string>
#endif

namespace mdm::util {

// std::get_if for the variants of LibTorch's API (a convolution's padding:
// numbers, torch::kValid or torch::kSame): c10::variant in 1.13,
// std::variant from 2.0.
//
// Example:
//   const auto* padding =
//       TorchGetIf<torch::ExpandingArray<2>>(conv->options.padding());
template <typename T, typename Variant>
const T* TorchGetIf(const Variant& variant) {
#if TORCH_VERSION_MAJOR < 2
  return c10::get_if<T>(&variant);
#else
  return std::get_if<T>(&variant);
#endif
}

// The key of parameter `p`'s entry in torch::optim::Optimizer::state(): its
// TensorImpl's address, printed into a string in 1.13, the pointer itself
// from 2.0.
inline auto OptimizerStateKey(const at::Tensor& p) {
#if TORCH_VERSION_MAJOR < 2
  return c10::guts::to_string(p.unsafeGetTensorImpl());
#else
  return static_cast<void*>(p.unsafeGetTensorImpl());
#endif
}

}  // namespace mdm::util

#endif  // MDM_UTIL_TORCH_COMPAT_H_
