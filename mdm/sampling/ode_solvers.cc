#include "mdm/sampling/ode_solvers.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <utility>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mdm::sampling {
namespace {

// Dormand-Prince 5(4) tableau.
constexpr std::array<double, 7> kC = {0,       1.0 / 5, 3.0 / 10, 4.0 / 5,
                                      8.0 / 9, 1,       1};
constexpr double kA[7][6] = {
    {},
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
// Fifth-order weights are the last row of kA; E = b5 - b4 gives the error.
constexpr std::array<double, 7> kE = {35.0 / 384 - 5179.0 / 57600,
                                      0,
                                      500.0 / 1113 - 7571.0 / 16695,
                                      125.0 / 192 - 393.0 / 640,
                                      -2187.0 / 6784 + 92097.0 / 339200,
                                      11.0 / 84 - 187.0 / 2100,
                                      -1.0 / 40};

absl::Status CheckFinite(const at::Tensor& k, double t) {
  if (!at::isfinite(k).all().item<bool>()) {
    return absl::InternalError(
        absl::StrCat("the ODE's right-hand side is not finite at t = ", t));
  }
  return absl::OkStatus();
}

double RmsNorm(const at::Tensor& x) {
  return std::sqrt(x.to(at::kDouble).square().mean().item<double>());
}

}  // namespace

absl::StatusOr<OdeResult> Rk4(const OdeFunction& f, const at::Tensor& y0,
                              const at::Tensor& time_grid) {
  TORCH_CHECK(time_grid.dim() == 1 && time_grid.size(0) >= 2,
              "the time grid needs at least two times");
  const at::Tensor grid = time_grid.to(at::kCPU, at::kDouble);
  OdeResult result;
  at::Tensor y = y0;
  auto eval = [&](double t,
                  const at::Tensor& state) -> absl::StatusOr<at::Tensor> {
    ++result.function_evaluations;
    absl::StatusOr<at::Tensor> k = f(t, state);
    if (k.ok()) {
      if (absl::Status s = CheckFinite(*k, t); !s.ok()) return s;
    }
    return k;
  };
  for (int64_t i = 0; i + 1 < grid.size(0); ++i) {
    const double t = grid[i].item<double>();
    const double h = grid[i + 1].item<double>() - t;
    absl::StatusOr<at::Tensor> k1 = eval(t, y);
    if (!k1.ok()) return k1.status();
    absl::StatusOr<at::Tensor> k2 = eval(t + h / 2, y + (h / 2) * *k1);
    if (!k2.ok()) return k2.status();
    absl::StatusOr<at::Tensor> k3 = eval(t + h / 2, y + (h / 2) * *k2);
    if (!k3.ok()) return k3.status();
    absl::StatusOr<at::Tensor> k4 = eval(t + h, y + h * *k3);
    if (!k4.ok()) return k4.status();
    y = y + (h / 6) * (*k1 + 2 * *k2 + 2 * *k3 + *k4);
    ++result.accepted_steps;
  }
  result.y = y;
  return result;
}

absl::Status ValidateAdaptiveOptions(const AdaptiveOptions& options,
                                     absl::string_view prefix) {
  for (const auto& [name, value] :
       {std::pair<const char*, double>{"rtol", options.rtol},
        std::pair<const char*, double>{"atol", options.atol}}) {
    if (!(value > 0 && std::isfinite(value))) {
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, name, " must be positive and finite, got ", value));
    }
  }
  if (options.max_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "max_steps must be positive, got ",
                     options.max_steps));
  }
  if (!std::isfinite(options.initial_step)) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "initial_step must be finite"));
  }
  return absl::OkStatus();
}

