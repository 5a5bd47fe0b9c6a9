#include "mdm/bin/eval_lib.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <vector>

#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "mdm/bin/ode_flags.h"
#include "mdm/data/factory.h"
#include "mdm/eval/elbo_evaluation.h"
#include "mdm/eval/fid.h"
#include "mdm/eval/fid_evaluation.h"
#include "mdm/eval/likelihood.h"
#include "mdm/eval/ode_evaluation.h"
#include "mdm/model/saved_run.h"
#include "mdm/objectives/divergence.h"
#include "mdm/sampling/ode_solvers.h"
#include "mdm/sampling/picture.h"
#include "mdm/sampling/sample.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"
#include "mdm/util/runtime_info.h"
#include "mdm/util/seed_streams.h"
#include "nlohmann/json.hpp"

namespace mdm::bin {
namespace {

using json = nlohmann::json;

json Matrix(const at::Tensor& m) {
  const at::Tensor cpu = m.detach().to(at::kCPU, at::kDouble).contiguous();
  json rows = json::array();
  for (int64_t i = 0; i < cpu.size(0); ++i) {
    json row = json::array();
    for (int64_t j = 0; j < cpu.size(1); ++j)
      row.push_back(cpu[i][j].item<double>());
    rows.push_back(row);
  }
  return rows;
}

// Mean and 1.96 standard errors.
void AddEstimate(json& out, const std::string& name,
                 const eval::Estimate& estimate) {
  out[name] = estimate.mean;
  out[name + "_ci95"] = 1.96 * estimate.standard_error;
}

absl::StatusOr<objectives::DivergenceEstimator> ParseDivergence(
    const std::string& s) {
  if (s == "rademacher") return objectives::DivergenceEstimator::kRademacher;
  if (s == "gaussian") return objectives::DivergenceEstimator::kGaussian;
  if (s == "exact") return objectives::DivergenceEstimator::kExact;
  return absl::InvalidArgumentError(absl::StrCat(
      "--divergence: '", s, "' is not rademacher, gaussian or exact"));
}

// The settings --metric=ode takes from the flags.
struct OdeSettings {
  sampling::AdaptiveOptions adaptive;
  objectives::DivergenceEstimator divergence;
};

// Every flag checked before any work, in the order they are reported.
absl::StatusOr<OdeSettings> CheckFlags(const EvalFlags& flags) {
  if (absl::Status s = util::RequireFlag(
          "checkpoint", flags.checkpoint,
          "the run directory or checkpoint file to evaluate");
      !s.ok()) {
    return s;
  }
  if (flags.metric != "elbo" && flags.metric != "ode" &&
      flags.metric != "fid") {
    return absl::InvalidArgumentError(
        absl::StrCat("--metric: '", flags.metric, "' is not elbo, ode or fid"));
  }
  if (flags.split != "train" && flags.split != "test" &&
      flags.split != "validation") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--split: '", flags.split, "' is not train, validation or test"));
  }
  if (flags.limit_examples < 0 || flags.batch_size < 0 || flags.v0_draws < 1) {
    return absl::InvalidArgumentError(
        "--limit_examples and --batch_size must be >= 0, --v0_draws >= 1");
  }
  if (flags.proposal != "run" && flags.proposal != "vp") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--proposal: '", flags.proposal, "' is not run or vp"));
  }
  if (flags.steps < 0 || flags.fid_samples < 2) {
    return absl::InvalidArgumentError(
        "--steps must be >= 0 and --fid_samples >= 2");
  }
  absl::StatusOr<sampling::AdaptiveOptions> adaptive =
      OdeFlags(flags.rtol, flags.atol, flags.ode_max_steps);
  if (!adaptive.ok()) return adaptive.status();
  absl::StatusOr<objectives::DivergenceEstimator> divergence =
      ParseDivergence(flags.divergence);
  if (!divergence.ok()) return divergence.status();
  if (flags.num_threads < 0) {
    return absl::InvalidArgumentError("--num_threads must be >= 0");
  }
  return OdeSettings{*adaptive, *divergence};
}

// Where the JSON goes, checked before the work: --json must be writable; a
// run folder that is not (read-only, another user's) gets the results
// printed only (an empty path).
absl::StatusOr<std::string> JsonPath(const EvalFlags& flags,
                                     const std::string& run_dir) {
  std::string path = flags.json.empty()
                         ? absl::StrCat(run_dir, "/eval/", flags.metric, "_",
                                        flags.split, ".json")
                         : flags.json;
  if (absl::Status s = util::CheckWritable(path); !s.ok()) {
    if (!flags.json.empty()) {
      return absl::Status(s.code(), absl::StrCat("--json: ", s.message()));
    }
    LOG(WARNING) << s.message()
                 << ": the results are printed, not saved (--json names "
                    "another file)";
    path.clear();
  }
  return path;
}

