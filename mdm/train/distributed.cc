#include "mdm/train/distributed.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstdlib>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
// Gloo's own headers, which ProcessGroupGloo.hpp includes, are Debian's
// (libgloo-dev): PyTorch's wheels carry none, and build a newer Gloo into
// libtorch_cpu. This file holds Gloo's objects (the transport device, the
// contexts inside the group) only through the pointers libtorch_cpu makes
// and uses, so no layout of Gloo's is compiled in here.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef MDM_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "mdm/util/logging.h"

namespace mdm::train {
namespace {

std::string FirstLine(const std::string& message) {
  return message.substr(0, message.find('\n'));
}

// The collectives of one c10d process group, `Group` being
// c10d::ProcessGroupGloo or c10d::ProcessGroupNCCL (whose common base is
// c10d::ProcessGroup in LibTorch 1.13 and c10d::Backend from 2.0). Gloo
// reduces host tensors, so with Gloo other devices go through a host copy
// (`host_copy`); NCCL reduces CUDA tensors where they are.
template <typename Group>
class GroupCommunicator : public Communicator {
 public:
  GroupCommunicator(int rank, int world_size,
                    c10::intrusive_ptr<c10d::Store> store,
                    c10::intrusive_ptr<Group> group, bool host_copy)
      : rank_(rank),
        world_size_(world_size),
        store_(std::move(store)),
        group_(std::move(group)),
        host_copy_(host_copy) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }

  absl::Status AllReduceSum(at::Tensor& tensor) override {
    return Run("all-reduce", tensor, [this](std::vector<at::Tensor>& t) {
      return group_->allreduce(t);
    });
  }

  absl::Status Broadcast(at::Tensor& tensor, int root) override {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    return Run("broadcast", tensor, [&](std::vector<at::Tensor>& t) {
      return group_->broadcast(t, options);
    });
  }

 private:
  template <typename Collective>
  absl::Status Run(const char* name, at::Tensor& tensor,
                   Collective collective) {
    std::vector<at::Tensor> buffer = {host_copy_ && !tensor.device().is_cpu()
                                          ? tensor.cpu().contiguous()
                                          : tensor.contiguous()};
    try {
      collective(buffer)->wait();
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat(name, " across ", world_size_, " ranks failed on rank ",
                       rank_, ": ", FirstLine(e.what())));
    }
    if (!buffer[0].is_same(tensor)) tensor.copy_(buffer[0]);
    return absl::OkStatus();
  }

  int rank_;
  int world_size_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Group> group_;
  bool host_copy_;
};

bool IsLoopback(const std::string& address) {
  return absl::StartsWith(address, "127.") || address == "localhost" ||
         address == "::1";
}

}  // namespace

absl::StatusOr<DistributedEnvironment> DistributedEnvironmentFromEnv(
    const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* name) -> std::string {
    const char* value = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return value == nullptr ? "" : value;
  };
  auto parse = [&](const char* name, int* out) -> absl::Status {
    if (!absl::SimpleAtoi(get(name), out)) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable ",
                                                     name, "='", get(name),
                                                     "' is not an integer"));
    }
    return absl::OkStatus();
  };
  DistributedEnvironment env;
  if (!get("WORLD_SIZE").empty()) {
    if (absl::Status s = parse("WORLD_SIZE", &env.world_size); !s.ok())
      return s;
    if (get("RANK").empty() && env.world_size > 1) {
      return absl::InvalidArgumentError(
          "WORLD_SIZE is set but RANK is not: set both (torchrun does)");
    }
    if (!get("RANK").empty()) {
      if (absl::Status s = parse("RANK", &env.rank); !s.ok()) return s;
    }
  } else if (!get("SLURM_NTASKS").empty()) {
    if (absl::Status s = parse("SLURM_NTASKS", &env.world_size); !s.ok())
      return s;
    if (env.world_size > 1) {
      if (absl::Status s = parse("SLURM_PROCID", &env.rank); !s.ok()) return s;
    }
  }
  if (env.world_size < 1 || env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("need 0 <= rank < world size, got rank ", env.rank, " of ",
                     env.world_size));
  }
  if (env.world_size == 1) return env;
  env.master_addr = get("MASTER_ADDR");
  if (env.master_addr.empty()) {
    return absl::InvalidArgumentError(
        "MASTER_ADDR is not set: name the host of rank 0 (under Slurm, the "
        "first host of $SLURM_JOB_NODELIST; see tools/slurm/"
        "train_ddp.sbatch)");
  }
  if (!get("MASTER_PORT").empty()) {
    if (absl::Status s = parse("MASTER_PORT", &env.master_port); !s.ok())
      return s;
    if (env.master_port <= 0 || env.master_port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("MASTER_PORT=", env.master_port, " is not a port"));
    }
  }
  for (const char* name : {"LOCAL_RANK", "SLURM_LOCALID"}) {
    if (!get(name).empty()) {
      if (absl::Status s = parse(name, &env.local_rank); !s.ok()) return s;
      break;
    }
  }
  env.agent_store = get("TORCHELASTIC_USE_AGENT_STORE") == "True";
  env.socket_interface = get("GLOO_SOCKET_IFNAME");
  return env;
}

