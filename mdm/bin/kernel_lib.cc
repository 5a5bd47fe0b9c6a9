#include "mdm/bin/kernel_lib.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "mdm/diffusions/factory.h"
#include "mdm/model/saved_run.h"
#include "mdm/proto/experiment_config.h"

namespace mdm::bin {
namespace {

using diffusions::DiffusionImpl;
using diffusions::KernelType;
using nlohmann::json;

json MatrixJson(const at::Tensor& m) {
  const at::Tensor cpu = m.detach().to(at::kCPU, at::kDouble).contiguous();
  json rows = json::array();
  for (int64_t i = 0; i < cpu.size(0); ++i) {
    json row = json::array();
    for (int64_t j = 0; j < cpu.size(1); ++j) {
      row.push_back(cpu[i][j].item<double>());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Factorized {
  at::Tensor cov;
  at::Tensor chol;
  double jitter = 0;
};

// The kernel of one type at one time. At t = 0 Sigma = Sigma_0 is singular
// and diagonal: its factor is its elementwise square root.
absl::StatusOr<Factorized> KernelAt(const DiffusionImpl& diffusion, double t,
                                    KernelType type) {
  if (t == 0) {
    const at::Tensor sigma0 = diffusion.InitialCov(type);
    return Factorized{.cov = sigma0, .chol = at::sqrt(sigma0)};
  }
  absl::StatusOr<sde::TransitionKernel> kernel =
      diffusion.KernelAtTime(t, type);
  if (!kernel.ok()) return kernel.status();
  return Factorized{.cov = kernel->cov,
                    .chol = kernel->chol,
                    .jitter = kernel->jitter.item<double>()};
}

std::string FormatMatrix(const json& matrix, absl::string_view indent) {
  std::string out;
  for (const json& row : matrix) {
    absl::StrAppend(&out, indent, "[");
    for (size_t j = 0; j < row.size(); ++j) {
      absl::StrAppend(&out, absl::StrFormat("%s%14.6e", j ? " " : "",
                                            row[j].get<double>()));
    }
    absl::StrAppend(&out, " ]\n");
  }
  return out;
}

std::string FormatText(const json& report) {
  std::string out = absl::StrFormat(
      "diffusion %s, K = %d%s, init_aux_var = %g, T = %g\n",
      report["sde_type"].get<std::string>(), report["n_vars"].get<int>(),
      report["learned"].get<bool>() ? " (learned)" : "",
      report["init_aux_var"].get<double>(), report["t_max"].get<double>());
  const bool binned = report["time_bins"].get<int>() > 1;
  for (const json& bin : report["bins"]) {
    const std::string indent = binned ? "    " : "  ";
    if (binned) {
      absl::StrAppend(&out, absl::StrFormat("time bin %d: t in (%.6g, %.6g]\n",
                                            bin["bin"].get<int>(),
                                            bin["t_from"].get<double>(),
                                            bin["t_to"].get<double>()));
    }
    for (const char* name : {"Q", "D", "A"}) {
      absl::StrAppend(&out, binned ? "  " : "", name, " =\n",
                      FormatMatrix(bin[name], indent));
    }
    absl::StrAppend(&out, binned ? "  " : "", "eigenvalues of A:");
    for (const json& e : bin["A_eigenvalues"]) {
      absl::StrAppend(&out, absl::StrFormat(" %.6g%+.6gi", e[0].get<double>(),
                                            e[1].get<double>()));
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "stationary_cov =\n",
                  FormatMatrix(report["stationary_cov"], "  "));
  for (const json& at_t : report["times"]) {
    absl::StrAppend(&out, absl::StrFormat("\nt = %g, B(t) = %.10g\n",
                                          at_t["t"].get<double>(),
                                          at_t["int_beta"].get<double>()));
    for (const char* name :
         {"mean_coef", "cov_full", "chol_full", "cov_hybrid", "chol_hybrid"}) {
      absl::StrAppend(&out, "  ", name, " =\n",
                      FormatMatrix(at_t[name], "    "));
    }
    for (const char* name : {"jitter_full", "jitter_hybrid"}) {
      if (at_t[name].get<double>() > 0) {
        absl::StrAppend(&out, "  ", name, " = ", at_t[name].get<double>(),
                        "\n");
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<double>> ParseTimes(absl::string_view times,
                                               double t_max) {
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(times, ',')) {
    part = absl::StripAsciiWhitespace(part);
    double t;
    if (!absl::SimpleAtod(part, &t) || !std::isfinite(t)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--t: '", part, "' is not a number"));
    }
    if (t < 0 || t > t_max) {
      return absl::InvalidArgumentError(
          absl::StrCat("--t: ", t, " is outside [0, T_max = ", t_max, "]"));
    }
    out.push_back(t);
  }
  return out;
}

absl::StatusOr<KernelFormat> ParseKernelFormat(absl::string_view format) {
  if (format == "text") return KernelFormat::kText;
  if (format == "json") return KernelFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--format must be text or json, got '", format, "'"));
}

namespace {

absl::StatusOr<json> BuildReport(const proto::DiffusionConfig& config,
                                 const DiffusionImpl& diffusion,
                                 const std::vector<double>& times) {
  json report;
  report["sde_type"] = proto::DiffusionConfig::SdeType_Name(config.sde_type());
  report["n_vars"] = diffusion.num_vars();
  report["learned"] = diffusion.learned();
  // Every time bin's matrices and the times it covers, (t_from, t_to]; a
  // one-bin process also has them at the top level.
  const std::vector<double> boundaries = diffusion.BinBoundaries();
  report["time_bins"] = diffusion.time_bins();
  report["bins"] = json::array();
  for (int64_t k = 0; k < diffusion.time_bins(); ++k) {
    const sde::LinearSde sde = diffusion.BinSde(k);
    const at::Tensor eigenvalues = at::linalg_eigvals(sde.A().detach());
    json bin;
    bin["bin"] = k;
    bin["t_from"] = k == 0 ? 0.0 : boundaries[k - 1];
    bin["t_to"] = k + 1 < diffusion.time_bins() ? boundaries[k]
                                                : diffusion.options().t_max();
    bin["Q"] = MatrixJson(sde.Q());
    bin["D"] = MatrixJson(sde.D());
    bin["A"] = MatrixJson(sde.A());
    json eig = json::array();
    for (int64_t i = 0; i < eigenvalues.size(0); ++i) {
      eig.push_back({at::real(eigenvalues[i]).item<double>(),
                     at::imag(eigenvalues[i]).item<double>()});
    }
    bin["A_eigenvalues"] = std::move(eig);
    report["bins"].push_back(std::move(bin));
  }
  if (diffusion.time_bins() == 1) {
    for (const char* name : {"Q", "D", "A", "A_eigenvalues"})
      report[name] = report["bins"][0][name];
  }
  report["stationary_cov"] = MatrixJson(diffusion.StationaryCov());
  report["init_aux_var"] = diffusion.options().init_aux_var();
  report["t_max"] = diffusion.options().t_max();
  report["times"] = json::array();
  for (double t : times) {
    const sde::KernelMoments moments =
        // host: a report's time; Moments moves it to the process
        diffusion.Moments(at::full({1}, t, at::kDouble), KernelType::kFull);
    absl::StatusOr<Factorized> full = KernelAt(diffusion, t, KernelType::kFull);
    if (!full.ok()) return full.status();
    absl::StatusOr<Factorized> hybrid =
        KernelAt(diffusion, t, KernelType::kHybrid);
    if (!hybrid.ok()) return hybrid.status();
    report["times"].push_back({
        {"t", t},
        {"int_beta", diffusion.options().schedule().IntegratedBeta(t)},
        {"mean_coef", MatrixJson(moments.mean_coef[0])},
        {"cov_full", MatrixJson(full->cov)},
        {"cov_hybrid", MatrixJson(hybrid->cov)},
        {"chol_full", MatrixJson(full->chol)},
        {"chol_hybrid", MatrixJson(hybrid->chol)},
        {"jitter_full", full->jitter},
        {"jitter_hybrid", hybrid->jitter},
    });
  }
  return report;
}

}  // namespace

absl::StatusOr<std::string> KernelReportJson(
    const proto::DiffusionConfig& config, const DiffusionImpl& diffusion,
    const std::vector<double>& times) {
  absl::StatusOr<json> report = BuildReport(config, diffusion, times);
  if (!report.ok()) return report.status();
  return report->dump(2);
}

absl::StatusOr<std::string> RunKernelTool(const KernelToolOptions& options) {
  if (options.config_path.empty() == options.checkpoint.empty()) {
    return absl::InvalidArgumentError(
        "pass exactly one of --config and --checkpoint");
  }
  proto::Experiment experiment;
  std::optional<model::SavedRun> run;
  diffusions::Diffusion created_diffusion{nullptr};
  const diffusions::DiffusionImpl* diffusion = nullptr;
  if (!options.checkpoint.empty()) {
    absl::StatusOr<model::SavedRun> opened = model::OpenRun(options.checkpoint);
    if (!opened.ok()) return opened.status();
    run.emplace(*std::move(opened));
    experiment = run->experiment;
    diffusion = &run->model.diffusion();
  } else {
    absl::StatusOr<proto::Experiment> loaded =
        proto::LoadExperiment(options.config_path, options.overrides);
    if (!loaded.ok()) return loaded.status();
    experiment = *std::move(loaded);
    absl::StatusOr<diffusions::Diffusion> created =
        diffusions::CreateDiffusion(experiment.diffusion(), experiment.seed());
    if (!created.ok()) return created.status();
    created_diffusion = *created;
    diffusion = created_diffusion.get();
  }
  const proto::DiffusionConfig& config = experiment.diffusion();
  absl::StatusOr<std::vector<double>> times =
      ParseTimes(options.times, config.t_max());
  if (!times.ok()) return times.status();
  at::NoGradGuard no_grad;
  absl::StatusOr<json> report = BuildReport(config, *diffusion, *times);
  if (!report.ok()) return report.status();
  return options.format == KernelFormat::kJson ? report->dump(2) + "\n"
                                               : FormatText(*report);
}

}  // namespace mdm::bin
