// A run's checkpoint, the one format the trainer writes and every tool
// reads: one file holding a dict of tensors that Python's
// `torch.load(path)` opens, every entry under a name:
//
//   network.<name>, diffusion.<name>   the model's parameters and buffers
//   proposal.<name>                    the adaptive time proposal's state
//   ema.<parameter name>               EMA shadows, when the run keeps them
//   optimizer.<parameter name>.<slot>  optimizer state per trained parameter
//                                      (train/optimizers.h names the slots)
//   Q, D                               the diffusion's matrices (derived, for
//                                      reading in Python; never loaded back)
//   run.step, run.epoch, run.loader_epoch, run.loader_step, run.best_bpd,
//   run.owed                           float64 [1] (best_bpd NaN when none;
//                                      owed an Owed, 0 when absent)
//   run.config                         the resolved Experiment, textproto
//                                      bytes (uint8 [n])
//   run.format                         int64 [1], kCheckpointFormat
//   run.checksum                       int64 [1]: CRC-32C of every other
//                                      entry's name, dtype, shape and bytes
//
// The checksum is verified on every read, so a damaged file is reported as
// corrupt rather than loaded; files are written atomically.
#ifndef MDM_MODEL_CHECKPOINT_H_
#define MDM_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mdm/model/ema.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/util/state_dict.h"

namespace mdm::model {

inline constexpr int64_t kCheckpointFormat = 1;

// What the checkpoint's step still owes: work due at that step that a stop
// signal or a crash cut off, which a resumed run does first.
enum class Owed {
  kNothing = 0,
  kSamplePicture = 1,  // The picture sampling.log_image_step asks for.
  kEvaluation = 2,     // The evaluation cycle: ELBO, best.pt, samples, FID.
};

// Where training stands.
struct RunState {
  int64_t step = 0;   // Optimizer steps taken.
  int64_t epoch = 0;  // Epochs finished.
  // The data loader's position: batches of loader_epoch already used.
  int64_t loader_epoch = 0;
  int64_t loader_step = 0;
  std::optional<double> best_bpd;  // The best evaluation so far.
  Owed owed = Owed::kNothing;
};

struct Checkpoint {
  proto::Experiment experiment;
  util::TensorDict model;      // network.*, diffusion.*, proposal.*
  util::TensorDict ema;        // By parameter name; empty without EMA.
  util::TensorDict optimizer;  // "<parameter name>.<slot>"; may be empty.
  util::TensorDict derived;    // Q and D, for readers; never loaded back.
  RunState state;
};

// The checkpoint of live objects: the model's weights (copied to the CPU),
// the EMA shadows when `ema` is given, and the optimizer state the caller
// extracted.
Checkpoint Snapshot(const proto::Experiment& experiment, const Model& model,
                    const Ema* ema, util::TensorDict optimizer,
                    const RunState& state);

// Serializes with the checksum and writes atomically (temp file, fsync,
// rename). Errors name the path and the cause.
absl::Status WriteCheckpoint(const std::string& path,
                             const Checkpoint& checkpoint);

// Reads and verifies a checkpoint. A missing file is NotFound; a file that
// fails its checksum or does not parse is DataLoss with "is corrupt"; a
// file of another format is InvalidArgument naming what it is.
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path);

// Loads the checkpoint's weights into `model` (names and shapes checked),
// the EMA averages instead of the live weights when `prefer_ema` and the
// checkpoint has them; returns whether it loaded the averages.
absl::StatusOr<bool> LoadWeights(const Checkpoint& checkpoint,
                                 const std::string& what, bool prefer_ema,
                                 Model& model);

}  // namespace mdm::model

#endif  // MDM_MODEL_CHECKPOINT_H_
