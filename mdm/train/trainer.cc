#include "mdm/train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <glog/logging.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/data/factory.h"
#include "mdm/diffusions/factory.h"
#include "mdm/eval/likelihood.h"
#include "mdm/nets/factory.h"
#include "mdm/objectives/elbo.h"
#include "mdm/objectives/losses.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/sampling/sample.h"
#include "mdm/train/optimizers.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/image_grid.h"
#include "mdm/util/progress.h"
#include "mdm/util/stop_signal.h"

namespace mdm::train {
namespace {

using diffusions::KernelType;

// Batches per epoch and evaluation batches under --debug_mode.
constexpr int64_t kDebugBatches = 2;

// Evaluation mode and the EMA weights (when kept) for a scope; training
// mode and the live weights again after it.
class EvaluationWeights {
 public:
  EvaluationWeights(nets::ScoreModel& network, Ema* ema)
      : network_(network), ema_(ema) {
    network_.eval();
    if (ema_) ema_->Swap();
  }
  ~EvaluationWeights() {
    if (ema_) ema_->Swap();
    network_.train();
  }

 private:
  nets::ScoreModel& network_;
  Ema* ema_;
};

std::string CheckpointPath(const std::string& output_dir,
                           const std::string& name) {
  return output_dir + "/checkpoints/" + name + ".pt";
}

at::Tensor Scalar(double v) { return at::full({1}, v, at::kDouble); }

// SplitMix64 over (seed, step, shard): well-spread seeds for neighbouring
// steps and shards.
uint64_t MicroBatchSeed(uint64_t seed, uint64_t step, uint64_t shard) {
  uint64_t h = seed;
  for (uint64_t v : {step, shard}) {
    h += 0x9E3779B97F4A7C15ULL + v;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
  }
  return h;
}

void SetDefaultSeed(at::Generator generator, uint64_t seed) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
}

}  // namespace

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const proto::Experiment& experiment, const TrainerOptions& options) {
  std::unique_ptr<Trainer> t(new Trainer());
  t->experiment_ = experiment;
  t->options_ = options;
  try {
    t->device_ = at::Device(options.device);
  } catch (const c10::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: '", options.device,
                     "' is not a device (cpu, cuda, cuda:1)"));
  }
  if (t->device_.is_cuda() && !at::hasCUDA()) {
    return absl::InvalidArgumentError(
        "--device=cuda, but this LibTorch build has no CUDA support");
  }
  const uint64_t seed = experiment.seed();
  torch::manual_seed(seed);
  const int world_size = t->world_size();
  const int64_t batch_size = experiment.training().batch_size();
  if (batch_size % world_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("training.batch_size = ", batch_size,
                     " is the global batch and must "
                     "be divisible by the ",
                     world_size, " data-parallel ranks"));
  }
  const int64_t local_batch_size = batch_size / world_size;

  absl::StatusOr<diffusions::Diffusion> diffusion =
      diffusions::CreateDiffusion(experiment.diffusion(), seed);
  if (!diffusion.ok()) return diffusion.status();
  t->diffusion_ = *diffusion;
  const int64_t K = t->diffusion_->num_vars();
  absl::StatusOr<std::shared_ptr<nets::ScoreModel>> network =
      nets::CreateScoreModel(experiment.score_model(), experiment.data(), K,
                             seed);
  if (!network.ok()) return network.status();
  t->network_ = *network;
  t->diffusion_->to(t->device_);
  t->network_->to(t->device_);

  absl::StatusOr<std::shared_ptr<const data::Dataset>> train =
      data::CreateDataset(experiment.data(), "train", seed);
  if (!train.ok()) return train.status();
  absl::StatusOr<std::shared_ptr<const data::Dataset>> test =
      data::CreateDataset(experiment.data(), "test", seed);
  if (!test.ok()) return test.status();
  t->train_data_ = *train;
  t->test_data_ = *test;
  if (t->train_data_->size() < batch_size && experiment.data().drop_last()) {
    return absl::InvalidArgumentError(absl::StrCat(
        t->train_data_->name(), " has ", t->train_data_->size(),
        " examples, fewer than one batch of training.batch_size = ", batch_size,
        " (with data.drop_last)"));
  }
  t->train_loader_ = std::make_unique<data::DataLoader>(
      t->train_data_,
      data::LoaderOptionsFor(experiment.data(), "train", local_batch_size, seed,
                             t->rank(), world_size));
  t->transform_ = std::make_unique<objectives::DataTransform>(
      eval::TransformKindFor(experiment.data()));

  absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> optimizer =
      CreateOptimizer(experiment.optimizer(), t->Parameters());
  if (!optimizer.ok()) return optimizer.status();
  t->optimizer_ = *std::move(optimizer);
  if (experiment.optimizer().use_ema()) {
    t->ema_ = std::make_unique<Ema>(t->Parameters(),
                                    experiment.optimizer().ema_decay());
  }

  // The output directory must be writable before any work is done.
  if (t->chief()) {
    if (absl::Status s =
            util::WriteFileAtomically(options.output_dir + "/config.textproto",
                                      proto::ExperimentToText(experiment));
        !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("output directory: ", s.message()));
    }
    absl::StatusOr<std::unique_ptr<util::EventWriter>> events =
        util::EventWriter::Create(options.output_dir);
    if (!events.ok()) return events.status();
    t->events_ = *std::move(events);
  }
  // training.checkpoint_path names the checkpoint to resume from; by
  // default it is the output directory's last one, when there is one.
  const std::string& explicit_path = experiment.training().checkpoint_path();
  const std::string resume_from =
      explicit_path.empty() ? CheckpointPath(options.output_dir, "last")
                            : explicit_path;
  if (options.resume && !explicit_path.empty() &&
      !std::filesystem::exists(explicit_path)) {
    return absl::NotFoundError(absl::StrCat("training.checkpoint_path ",
                                            explicit_path, " does not exist"));
  }
  if (options.resume && std::filesystem::exists(resume_from)) {
    if (absl::Status s = t->LoadCheckpoint(resume_from); !s.ok()) return s;
    LOG(INFO) << "resumed from " << resume_from << " at step " << t->step_
              << ", epoch " << t->epoch_;
  } else if (t->chief()) {
    std::vector<std::string> header = {"step", "epoch",     "loss",
                                       "lr",   "grad_norm", "examples_per_s"};
    for (const char* m : {"Q", "D"}) {
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < K; ++j)
          header.push_back(absl::StrCat(m, "_", i, j));
    }
    header.push_back("train_bpd");
    std::ofstream(options.output_dir + "/metrics.csv")
        << absl::StrJoin(header, ",") << "\n";
  }
  if (world_size > 1) {
    if (absl::Status s = t->BroadcastParameters(); !s.ok()) return s;
  }
  return t;
}

