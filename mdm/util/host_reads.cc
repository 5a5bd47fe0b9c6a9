#include "mdm/util/host_reads.h"

#include <ATen/ATen.h>

#include <cstring>
#include <memory>

namespace mdm::util {
namespace {

thread_local int64_t reads = 0;

std::unique_ptr<at::ObserverContext> CountRead(const at::RecordFunction& fn) {
  if (std::strcmp(fn.name(), "aten::_local_scalar_dense") == 0) ++reads;
  return nullptr;
}

}  // namespace

std::vector<double> ReadToHost(const std::vector<at::Tensor>& scalars) {
  std::vector<at::Tensor> flat;
  flat.reserve(scalars.size());
  for (const at::Tensor& s : scalars) flat.push_back(s.detach().reshape({1}));
  const at::Tensor host =
      at::cat(flat).to(at::TensorOptions(at::kCPU).dtype(at::kDouble));
  ++reads;
  const double* values = host.data_ptr<double>();
  return std::vector<double>(values, values + host.numel());
}

HostReadCounter::HostReadCounter()
    : handle_(at::addThreadLocalCallback(
          at::RecordFunctionCallback(CountRead)
              .scopes({at::RecordScope::FUNCTION}))),
      start_(reads) {}

HostReadCounter::~HostReadCounter() { at::removeCallback(handle_); }

int64_t HostReadCounter::count() const { return reads - start_; }

void HostReadCounter::Reset() { start_ = reads; }

}  // namespace mdm::util
