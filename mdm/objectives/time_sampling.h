// Times t on [t_min, T] for Monte-Carlo estimates of the ELBO's time
// integral (docs/math.md section 5), returned with the density they were
// drawn from so every estimator divides by the density it actually used.
#ifndef MDM_OBJECTIVES_TIME_SAMPLING_H_
#define MDM_OBJECTIVES_TIME_SAMPLING_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "mdm/sde/schedule.h"

namespace mdm::objectives {

struct TimeSample {
  at::Tensor t;        // [n] float64.
  at::Tensor density;  // [n] float64: p(t) of each draw.
};

// Draws n times on [t_min, t_max].
class TimeSampler {
 public:
  virtual ~TimeSampler() = default;
  virtual TimeSample Sample(int64_t n, const at::TensorOptions& options,
                            c10::optional<at::Generator> gen) const = 0;
  // p(t) for t in [t_min, t_max] (float64).
  virtual at::Tensor Density(const at::Tensor& t) const = 0;
};

// p(t) = 1 / (t_max - t_min).
class UniformTimeSampler : public TimeSampler {
 public:
  UniformTimeSampler(double t_min, double t_max);
  TimeSample Sample(int64_t n, const at::TensorOptions& options,
                    c10::optional<at::Generator> gen) const override;
  at::Tensor Density(const at::Tensor& t) const override;

 private:
  double t_min_, t_max_;
};

// The original work's variance-reducing proposal, used for every process:
// p(t) proportional to r(t) = beta(t) / (1 - exp(-B(t))) (the VP likelihood
// weighting), whose CDF has the closed form R(t) = log(1 - e^{-B(t)}) +
// B(t) = log(e^{B(t)} - 1) up to a constant. A draw solves R(t) = R(t_min)
// + U (R(T) - R(t_min)) exactly: B = softplus(R) and t = B^{-1}(B) in closed
// form, so no bisection is needed. (The original multiplies p by an extra
// (1 - t_min); that factor is a slip and is not part of this estimator.)
class ImportanceTimeSampler : public TimeSampler {
 public:
  ImportanceTimeSampler(sde::BetaSchedule schedule, double t_min, double t_max);
  TimeSample Sample(int64_t n, const at::TensorOptions& options,
                    c10::optional<at::Generator> gen) const override;
  at::Tensor Density(const at::Tensor& t) const override;

  // R(t) = log(e^{B(t)} - 1), computed stably for small and large B.
  at::Tensor Cdf(const at::Tensor& t) const;
  // The t in [t_min, t_max] with R(t) = R.
  at::Tensor InverseCdf(const at::Tensor& R) const;
  double R_min() const { return R_min_; }
  double R_max() const { return R_max_; }

 private:
  sde::BetaSchedule schedule_;
  double t_min_, t_max_;
  double R_min_, R_max_;
};

struct AdaptiveTimeSamplerOptions {
  int64_t bins = 20;       // Equal bins of R(t), the VP proposal's CDF.
  double vp_share = 0.1;   // Mixed-in VP proposal: every bin keeps mass.
  double decay = 0.99;     // Of the running second moments, per update.
};

// A proposal for t that adapts to the per-time loss during training. In
// the variable R = R(t) of the VP proposal above (uniform in R), its
// density is piecewise constant over equal R-bins: bin k has mass
//   pi_k = (1 - vp_share) w_k + vp_share / bins,   w_k ~ sqrt(m_k),
// so p(t) = bins * pi_k(t) * p_VP(t). m_k is a running mean of
// (l(t) / p_VP(t))^2 over draws in bin k, l the integrand: within a bin
// every proposal of this family draws t as p_VP does, so that mean is
// unbiased for E_VP[(l / p_VP)^2 | bin k] whatever pi was, and pi_k ~
// sqrt(m_k) minimises the estimator's variance sum_k m_k / pi_k among
// bin-wise proposals. The ELBO stays unbiased for any pi (every estimate
// divides by the density it drew from); vp_share bounds the weight of a
// bin at bins / vp_share times the VP's. Before any update it is the VP
// proposal. The second moments are buffers (saved with the model).
class AdaptiveTimeSamplerImpl : public torch::nn::Module, public TimeSampler {
 public:
  AdaptiveTimeSamplerImpl(sde::BetaSchedule schedule, double t_min,
                          double t_max,
                          const AdaptiveTimeSamplerOptions& options = {});

  TimeSample Sample(int64_t n, const at::TensorOptions& options,
                    c10::optional<at::Generator> gen) const override;
  at::Tensor Density(const at::Tensor& t) const override;

  // Records draws `t` with their integrand values l (both [n]) for the next
  // Update().
  void Observe(const at::Tensor& t, const at::Tensor& integrand);
  // The recorded sums and counts per bin, [2, bins] float64 (CPU), e.g. to
  // be summed over data-parallel ranks before Update().
  at::Tensor& pending() { return pending_; }
  // Folds the recorded statistics into the running second moments and
  // clears them.
  void Update();

  // The bin masses pi, [bins] float64.
  at::Tensor Masses() const;
  const ImportanceTimeSampler& vp() const { return vp_; }

 private:
  at::Tensor BinOf(const at::Tensor& t) const;  // [n] int64.

  ImportanceTimeSampler vp_;
  AdaptiveTimeSamplerOptions options_;
  at::Tensor second_moment_;  // Buffer [bins]: running m_k.
  at::Tensor observed_;       // Buffer [bins]: 1 once bin k was observed.
  at::Tensor pending_;        // [2, bins]: sums of (l / p_VP)^2, counts.
};
TORCH_MODULE(AdaptiveTimeSampler);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_TIME_SAMPLING_H_
