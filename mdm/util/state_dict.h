// Named tensors of a module (PyTorch's state_dict: parameters and buffers
// under their dotted names) and files holding them as a dict of tensors,
// the format of Python's `torch.save({...})`, which `torch.load` opens and
// LibTorch's pickler reads and writes.
#ifndef MDM_UTIL_STATE_DICT_H_
#define MDM_UTIL_STATE_DICT_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <map>
#include <string>


#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mdm::util {

using TensorDict = std::map<std::string, at::Tensor>;

// The module's parameters and buffers by name, each prefixed by `prefix`
// (the tensors themselves, not copies).
TensorDict StateDict(const torch::nn::Module& module,
                     const std::string& prefix = "");

// Copies every entry `prefix + name` of `values` into the module's
// parameter or buffer `name`, in place (so optimizers holding the
// parameters see the new values). Every parameter and buffer must be
// present with its shape, and with `strict` no other key may start with
// `prefix`. Errors are one line naming the tensor, e.g. "network.conv1.weight
// has shape [32, 3, 3, 3] in <what> but [32, 2, 3, 3] in the model".
absl::Status LoadStateDict(torch::nn::Module& module, const TensorDict& values,
                           const std::string& prefix, const std::string& what,
                           bool strict = true);

// The dict of tensors in a file written by torch.save or WriteTensorDict.
// Non-tensor values are an error naming the key; a file that is not such a
// dict is an error naming the path.
absl::StatusOr<TensorDict> ReadTensorDict(const std::string& path);

// Serializes `values` (moved to the CPU) as torch.save would.
std::string SerializeTensorDict(const TensorDict& values);

// Writes SerializeTensorDict(values) to `path` atomically
// (WriteFileAtomically), streaming: each tensor's bytes go from its storage
// to the file, so that a checkpoint never exists twice in memory.
absl::Status WriteTensorDict(const std::string& path, const TensorDict& values);

}  // namespace mdm::util

#endif  // MDM_UTIL_STATE_DICT_H_