// What was evaluated: checkpoint, step, metric, split, seed, and the
// process's Q and D ([K, K] lists, or one per time bin).
json Header(const model::SavedRun& run, const EvalFlags& flags,
            uint64_t seed) {
  json out;
  out["checkpoint"] = run.checkpoint_path;
  out["step"] = run.step;
  out["ema_weights"] = run.ema_weights;
  out["metric"] = flags.metric;
  out["split"] = flags.split;
  out["seed"] = seed;
  const diffusions::DiffusionImpl& diffusion = run.model.diffusion();
  if (diffusion.time_bins() == 1) {
    out["Q"] = Matrix(diffusion.Q());
    out["D"] = Matrix(diffusion.D());
  } else {
    out["Q"] = json::array();
    out["D"] = json::array();
    for (int64_t k = 0; k < diffusion.time_bins(); ++k) {
      out["Q"].push_back(Matrix(diffusion.BinnedQ()[k]));
      out["D"].push_back(Matrix(diffusion.BinnedD()[k]));
    }
  }
  return out;
}

// What one metric needs besides its flags.
struct MetricInputs {
  const model::SavedRun& run;
  const proto::Experiment& experiment;
  const std::shared_ptr<const data::Dataset>& dataset;
  int64_t batch_size;
  uint64_t seed;
};

// --metric=elbo into `out`; returns the examples evaluated.
absl::StatusOr<int64_t> ElboInto(const EvalFlags& flags,
                                 const MetricInputs& in, json& out) {
  absl::StatusOr<eval::ElboEvaluation> elbo = eval::EvaluateElbo(
      in.run.model, in.experiment, in.dataset,
      {.batch_size = in.batch_size,
       .seed = in.seed,
       .vp_proposal = flags.proposal == "vp"});
  if (!elbo.ok()) return elbo.status();
  AddEstimate(out, "bpd", elbo->bpd);
  if (elbo->bpd_with_offset)
    AddEstimate(out, "bpd_with_offset", *elbo->bpd_with_offset);
  out["elbo_mc_samples"] = in.experiment.eval().elbo_mc_samples_eval();
  out["proposal"] = elbo->proposal;
  return elbo->examples;
}

// --metric=ode into `out`; returns the examples evaluated.
absl::StatusOr<int64_t> OdeInto(const EvalFlags& flags,
                                const OdeSettings& settings,
                                const MetricInputs& in, json& out) {
  eval::OdeLikelihoodOptions ode;
  ode.t_min = in.experiment.eval().t_min_eval();
  ode.t_max = in.experiment.diffusion().t_max();
  ode.adaptive = settings.adaptive;
  ode.divergence = settings.divergence;
  ode.v0_draws = flags.v0_draws;
  absl::StatusOr<eval::OdeEvaluation> evaluation = eval::EvaluateOde(
      in.run.model, in.experiment, in.dataset, in.batch_size, ode, in.seed);
  if (!evaluation.ok()) return evaluation.status();
  AddEstimate(out, "bpd", evaluation->bpd);
  out["function_evaluations_per_batch"] =
      evaluation->function_evaluations_per_batch;
  out["v0_draws"] = flags.v0_draws;
  out["divergence"] = flags.divergence;
  out["rtol"] = flags.rtol;
  out["atol"] = flags.atol;
  return evaluation->examples;
}

// --metric=fid into `out`, and its first log_image_size^2 samples as a
// picture beside `json_path` (when there is one); returns the samples
// generated.
absl::StatusOr<int64_t> FidInto(const EvalFlags& flags, const MetricInputs& in,
                                const std::string& json_path, json& out) {
  if (!in.experiment.data().is_image()) {
    return absl::InvalidArgumentError("--metric=fid needs image data");
  }
  if (flags.fid_model.empty()) {
    return absl::InvalidArgumentError(
        "--metric=fid needs --fid_model=PATH: a TorchScript network from "
        "images [N, C, H, W] in [0, 1] to features [N, D]");
  }
  absl::StatusOr<eval::FeatureNetwork> net =
      eval::FeatureNetwork::Load(flags.fid_model, flags.device);
  if (!net.ok()) return net.status();
  absl::StatusOr<eval::FeatureStatistics> reference = eval::SplitStatistics(
      *net, in.experiment, flags.split, flags.fid_stats, in.batch_size);
  if (!reference.ok()) return reference.status();
  absl::StatusOr<sampling::SamplerKind> kind =
      sampling::ParseSamplerKind(flags.sampler);
  if (!kind.ok()) return kind.status();
  eval::FidEvaluationOptions options{.samples = flags.fid_samples,
                                     .batch_size = in.batch_size};
  options.sampler = sampling::SampleOptionsFor(in.experiment);
  options.sampler.kind = *kind;
  if (flags.steps > 0) options.sampler.steps = flags.steps;
  // The first log_image_size^2 samples, drawn as the trainer draws its.
  const int64_t side = in.experiment.sampling().log_image_size();
  std::vector<at::Tensor> shown;
  int64_t kept = 0;
  options.on_images = [&](const at::Tensor& images) {
    const int64_t n = std::min(images.size(0), side * side - kept);
    if (n <= 0) return;
    shown.push_back(images.narrow(0, 0, n));
    kept += n;
  };
  at::Generator gen = util::StreamGenerator(
      in.seed, util::Stream::kEvaluation, 0, 0, in.run.model.device());
  absl::StatusOr<eval::FidResult> fid = eval::EvaluateFid(
      in.run.model, in.experiment, *net, *reference, options, gen);
  if (!fid.ok()) return fid.status();
  if (!json_path.empty() && !shown.empty()) {
    absl::StatusOr<util::EncodedImage> picture =
        sampling::DrawImages(at::cat(shown));
    if (!picture.ok()) return picture.status();
    const std::string picture_path =
        absl::StrCat(absl::StripSuffix(json_path, ".json"), "_samples.png");
    if (absl::Status s = util::WriteFileAtomically(picture_path, picture->png);
        !s.ok()) {
      return s;
    }
    out["samples_png"] = picture_path;
  }
  out["fid"] = fid->fid;
  out["fid_generated_samples"] = fid->generated_samples;
  out["fid_reference_samples"] = fid->reference_samples;
  out["fid_model"] = net->fingerprint();
  out["sampler"] = flags.sampler;
  out["steps"] = options.sampler.steps;
  out["note"] = eval::FormatFid(*fid);
  return fid->generated_samples;
}