int Trainer::rank() const {
  return options_.communicator ? options_.communicator->rank() : 0;
}

int Trainer::world_size() const {
  return options_.communicator ? options_.communicator->world_size() : 1;
}

absl::Status Trainer::BroadcastParameters() {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> state = Parameters();
  for (const at::Tensor& b : network_->buffers()) state.push_back(b);
  for (const at::Tensor& b : diffusion_->buffers()) state.push_back(b);
  if (ema_) {
    for (const at::Tensor& e : ema_->shadow()) state.push_back(e);
  }
  for (at::Tensor& t : state) {
    if (absl::Status s = options_.communicator->Broadcast(t, 0); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

void Trainer::SeedMicroBatch(int64_t shard) const {
  const uint64_t seed = MicroBatchSeed(experiment_.seed(), step_, shard);
  SetDefaultSeed(at::detail::getDefaultCPUGenerator(), seed);
  if (!device_.is_cpu()) {
    SetDefaultSeed(at::globalContext().defaultGenerator(device_), seed);
  }
}

std::vector<at::Tensor> Trainer::Parameters() const {
  std::vector<at::Tensor> params = network_->parameters();
  for (const at::Tensor& p : diffusion_->parameters()) params.push_back(p);
  return params;
}

at::Tensor Trainer::Prepare(const at::Tensor& x, at::Tensor* log_det,
                            c10::optional<at::Generator> gen) const {
  return eval::PrepareData(x.to(device_), train_data_->is_8bit(),
                           experiment_.data().dequantize(), *transform_,
                           log_det, gen);
}

objectives::ScoreNetwork Trainer::Score() const {
  nets::ScoreModel* network = network_.get();
  return [network](const at::Tensor& u, const at::Tensor& t) {
    return network->forward(u, t);
  };
}

absl::Status Trainer::TrainMicroBatch(const at::Tensor& x) {
  const int64_t accumulate = experiment_.training().accumulate_grad_batches();
  SeedMicroBatch(rank() * accumulate + micro_batches_);
  const objectives::ElboOptions elbo_options = objectives::TrainElboOptions(
      experiment_.objective(), experiment_.diffusion(),
      experiment_.score_model());
  loss_type_ = objectives::TrainLossForEpoch(
      experiment_.objective(), static_cast<int>(epoch_),
      objectives::DataIsNoiseFree(*diffusion_));
  const objectives::ScoreNetwork score = Score();
  at::Tensor log_det;
  const at::Tensor y = Prepare(x, &log_det, c10::nullopt);
  absl::StatusOr<at::Tensor> loss =
      objectives::TrainingLoss(loss_type_, *diffusion_, score, y, elbo_options);
  if (!loss.ok()) return loss.status();
  log_det_sum_ += log_det.mean().item<double>();
  data_dim_ = y[0].numel();
  // A non-finite loss is reported at the step's end, when every rank
  // knows of it, so no rank is left waiting for the others.
  loss_sum_ += loss->item<double>();
  // Divided by accumulate_grad_batches even in an epoch's last, shorter
  // accumulation, as Lightning does.
  (*loss / accumulate).backward();
  ++micro_batches_;
  return absl::OkStatus();
}

absl::Status Trainer::OptimizerStep(double* loss_value, double* grad_norm) {
  const int64_t micro_batches = micro_batches_;
  micro_batches_ = 0;
  stop_signal_ = util::StopSignal();
  if (world_size() > 1) {
    if (absl::Status s = AllReduceStep(); !s.ok()) return s;
  }
  *loss_value = loss_sum_ / static_cast<double>(micro_batches * world_size());
  loss_sum_ = 0;
  // An ELBO loss is the batch's negative ELBO of the transformed data:
  // with the transform's log-det it is a training bits/dim (this rank's
  // log-det; the ranks' batches are alike in distribution).
  const bool elbo_loss = loss_type_ == objectives::LossType::kDsmElbo ||
                         loss_type_ == objectives::LossType::kIsmElbo;
  train_bpd_ =
      elbo_loss ? eval::LogLikelihoodToBitsPerDim(
                      at::full({1}, -(*loss_value - log_det_sum_ / micro_batches),
                               at::kDouble),
                      at::zeros({1}, at::kDouble), data_dim_,
                      train_data_->is_8bit())
                      .item<double>()
                : std::nan("");
  log_det_sum_ = 0;
  if (!std::isfinite(*loss_value)) {
    return absl::InternalError(
        absl::StrCat("loss is ", *loss_value, " at step ", step_));
  }
  const double clip = experiment_.optimizer().grad_clip_val();
  *grad_norm = torch::nn::utils::clip_grad_norm_(
      Parameters(), clip > 0 ? clip : std::numeric_limits<double>::infinity());
  if (!std::isfinite(*grad_norm)) {
    return absl::InternalError(
        absl::StrCat("gradient norm is ", *grad_norm, " at step ", step_));
  }
  SetLearningRate(*optimizer_, LearningRateAt(experiment_.optimizer(), step_));
  optimizer_->step();
  optimizer_->zero_grad();
  if (ema_) ema_->Update();
  ++step_;
  return absl::OkStatus();
}

absl::Status Trainer::AllReduceStep() {
  at::NoGradGuard no_grad;
  // Parameters without a gradient (unused by this loss) have none on every
  // rank alike; the rest travel in one buffer with the loss and stop flag.
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : Parameters()) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  // The gradients' own precision halves the traffic of a double buffer.
  const at::ScalarType dtype =
      grads.empty() ? at::kDouble : grads[0].scalar_type();
  std::vector<at::Tensor> pieces;
  for (const at::Tensor& g : grads) pieces.push_back(g.reshape({-1}).to(dtype));
  pieces.push_back(at::tensor({loss_sum_, stop_signal_ != 0 ? 1.0 : 0.0},
                              at::TensorOptions(device_).dtype(dtype)));
  at::Tensor flat = at::cat(pieces);
  if (absl::Status s = options_.communicator->AllReduceSum(flat); !s.ok())
    return s;
  int64_t offset = 0;
  for (at::Tensor& g : grads) {
    const int64_t n = g.numel();
    g.copy_(flat.slice(0, offset, offset + n).view(g.sizes()) / world_size());
    offset += n;
  }
  const at::Tensor tail = flat.slice(0, offset).cpu();
  loss_sum_ = tail[0].item<double>();
  if (stop_signal_ == 0 && tail[1].item<double>() > 0) stop_signal_ = -1;
  return absl::OkStatus();
}

absl::Status Trainer::AppendMetrics(double loss, double lr, double grad_norm,
                                    double examples_per_s) const {
  std::vector<std::string> row = {
      absl::StrCat(step_),     absl::StrCat(epoch_),
      absl::StrCat(loss),      absl::StrCat(lr),
      absl::StrCat(grad_norm), absl::StrCat(examples_per_s)};
  at::NoGradGuard no_grad;
  for (const at::Tensor& m : {diffusion_->Q(), diffusion_->D()}) {
    const at::Tensor cpu = m.to(at::kCPU, at::kDouble).contiguous().view({-1});
    for (int64_t i = 0; i < cpu.numel(); ++i)
      row.push_back(absl::StrCat(cpu[i].item<double>()));
  }
  row.push_back(absl::StrCat(train_bpd_));
  for (const auto& [tag, value] : std::vector<std::pair<const char*, double>>{
           {"train/loss", loss},
           {"train/lr", lr},
           {"train/grad_norm", grad_norm},
           {"train/examples_per_s", examples_per_s}}) {
    if (absl::Status s = events_->AddScalar(tag, value, step_); !s.ok())
      return s;
  }
  for (const auto& [tag, m] : std::vector<std::pair<const char*, at::Tensor>>{
           {"diffusion/Q", diffusion_->Q()},
           {"diffusion/D", diffusion_->D()}}) {
    const at::Tensor cpu = m.detach().to(at::kCPU, at::kDouble).contiguous();
    if (absl::Status s = events_->AddHistogram(
            tag,
            std::vector<double>(cpu.data_ptr<double>(),
                                cpu.data_ptr<double>() + cpu.numel()),
            step_);
        !s.ok()) {
      return s;
    }
  }
  std::ofstream out(options_.output_dir + "/metrics.csv", std::ios::app);
  out << absl::StrJoin(row, ",") << "\n";
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot append to ", options_.output_dir, "/metrics.csv"));
  }
  return absl::OkStatus();
}

absl::Status Trainer::AppendEvalRow(const EvalResult& eval) const {
  const std::string path = options_.output_dir + "/eval.csv";
  const bool fresh = !std::filesystem::exists(path);
  std::ofstream out(path, std::ios::app);
  if (fresh) out << "step,epoch,bpd,bpd_ci95,bpd_with_offset,examples\n";
  out << absl::StrJoin(
             std::vector<std::string>{
                 absl::StrCat(step_), absl::StrCat(epoch_),
                 absl::StrCat(eval.bpd),
                 absl::StrCat(1.96 * eval.bpd_standard_error),
                 absl::StrCat(eval.bpd_with_offset),
                 absl::StrCat(eval.examples)},
             ",")
      << "\n";
  if (!out)
    return absl::UnavailableError(absl::StrCat("cannot append to ", path));
  return absl::OkStatus();
}

absl::StatusOr<EvalResult> Trainer::Evaluate(int64_t max_batches) {
  const proto::EvalConfig& eval = experiment_.eval();
  objectives::ElboOptions options = objectives::TrainElboOptions(
      experiment_.objective(), experiment_.diffusion(),
      experiment_.score_model());
  options.t_min = eval.t_min_eval();
  options.importance_sampling = true;
  options.mc_samples = eval.elbo_mc_samples_eval();
  options.with_offset = eval.elbo_offset_eval();
  // Each rank evaluates its 1/world_size of the test set.
  data::DataLoader loader(
      test_data_,
      data::LoaderOptionsFor(experiment_.data(), "test", eval.test_batch_size(),
                             experiment_.seed(), rank(), world_size()));
  // Evaluation draws from its own stream: it neither disturbs nor depends
  // on the training randomness.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(
      MicroBatchSeed(experiment_.seed(), /*step=*/17, rank()));
  const EvaluationWeights evaluation(*network_, ema_.get());
  at::NoGradGuard no_grad;
  const objectives::ScoreNetwork score = Score();
  std::vector<at::Tensor> bpd, bpd_offset;
  absl::Status status;
  int64_t batches = 0;
  while (max_batches <= 0 || batches < max_batches) {
    absl::StatusOr<std::optional<data::Examples>> batch = loader.Next();
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    if (!batch->has_value()) break;
    ++batches;
    at::Tensor log_det;
    // Generators are CPU-only here; draw on the CPU path for other devices.
    const bool cpu = device_.is_cpu();
    const at::Tensor y =
        Prepare((*batch)->x, &log_det,
                cpu ? c10::optional<at::Generator>(gen) : c10::nullopt);
    absl::StatusOr<eval::ElboBitsPerDim> batch_bpd = eval::ElboBpd(
        *diffusion_, score, y, log_det, train_data_->is_8bit(), options,
        cpu ? c10::optional<at::Generator>(gen) : c10::nullopt);
    if (!batch_bpd.ok()) {
      status = batch_bpd.status();
      break;
    }
    bpd.push_back(batch_bpd->bpd);
    bpd_offset.push_back(batch_bpd->bpd_with_offset);
  }
  if (!status.ok()) return status;
  if (bpd.empty()) return absl::InternalError("evaluation saw no test batches");
  // Sums over this rank's examples, then over ranks.
  const at::Tensor all = at::cat(bpd).to(at::kDouble);
  at::Tensor sums = at::stack({at::scalar_tensor(all.size(0), at::kDouble),
                               all.sum(), all.square().sum(),
                               at::cat(bpd_offset).to(at::kDouble).sum()});
  if (world_size() > 1) {
    if (absl::Status s = options_.communicator->AllReduceSum(sums); !s.ok())
      return s;
  }
  const double n = sums[0].item<double>();
  EvalResult result;
  result.examples = static_cast<int64_t>(n);
  result.bpd = sums[1].item<double>() / n;
  const double variance = n > 1 ? std::max(0.0, (sums[2].item<double>() -
                                                 n * result.bpd * result.bpd) /
                                                    (n - 1))
                                : 0.0;
  result.bpd_standard_error = std::sqrt(variance / n);
  result.bpd_with_offset = sums[3].item<double>() / n;
  return result;
}

