#include "mdm/diffusions/time_binned_qd.h"

#include <c10/util/Exception.h>

namespace mdm::diffusions {

TimeBinnedQdImpl::TimeBinnedQdImpl(const LearnedQdOptions& options,
                                   int64_t time_bins)
    : options_(options) {
  TORCH_CHECK(time_bins >= 1, "need at least one time bin, got ", time_bins);
  bins_ = register_module("bins", torch::nn::ModuleList());
  for (int64_t k = 0; k < time_bins; ++k) bins_->push_back(LearnedQd(options));
}

const LearnedQdImpl& TimeBinnedQdImpl::Bin(int64_t bin) const {
  TORCH_CHECK(bin >= 0 && bin < time_bins(), "bin ", bin, " of ", time_bins());
  return *bins_->ptr<LearnedQdImpl>(bin);
}

at::Tensor TimeBinnedQdImpl::BinQ(int64_t bin) const { return Bin(bin).Q(); }
at::Tensor TimeBinnedQdImpl::BinD(int64_t bin) const { return Bin(bin).D(); }

at::Tensor TimeBinnedQdImpl::Q() const {
  TORCH_CHECK(time_bins() == 1, "this process has ", time_bins(),
              " time bins: ask for one bin's Q");
  return BinQ(0);
}

at::Tensor TimeBinnedQdImpl::D() const {
  TORCH_CHECK(time_bins() == 1, "this process has ", time_bins(),
              " time bins: ask for one bin's D");
  return BinD(0);
}

}  // namespace mdm::diffusions
