#include "mdm/util/state_dict.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/util/atomic_file.h"

namespace mdm::util {
namespace {

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

}  // namespace

TensorDict StateDict(const torch::nn::Module& module, const std::string& prefix) {
  TensorDict out;
  for (const auto& item : module.named_parameters())
    out.emplace(absl::StrCat(prefix, item.key()), item.value());
  for (const auto& item : module.named_buffers())
    out.emplace(absl::StrCat(prefix, item.key()), item.value());
  return out;
}

absl::Status LoadStateDict(torch::nn::Module& module, const TensorDict& values,
                           const std::string& prefix, const std::string& what,
                           bool strict) {
  const TensorDict targets = StateDict(module, prefix);
  for (const auto& [name, target] : targets) {
    const auto it = values.find(name);
    if (it == values.end()) {
      return absl::NotFoundError(
          absl::StrCat(name, " is missing from ", what));
    }
    if (!it->second.defined() || it->second.sizes() != target.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " has shape ",
          it->second.defined() ? Shape(it->second) : "(undefined)", " in ",
          what, " but ", Shape(target), " in the model"));
    }
  }
  if (strict) {
    for (const auto& [name, value] : values) {
      if (absl::StartsWith(name, prefix) && !targets.count(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " has ", name, ", which the model does not"));
      }
    }
  }
  at::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    at::Tensor t = target;  // Shares storage with the module's tensor.
    t.copy_(values.at(name));
  }
  return absl::OkStatus();
}

absl::StatusOr<TensorDict> ReadTensorDict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::jit::pickle_load(bytes);
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    return absl::DataLossError(absl::StrCat(
        path, " is not a torch.save file of tensors: ",
        message.substr(0, message.find('\n'))));
  }
  if (!value.isGenericDict()) {
    return absl::DataLossError(
        absl::StrCat(path, " holds a ", value.tagKind(), ", not a dict"));
  }
  TensorDict out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString()) {
      return absl::DataLossError(
          absl::StrCat(path, " has a key that is not a string"));
    }
    const std::string key = item.key().toStringRef();
    if (!item.value().isTensor()) {
      return absl::DataLossError(absl::StrCat(path, ": ", key, " is a ",
                                              item.value().tagKind(),
                                              ", not a tensor"));
    }
    out.emplace(key, item.value().toTensor());
  }
  return out;
}

namespace {

c10::IValue HostDict(const TensorDict& values) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, value] : values)
    dict.insert(name, value.detach().cpu());
  return c10::IValue(dict);
}

}  // namespace

std::string SerializeTensorDict(const TensorDict& values) {
  const std::vector<char> bytes = torch::jit::pickle_save(HostDict(values));
  return std::string(bytes.begin(), bytes.end());
}

absl::Status WriteTensorDict(const std::string& path,
                             const TensorDict& values) {
  // torch::jit::pickle_save's archive, written as it is made: the pickle
  // (names and shapes, small) in memory, each tensor's bytes straight from
  // its storage to the file.
  const c10::IValue dict = HostDict(values);
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&pickle](const char* data, size_t size) {
    pickle.insert(pickle.end(), data, data + size);
  });
  pickler.protocol();
  pickler.pushIValue(dict);
  pickler.stop();
  return WriteFileAtomically(path, [&](const AppendFunction& append) {
    // The zip writer throws when its writer falls short, and may throw from
    // its destructor: so the writer always reports success, keeps the first
    // error and writes nothing after it.
    absl::Status status;
    try {
      caffe2::serialize::PyTorchStreamWriter writer(
          [&](const void* data, size_t size) -> size_t {
            if (status.ok()) {
              status = append(
                  absl::string_view(static_cast<const char*>(data), size));
            }
            return size;
          });
      torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(),
                                         pickler.tensorData(), writer);
      writer.writeEndOfFile();
    } catch (const c10::Error& e) {
      if (status.ok()) {
        status = absl::InternalError(absl::StrCat(
            "cannot serialize ", path, ": ", e.what_without_backtrace()));
      }
    }
    return status;
  });
}

}  // namespace mdm::util
