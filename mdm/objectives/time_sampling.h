// Times t on [t_min, T] for Monte-Carlo estimates of the ELBO's time
// integral (mdm_math.md section 5), returned with the density they were
// drawn from so every estimator divides by the density it actually used.
#ifndef MDM_OBJECTIVES_TIME_SAMPLING_H_
#define MDM_OBJECTIVES_TIME_SAMPLING_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>

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

 private:
  sde::BetaSchedule schedule_;
  double t_min_, t_max_;
  double R_min_, R_max_;
};

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_TIME_SAMPLING_H_