absl::StatusOr<std::string> Trainer::WriteSamples() {
  // log_image_size samples (the original's count), on a near-square grid;
  // --debug_mode: 4 in a few steps.
  const bool debug = experiment_.training().debug_mode();
  const int64_t n = debug ? 4 : experiment_.sampling().log_image_size();
  const int64_t columns =
      static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  sampling::SampleOptions options = sampling::SampleOptionsFor(experiment_);
  if (debug) {
    options.steps = std::min<int64_t>(options.steps, 4);
    options.adaptive.rtol = options.adaptive.atol = 1e-2;
  }
  const proto::DataConfig& data = experiment_.data();
  // Sampling draws from its own stream, like evaluation.
  at::Generator gen =
      at::make_generator<at::CPUGeneratorImpl>(experiment_.seed() + 29);
  const EvaluationWeights evaluation(*network_, ema_.get());
  const sampling::ScoreFunction score = sampling::NetworkScore(
      *diffusion_, Score(),
      objectives::TrainElboOptions(experiment_.objective(),
                                   experiment_.diffusion(),
                                   experiment_.score_model())
          .parameterization);
  absl::StatusOr<sampling::SamplerResult> result = sampling::Sample(
      *diffusion_, score,
      {n, diffusion_->num_vars(), data.in_channels(), data.height(),
       data.width()},
      at::TensorOptions(device_).dtype(at::kFloat), options, gen);
  if (!result.ok()) return result.status();
  // The data variable, mapped back to [0, 1].
  const at::Tensor x = transform_->Inverse(result->u.select(1, 0)).clamp(0, 1);
  const std::string path =
      absl::StrCat(options_.output_dir, "/samples/step_", step_, ".png");
  absl::StatusOr<util::EncodedImage> png = util::EncodePngGrid(x, columns);
  if (!png.ok()) return png.status();
  if (absl::Status s = util::WriteFileAtomically(path, png->png); !s.ok())
    return s;
  if (absl::Status s = events_->AddImage("samples", png->png, png->height,
                                         png->width, png->channels, step_);
      !s.ok()) {
    return s;
  }
  return path;
}