absl::StatusOr<OdeResult> DormandPrince(const OdeFunction& f,
                                        const at::Tensor& y0, double t0,
                                        double t1,
                                        const AdaptiveOptions& options) {
  if (absl::Status s = ValidateAdaptiveOptions(options); !s.ok()) return s;
  OdeResult result;
  if (t0 == t1) {
    result.y = y0;
    return result;
  }
  const double direction = t1 > t0 ? 1.0 : -1.0;
  auto eval = [&](double t,
                  const at::Tensor& state) -> absl::StatusOr<at::Tensor> {
    ++result.function_evaluations;
    absl::StatusOr<at::Tensor> k = f(t, state);
    if (k.ok()) {
      if (absl::Status s = CheckFinite(*k, t); !s.ok()) return s;
    }
    return k;
  };
  auto scale = [&](const at::Tensor& a, const at::Tensor& b) {
    return options.atol + options.rtol * at::maximum(a.abs(), b.abs());
  };
  at::Tensor y = y0;
  double t = t0;
  absl::StatusOr<at::Tensor> k_first = eval(t, y);
  if (!k_first.ok()) return k_first.status();
  at::Tensor k0 = *k_first;

  double h = std::abs(options.initial_step);
  if (h == 0) {
    // Hairer, Norsett and Wanner, "Solving ODEs I", II.4: a step whose
    // Euler increment is ~1% of the state, refined by a second evaluation.
    const at::Tensor sc = scale(y, y);
    const double d0 = RmsNorm(y / sc), d1 = RmsNorm(k0 / sc);
    const double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    absl::StatusOr<at::Tensor> k_probe =
        eval(t + direction * h0, y + direction * h0 * k0);
    if (!k_probe.ok()) return k_probe.status();
    const double d2 = RmsNorm((*k_probe - k0) / sc) / h0;
    const double h1 = std::max(d1, d2) <= 1e-15
                          ? std::max(1e-6, h0 * 1e-3)
                          : std::pow(0.01 / std::max(d1, d2), 1.0 / 5);
    h = std::min(100 * h0, h1);
  }
  const double span = std::abs(t1 - t0);
  std::array<at::Tensor, 7> k;
  while (direction * (t1 - t) > 0) {
    if (result.accepted_steps + result.rejected_steps >= options.max_steps) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the adaptive ODE solver took ", options.max_steps,
                       " steps and stopped at t = ", t, " of ", t1,
                       "; loosen rtol/atol or raise max_steps "
                       "(--ode_max_steps of sample and eval)"));
    }
    h = std::min(h, std::abs(t1 - t));
    if (h < 1e-14 * std::max(1.0, span)) {
      return absl::InternalError(absl::StrCat(
          "the adaptive ODE solver's step underflowed at t = ", t));
    }
    const double step = direction * h;
    k[0] = k0;
    for (int i = 1; i < 7; ++i) {
      at::Tensor stage = y;
      for (int j = 0; j < i; ++j) {
        if (kA[i][j] != 0) stage = stage + (step * kA[i][j]) * k[j];
      }
      if (i == 6) {
        // The fifth-order solution is the last stage's argument.
        absl::StatusOr<at::Tensor> kk = eval(t + step, stage);
        if (!kk.ok()) return kk.status();
        k[6] = *kk;
        at::Tensor error = (step * kE[0]) * k[0];
        for (int j = 2; j < 7; ++j) error = error + (step * kE[j]) * k[j];
        const double norm = RmsNorm(error / scale(y, stage));
        if (norm <= 1) {
          t = (t1 - (t + step)) * direction <= 1e-15 * span ? t1 : t + step;
          y = stage;
          k0 = k[6];  // First same as last.
          ++result.accepted_steps;
        } else {
          ++result.rejected_steps;
        }
        const double factor =
            norm == 0 ? 10.0
                      : std::clamp(0.9 * std::pow(norm, -1.0 / 5), 0.2, 10.0);
        h *= norm <= 1 ? factor : std::min(1.0, factor);
        break;
      }
      absl::StatusOr<at::Tensor> kk = eval(t + kC[i] * step, stage);
      if (!kk.ok()) return kk.status();
      k[i] = *kk;
    }
  }
  result.y = y;
  return result;
}

}  // namespace mdm::sampling
