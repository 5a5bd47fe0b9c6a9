// A learned process whose Q and D change with time: piecewise constant over
// N equal bins of B(t), each bin its own learned W and d (the LearnedQd
// parameterization, so every bin keeps Q antisymmetric and D positive
// definite). Every bin starts from the same parameters, so an untrained
// binned process is the one-bin process; training then lets the bins
// differ. N(0, S) is stationary in every bin (S is shared), which is what
// makes the binned kernel exact and cheap (DiffusionImpl::Kernel).
//
// Parameters: bins.<k>.W, bins.<k>.d (or .L), k = 0 .. N-1.
#ifndef MDM_DIFFUSIONS_TIME_BINNED_QD_H_
#define MDM_DIFFUSIONS_TIME_BINNED_QD_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "mdm/diffusions/learned_qd.h"
#include "mdm/diffusions/qd_parameterization.h"

namespace mdm::diffusions {

class TimeBinnedQdImpl : public QdParameterization {
 public:
  // `time_bins` >= 1 copies of a LearnedQd made with `options`.
  TimeBinnedQdImpl(const LearnedQdOptions& options, int64_t time_bins);

  int64_t num_vars() const override { return options_.num_vars(); }
  bool learned() const override { return true; }
  int64_t time_bins() const override { return bins_->size(); }
  // One bin's matrices; Q() and D() only for a single bin.
  at::Tensor BinQ(int64_t bin) const override;
  at::Tensor BinD(int64_t bin) const override;
  at::Tensor Q() const override;
  at::Tensor D() const override;

 private:
  const LearnedQdImpl& Bin(int64_t bin) const;

  LearnedQdOptions options_;
  torch::nn::ModuleList bins_;
};
TORCH_MODULE(TimeBinnedQd);

}  // namespace mdm::diffusions

#endif  // MDM_DIFFUSIONS_TIME_BINNED_QD_H_
