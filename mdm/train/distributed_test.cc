#include "mdm/train/distributed.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>

#include "mdm/testing/free_port.h"

namespace mdm::train {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<DistributedEnvironment> FromMap(
    const std::map<std::string, std::string>& vars) {
  return DistributedEnvironmentFromEnv([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(DistributedEnvironmentTest, SingleProcessWhenNothingIsSet) {
  absl::StatusOr<DistributedEnvironment> env = FromMap({});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->world_size, 1);
  EXPECT_EQ(env->rank, 0);
}

TEST(DistributedEnvironmentTest, ReadsTorchrunVariables) {
  absl::StatusOr<DistributedEnvironment> env =
      FromMap({{"RANK", "3"},
               {"WORLD_SIZE", "4"},
               {"MASTER_ADDR", "node7"},
               {"MASTER_PORT", "12345"},
               {"TORCHELASTIC_USE_AGENT_STORE", "True"},
               {"LOCAL_RANK", "1"},
               {"SLURM_LOCALID", "5"},
               {"SLURM_PROCID", "0"},
               {"SLURM_NTASKS", "8"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->master_addr, "node7");
  EXPECT_EQ(env->master_port, 12345);
  EXPECT_TRUE(env->agent_store);
  EXPECT_EQ(env->local_rank, 1);  // LOCAL_RANK before SLURM_LOCALID.
}

TEST(DistributedEnvironmentTest, ReadsSlurmVariables) {
  absl::StatusOr<DistributedEnvironment> env = FromMap(
      {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "n1"},
       {"SLURM_LOCALID", "1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->world_size, 2);
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_FALSE(env->agent_store);
}

TEST(DistributedEnvironmentTest, NamesTheBadVariable) {
  EXPECT_THAT(
      std::string(
          FromMap({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).status().message()),
      HasSubstr("RANK='x'"));
  EXPECT_THAT(
      std::string(
          FromMap({{"RANK", "2"}, {"WORLD_SIZE", "2"}}).status().message()),
      HasSubstr("rank 2 of 2"));
  EXPECT_THAT(
      std::string(
          FromMap({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).status().message()),
      HasSubstr("MASTER_ADDR"));
  EXPECT_THAT(std::string(FromMap({{"RANK", "0"},
                                   {"WORLD_SIZE", "2"},
                                   {"MASTER_ADDR", "a"},
                                   {"MASTER_PORT", "70000"}})
                              .status()
                              .message()),
              HasSubstr("MASTER_PORT=70000"));
}

TEST(BackendTest, NcclForCudaWhenTheBuildHasIt) {
  const c10::Device cpu(c10::kCPU), cuda(c10::kCUDA, 1);
  EXPECT_EQ(ChooseBackend(cuda, /*nccl_available=*/true), Backend::kNccl);
  EXPECT_EQ(ChooseBackend(cuda, /*nccl_available=*/false), Backend::kGloo);
  EXPECT_EQ(ChooseBackend(cpu, /*nccl_available=*/true), Backend::kGloo);
  EXPECT_EQ(ChooseBackend(cpu, /*nccl_available=*/false), Backend::kGloo);
#ifdef MDM_EXPECT_NCCL
  // A CUDA LibTorch with NCCL: the NCCL group is compiled in.
  EXPECT_TRUE(NcclAvailable());
#else
  EXPECT_FALSE(NcclAvailable());
#endif
}

// Rank `rank` of 3 sums (rank + 1) * [1, 2] and receives rank 2's
// broadcast; exits 0 when both results are right. Rank 1 asks for a CUDA
// device's backend: without NCCL that is Gloo, the same group.
int RunRank(int rank, int port) {
  DistributedEnvironment env;
  env.rank = rank;
  env.world_size = 3;
  env.master_port = port;
  // Where the build has NCCL, a CUDA rank would join the NCCL group and
  // never meet the others (and needs a GPU): then all three are CPU ranks.
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Connect(
      env, absl::Seconds(60),
      rank == 1 && !NcclAvailable() ? c10::Device(c10::kCUDA, 0)
                                    : c10::Device(c10::kCPU));
  if (!comm.ok()) return 10;
  at::Tensor t = at::tensor({1.0, 2.0}, at::kDouble) * (rank + 1);
  if (!(*comm)->AllReduceSum(t).ok()) return 11;
  if (!at::equal(t, at::tensor({6.0, 12.0}, at::kDouble))) return 12;
  at::Tensor b = at::full({3}, static_cast<float>(rank));
  if (!(*comm)->Broadcast(b, 2).ok()) return 13;
  if (!at::equal(b, at::full({3}, 2.0f))) return 14;
  return 0;
}

TEST(ConnectTest, ThreeProcessesReduceAndBroadcast) {
  const int port = testing::FreePort();
  std::vector<pid_t> children;
  for (int rank = 0; rank < 3; ++rank) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(RunRank(rank, port));
    children.push_back(pid);
  }
  for (int rank = 0; rank < 3; ++rank) {
    int status = 0;
    ASSERT_EQ(waitpid(children[rank], &status, 0), children[rank]);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "rank " << rank;
  }
}

TEST(ConnectTest, NoPeersIsAClearTimeout) {
  DistributedEnvironment env;
  env.rank = 1;  // A client whose server never comes.
  env.world_size = 2;
  env.master_port = testing::FreePort();
  absl::StatusOr<std::unique_ptr<Communicator>> comm =
      Connect(env, absl::Seconds(2));
  ASSERT_FALSE(comm.ok());
  EXPECT_THAT(std::string(comm.status().message()),
              HasSubstr("cannot join the process group at 127.0.0.1:"));
}

}  // namespace
}  // namespace mdm::train
