// Data-parallel training across processes and machines with LibTorch's
// c10d: a TCPStore for the rendezvous and a process group for the
// collectives, chosen by the training device: NCCL for CUDA tensors when
// the LibTorch MDM is built against has it (a CUDA build with nccl.h;
// @mdm_libtorch//:libtorch.bzl says), Gloo otherwise (on a GPU without
// NCCL, through host copies).
//
// Processes find each other the way torchrun and Slurm describe them:
//   RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT      (torchrun, by hand)
//   SLURM_PROCID, SLURM_NTASKS, MASTER_ADDR[, _PORT] (srun)
// Rank 0 serves the store unless TORCHELASTIC_USE_AGENT_STORE=True, when
// torchrun's agent already serves it and every rank is a client. Gloo binds
// to GLOO_SOCKET_IFNAME when set, to the loopback interface when
// MASTER_ADDR is a loopback address, and to this host's name otherwise.
#ifndef MDM_TRAIN_DISTRIBUTED_H_
#define MDM_TRAIN_DISTRIBUTED_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mdm::train {

struct DistributedEnvironment {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's agent serves the store: rank 0 connects as a client.
  bool agent_store = false;
  std::string socket_interface;  // GLOO_SOCKET_IFNAME.
  // This rank's index on its machine (LOCAL_RANK, or SLURM_LOCALID; 0):
  // its GPU when the device names none.
  int local_rank = 0;
};

// Reads the variables above through `getenv` (std::getenv by default); a
// single process when neither RANK/WORLD_SIZE nor SLURM_NTASKS > 1 is set.
// Fails naming the variable that is missing or malformed.
absl::StatusOr<DistributedEnvironment> DistributedEnvironmentFromEnv(
    const std::function<const char*(const char*)>& getenv = nullptr);

// The collectives the trainer needs. Every rank calls each one in the same
// order with tensors of the same shape and dtype.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Replaces `tensor` on every rank by its sum over ranks.
  virtual absl::Status AllReduceSum(at::Tensor& tensor) = 0;
  // Replaces `tensor` on every rank by rank `root`'s.
  virtual absl::Status Broadcast(at::Tensor& tensor, int root) = 0;
};

// Averages the gradients of `params` over the ranks and sums `scalars`
// (e.g. a loss sum and a stop flag) in the same single all-reduce, in the
// gradients' precision. Parameters without a gradient have none on every
// rank alike and are skipped.
absl::Status AllReduceGradients(Communicator& communicator,
                                const std::vector<at::Tensor>& params,
                                std::vector<double>& scalars);

enum class Backend { kGloo, kNccl };

// Whether this build has c10d's NCCL backend.
bool NcclAvailable();

// The backend for collectives on `device`'s tensors: NCCL for CUDA when
// `nccl_available`, Gloo for everything else.
Backend ChooseBackend(const c10::Device& device, bool nccl_available);

// Joins the process group described by `env` for tensors on `device`
// (ChooseBackend with NcclAvailable()), waiting at most `timeout` for the
// other ranks and for any later collective. With NCCL every rank's
// tensors are on its own GPU (the trainer's device: cuda without an index
// means cuda:<local_rank>).
absl::StatusOr<std::unique_ptr<Communicator>> Connect(
    const DistributedEnvironment& env, absl::Duration timeout,
    const c10::Device& device = c10::Device(c10::kCPU));

}  // namespace mdm::train

#endif  // MDM_TRAIN_DISTRIBUTED_H_