absl::Status Trainer::ExportWeights(const std::string& path) {
  c10::Dict<std::string, at::Tensor> weights;
  {
    const EvaluationWeights evaluation(*network_, ema_.get());
    at::NoGradGuard no_grad;
    for (const auto& item : network_->named_parameters()) {
      weights.insert("network." + item.key(), item.value().detach().cpu());
    }
    for (const auto& item : network_->named_buffers()) {
      weights.insert("network." + item.key(), item.value().detach().cpu());
    }
    for (const auto& item : diffusion_->named_parameters()) {
      weights.insert("diffusion." + item.key(), item.value().detach().cpu());
    }
    for (const auto& item : diffusion_->named_buffers()) {
      weights.insert("diffusion." + item.key(), item.value().detach().cpu());
    }
    weights.insert("Q", diffusion_->Q().detach().cpu());
    weights.insert("D", diffusion_->D().detach().cpu());
  }
  const std::vector<char> bytes = torch::jit::pickle_save(weights);
  return util::WriteFileAtomically(path,
                                   std::string(bytes.begin(), bytes.end()));
}

absl::Status Trainer::SaveCheckpoint(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive network, diffusion, optimizer;
  network_->save(network);
  diffusion_->save(diffusion);
  optimizer_->save(optimizer);
  archive.write("network", network);
  archive.write("diffusion", diffusion);
  archive.write("optimizer", optimizer);
  if (ema_) {
    for (size_t i = 0; i < ema_->shadow().size(); ++i) {
      archive.write(absl::StrCat("ema_", i), ema_->shadow()[i],
                    /*is_buffer=*/true);
    }
  }
  const data::LoaderPosition position = train_loader_->position();
  archive.write("step", Scalar(step_), true);
  archive.write("epoch", Scalar(epoch_), true);
  archive.write("loader_epoch", Scalar(position.epoch), true);
  archive.write("loader_step", Scalar(position.step), true);
  archive.write("best_bpd", Scalar(has_best_ ? best_bpd_ : NAN), true);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return util::WriteFileAtomically(path, bytes.str());
}