bool NcclAvailable() {
#ifdef MDM_WITH_NCCL
  return true;
#else
  return false;
#endif
}

Backend ChooseBackend(const c10::Device& device, bool nccl_available) {
  return device.is_cuda() && nccl_available ? Backend::kNccl : Backend::kGloo;
}

absl::StatusOr<std::unique_ptr<Communicator>> Connect(
    const DistributedEnvironment& env, absl::Duration timeout,
    const c10::Device& device) {
  const auto timeout_ms =
      std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout));
  const std::string where = absl::StrCat(env.master_addr, ":", env.master_port);
  const Backend backend = ChooseBackend(device, NcclAvailable());
  if (device.is_cuda() && backend == Backend::kGloo) {
    LOG(WARNING) << "this LibTorch has no NCCL: gradients of " << device
                 << " are averaged with Gloo through host memory";
  }
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0 && !env.agent_store;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = false;
    store_options.timeout = timeout_ms;
    auto tcp_store =
        c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    // A prefix keeps our keys apart from an agent's own.
    auto store = c10::make_intrusive<c10d::PrefixStore>("mdm", tcp_store);
#ifdef MDM_WITH_NCCL
    if (backend == Backend::kNccl) {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout_ms;
      auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          store, env.rank, env.world_size, options);
      LOG(INFO) << "rank " << env.rank << " of " << env.world_size
                << " joined the NCCL process group at " << where;
      return std::make_unique<GroupCommunicator<c10d::ProcessGroupNCCL>>(
          env.rank, env.world_size, store, group, /*host_copy=*/false);
    }
#endif
    auto options = c10d::ProcessGroupGloo::Options::create(timeout_ms);
    if (!env.socket_interface.empty()) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(
              env.socket_interface));
    } else if (IsLoopback(env.master_addr)) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        store, env.rank, env.world_size, options);
    LOG(INFO) << "rank " << env.rank << " of " << env.world_size
              << " joined the Gloo process group at " << where;
    return std::make_unique<GroupCommunicator<c10d::ProcessGroupGloo>>(
        env.rank, env.world_size, store, group, /*host_copy=*/true);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("rank ", env.rank, " of ", env.world_size,
                     " cannot join the process group at ", where, ": ",
                     FirstLine(e.what())));
  }
}

absl::Status AllReduceGradients(Communicator& communicator,
                                const std::vector<at::Tensor>& params,
                                std::vector<double>& scalars) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  // The gradients' own precision halves the traffic of a double buffer.
  const at::ScalarType dtype =
      grads.empty() ? at::kDouble : grads[0].scalar_type();
  const at::Device device =
      grads.empty() ? at::Device(at::kCPU) : grads[0].device();
  std::vector<at::Tensor> pieces;
  for (const at::Tensor& g : grads) pieces.push_back(g.reshape({-1}).to(dtype));
  pieces.push_back(
      at::tensor(scalars, at::TensorOptions(device).dtype(at::kDouble))
          .to(dtype));
  at::Tensor flat = at::cat(pieces);
  if (absl::Status s = communicator.AllReduceSum(flat); !s.ok()) return s;
  const double world = communicator.world_size();
  int64_t offset = 0;
  for (at::Tensor& g : grads) {
    const int64_t n = g.numel();
    g.copy_(flat.slice(0, offset, offset + n).view(g.sizes()) / world);
    offset += n;
  }
  const at::Tensor tail = flat.slice(0, offset).to(at::kCPU, at::kDouble);
  for (size_t i = 0; i < scalars.size(); ++i)
    scalars[i] = tail[static_cast<int64_t>(i)].item<double>();
  return absl::OkStatus();
}

}  // namespace mdm::train