// The results as a table on standard output.
void PrintTable(const model::SavedRun& run, const EvalFlags& flags,
                const json& out) {
  std::cout << absl::StrFormat("%-24s %s\n", "checkpoint",
                               run.checkpoint_path);
  std::cout << absl::StrFormat("%-24s %d%s\n", "step", run.step,
                               run.ema_weights ? " (EMA weights)" : "");
  std::cout << absl::StrFormat("%-24s %s on %s (%d examples)\n", "metric",
                               flags.metric, flags.split,
                               out["examples"].get<int64_t>());
  if (out.contains("bpd")) {
    std::cout << absl::StrFormat("%-24s %.4f +- %.4f\n", "bits/dim",
                                 out["bpd"].get<double>(),
                                 out["bpd_ci95"].get<double>());
  }
  if (out.contains("bpd_with_offset")) {
    std::cout << absl::StrFormat("%-24s %.4f +- %.4f\n", "bits/dim with offset",
                                 out["bpd_with_offset"].get<double>(),
                                 out["bpd_with_offset_ci95"].get<double>());
  }
  if (out.contains("fid")) {
    std::cout << absl::StrFormat("%-24s %s\n", "FID",
                                 out["note"].get<std::string>());
  }
  if (out.contains("samples_png")) {
    std::cout << absl::StrFormat("%-24s %s\n", "samples",
                                 out["samples_png"].get<std::string>());
  }
  std::cout << absl::StrFormat("%-24s %.1f\n", "examples/s",
                               out["examples_per_s"].get<double>());
  std::cout << absl::StrFormat("%-24s %s\n", "Q", out["Q"].dump());
  std::cout << absl::StrFormat("%-24s %s\n", "D", out["D"].dump());
}

}  // namespace

absl::StatusOr<std::string> RunEvaluation(const EvalFlags& flags) {
  absl::StatusOr<OdeSettings> ode = CheckFlags(flags);
  if (!ode.ok()) return ode.status();
  util::SetComputeThreads(flags.num_threads);
  absl::StatusOr<model::SavedRun> run = model::OpenRun(
      flags.checkpoint, {.device = flags.device, .config_path = flags.config});
  if (!run.ok()) return run.status();
  absl::StatusOr<std::string> json_path = JsonPath(flags, run->run_dir);
  if (!json_path.ok()) return json_path.status();
  proto::Experiment experiment = run->experiment;
  if (flags.limit_examples > 0) {
    experiment.mutable_data()->set_limit_examples(flags.limit_examples);
  }
  absl::StatusOr<std::shared_ptr<const data::Dataset>> dataset =
      data::CreateDataset(experiment.data(), flags.split, experiment.seed());
  if (!dataset.ok()) return dataset.status();
  const MetricInputs in{
      .run = *run,
      .experiment = experiment,
      .dataset = *dataset,
      .batch_size = flags.batch_size > 0 ? flags.batch_size
                                         : experiment.eval().test_batch_size(),
      // The run's evaluation stream unless --seed names another.
      .seed = flags.seed.value_or(experiment.seed())};

  json out = Header(*run, flags, in.seed);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<int64_t> examples =
      flags.metric == "elbo"  ? ElboInto(flags, in, out)
      : flags.metric == "ode" ? OdeInto(flags, *ode, in, out)
                              : FidInto(flags, in, *json_path, out);
  if (!examples.ok()) return examples.status();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  out["examples"] = *examples;
  out["examples_per_s"] = *examples / std::max(seconds, 1e-9);
  PrintTable(*run, flags, out);

  const std::string text = out.dump(2) + "\n";
  if (json_path->empty()) return text;
  if (absl::Status s = util::WriteFileAtomically(*json_path, text); !s.ok()) {
    return s;
  }
  std::cout << absl::StrFormat("%-24s %s\n", "json", *json_path);
  return text;
}

}  // namespace mdm::bin