absl::Status Trainer::LoadCheckpoint(const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, device_);
    torch::serialize::InputArchive network, diffusion, optimizer;
    archive.read("network", network);
    archive.read("diffusion", diffusion);
    archive.read("optimizer", optimizer);
    network_->load(network);
    diffusion_->load(diffusion);
    optimizer_->load(optimizer);
    if (ema_) {
      at::NoGradGuard no_grad;
      for (size_t i = 0; i < ema_->shadow().size(); ++i) {
        at::Tensor shadow;
        archive.read(absl::StrCat("ema_", i), shadow, true);
        ema_->shadow()[i].copy_(shadow);
      }
    }
    at::Tensor value;
    auto read = [&](const char* key) {
      archive.read(key, value, true);
      return value.item<double>();
    };
    step_ = static_cast<int64_t>(read("step"));
    epoch_ = static_cast<int64_t>(read("epoch"));
    const int64_t loader_epoch = static_cast<int64_t>(read("loader_epoch"));
    const int64_t loader_step = static_cast<int64_t>(read("loader_step"));
    const double best = read("best_bpd");
    has_best_ = std::isfinite(best);
    best_bpd_ = best;
    train_loader_->Seek({.epoch = loader_epoch, .step = loader_step});
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    message = message.substr(0, message.find('\n'));
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " cannot be used with this config: ", message));
  }
  return absl::OkStatus();
}

absl::Status Trainer::Run() {
  const proto::TrainingConfig& training = experiment_.training();
  const bool debug = training.debug_mode();
  const int64_t n_epochs = debug ? 1 : training.n_epochs();
  const int64_t max_steps = training.max_steps();
  network_->train();
  const int64_t accumulate = training.accumulate_grad_batches();
  const int64_t steps_per_epoch =
      ((debug ? std::min(kDebugBatches, train_loader_->batches_per_epoch())
              : train_loader_->batches_per_epoch()) +
       accumulate - 1) /
      accumulate;
  int64_t total_steps = n_epochs * steps_per_epoch;
  if (max_steps > 0) total_steps = std::min(total_steps, max_steps);
  util::ProgressReporter progress(total_steps, options_.log_interval_seconds);
  auto last_log = std::chrono::steady_clock::now();
  int64_t examples_trained = 0;  // In this run, by every rank.
  int64_t examples_at_log = 0;
  double loss = 0, grad_norm = 0;
  while (epoch_ < n_epochs && (max_steps <= 0 || step_ < max_steps)) {
    int64_t batches = 0;
    while (max_steps <= 0 || step_ < max_steps) {
      if (debug && batches >= kDebugBatches) break;
      absl::StatusOr<std::optional<data::Examples>> batch =
          train_loader_->Next();
      if (!batch.ok()) return batch.status();
      if (!batch->has_value()) break;
      ++batches;
      const int64_t step_before = step_;
      absl::Status s = TrainMicroBatch((*batch)->x);
      // An optimizer step after accumulate_grad_batches micro-batches, or
      // at the epoch's last batch (Lightning's behaviour).
      const bool last_batch =
          debug ? batches >= std::min(kDebugBatches,
                                      train_loader_->batches_per_epoch())
                : train_loader_->position().step >=
                      train_loader_->batches_per_epoch();
      if (s.ok() && (micro_batches_ == training.accumulate_grad_batches() ||
                     last_batch)) {
        s = OptimizerStep(&loss, &grad_norm);
      }
      if (!s.ok()) {
        if (s.code() != absl::StatusCode::kInternal || !chief()) return s;
        const std::string diagnostic =
            CheckpointPath(options_.output_dir, "nonfinite");
        if (absl::Status saved = SaveCheckpoint(diagnostic); saved.ok()) {
          return absl::Status(s.code(),
                              absl::StrCat(s.message(),
                                           "; stopped, diagnostic "
                                           "checkpoint in ",
                                           diagnostic, ", last.pt untouched"));
        }
        return s;
      }
      examples_trained += (*batch)->x.size(0) * world_size();
      if (step_ == step_before) continue;  // Accumulating gradients.
      if (stop_signal_ != 0) {
        // Preemption: keep the work done so far and stop cleanly; every
        // rank stops at this same step.
        if (chief()) {
          if (absl::Status s =
                  SaveCheckpoint(CheckpointPath(options_.output_dir, "last"));
              !s.ok()) {
            return s;
          }
        }
        return absl::CancelledError(absl::StrCat(
            stop_signal_ > 0 ? absl::StrCat("stopped by signal ", stop_signal_)
                             : std::string("stopped with another rank"),
            " at step ", step_, "; checkpoint saved, --resume continues"));
      }
      if (!chief()) continue;
      progress.Update(step_, loss, examples_trained);
      const int64_t image_step = experiment_.sampling().log_image_step();
      if (image_step > 0 && step_ % image_step == 0 &&
          train_data_->example_shape().size() == 3) {
        absl::StatusOr<std::string> samples = WriteSamples();
        if (!samples.ok()) return samples.status();
      }
      if (step_ % options_.log_every_n_steps == 0) {
        const auto now = std::chrono::steady_clock::now();
        const double rate =
            (examples_trained - examples_at_log) /
            std::max(std::chrono::duration<double>(now - last_log).count(),
                     1e-9);
        const double lr = LearningRateAt(experiment_.optimizer(), step_ - 1);
        if (absl::Status s = AppendMetrics(loss, lr, grad_norm, rate);
            !s.ok()) {
          return s;
        }
        last_log = now;
        examples_at_log = examples_trained;
      }
    }
    if (debug || max_steps <= 0 || step_ < max_steps) {
      // The epoch ended (or was cut short by --debug_mode).
      if (debug) train_loader_->Seek({.epoch = epoch_ + 1, .step = 0});
      ++epoch_;
    }
    const bool finished =
        epoch_ >= n_epochs || (max_steps > 0 && step_ >= max_steps);
    if (finished || epoch_ % training.eval_every_n_epoch() == 0) {
      absl::StatusOr<EvalResult> eval = Evaluate(debug ? kDebugBatches : 0);
      if (!eval.ok()) return eval.status();
      const bool best = !has_best_ || eval->bpd < best_bpd_;
      if (best) {
        best_bpd_ = eval->bpd;
        has_best_ = true;
      }
      if (!chief()) continue;
      if (absl::Status s = AppendEvalRow(*eval); !s.ok()) return s;
      LOG(INFO) << "epoch " << epoch_ << " step " << step_ << " test bits/dim "
                << eval->bpd << " +- " << 1.96 * eval->bpd_standard_error
                << " (with offset " << eval->bpd_with_offset << ", "
                << eval->examples << " examples)";
      for (const auto& [tag, value] :
           std::vector<std::pair<const char*, double>>{
               {"eval/bpd", eval->bpd},
               {"eval/bpd_with_offset", eval->bpd_with_offset}}) {
        if (absl::Status s = events_->AddScalar(tag, value, step_); !s.ok())
          return s;
      }
      if (train_data_->example_shape().size() == 3) {
        absl::StatusOr<std::string> samples = WriteSamples();
        if (!samples.ok()) return samples.status();
        LOG(INFO) << "samples: " << *samples;
      }
      if (absl::Status s = ExportWeights(
              CheckpointPath(options_.output_dir, "last_weights"));
          !s.ok()) {
        return s;
      }
      if (absl::Status s =
              SaveCheckpoint(CheckpointPath(options_.output_dir, "last"));
          !s.ok()) {
        return s;
      }
      if (best) {
        if (absl::Status s = ExportWeights(
                CheckpointPath(options_.output_dir, "best_weights"));
            !s.ok()) {
          return s;
        }
        if (absl::Status s =
                SaveCheckpoint(CheckpointPath(options_.output_dir, "best"));
            !s.ok()) {
          return s;
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mdm::train
