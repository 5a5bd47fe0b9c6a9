#include "mdm/util/state_dict.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include <cstdio>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <string>

namespace mdm::util {
namespace {

struct NetImpl : torch::nn::Module {
  NetImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    scale = register_buffer("scale", at::ones({2}));
  }
  torch::nn::Linear fc{nullptr};
  at::Tensor scale;
};

TEST(StateDictTest, RoundTripsThroughAFileAndLoadsInPlace) {
  NetImpl a, b;
  {
    at::NoGradGuard no_grad;
    a.scale.fill_(3);
  }
  const std::string path = ::testing::TempDir() + "/state.pt";
  std::ofstream(path, std::ios::binary) << SerializeTensorDict(StateDict(a, "m."));
  absl::StatusOr<TensorDict> read = ReadTensorDict(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 3u);
  const at::Tensor weight_before = b.fc->weight;
  ASSERT_TRUE(LoadStateDict(b, *read, "m.", "the file").ok());
  EXPECT_TRUE(at::equal(b.fc->weight, a.fc->weight));
  EXPECT_TRUE(at::equal(b.scale, a.scale));
  // In place: the tensor an optimizer would hold sees the new values.
  EXPECT_TRUE(weight_before.is_same(b.fc->weight));
}

TEST(StateDictTest, WritesTheBytesOfSerializeTensorDictStreaming) {
  // Large enough that the zip writer emits the tensor in its own pieces.
  const TensorDict values = {{"big", at::arange(300000, at::kFloat)},
                             {"step", at::full({1}, 7.0, at::kDouble)},
                             {"view", at::arange(10, at::kLong).slice(0, 2, 8)}};
  const std::string path = ::testing::TempDir() + "/streamed.pt";
  ASSERT_TRUE(WriteTensorDict(path, values).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
  EXPECT_EQ(written, SerializeTensorDict(values));
  absl::StatusOr<TensorDict> read = ReadTensorDict(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 3u);
  EXPECT_TRUE(read->at("big").equal(values.at("big")));
  EXPECT_TRUE(read->at("view").equal(at::arange(2, 8, at::kLong)));
}

TEST(StateDictTest, AFailedWriteLeavesNoFile) {
  // A folder where the file should be: the rename fails, nothing remains.
  const std::string path = ::testing::TempDir() + "/occupied.pt";
  std::filesystem::create_directories(path + "/inside");
  const absl::Status status =
      WriteTensorDict(path, {{"x", at::ones({4})}});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
  for (const auto& entry :
       std::filesystem::directory_iterator(::testing::TempDir())) {
    EXPECT_EQ(entry.path().string().find("occupied.pt.tmp"), std::string::npos)
        << entry.path();
  }
}

TEST(StateDictTest, NamesTheMissingTheMisshapenAndTheExtraTensor) {
  NetImpl net;
  TensorDict values = StateDict(net, "m.");
  TensorDict missing = values;
  missing.erase("m.fc.bias");
  EXPECT_EQ(LoadStateDict(net, missing, "m.", "ckpt").message(),
            "m.fc.bias is missing from ckpt");
  TensorDict misshapen = values;
  misshapen["m.fc.weight"] = at::zeros({2, 4});
  EXPECT_EQ(LoadStateDict(net, misshapen, "m.", "ckpt").message(),
            "m.fc.weight has shape [2, 4] in ckpt but [2, 3] in the model");
  TensorDict extra = values;
  extra["m.other"] = at::zeros({1});
  extra["unrelated"] = at::zeros({1});
  EXPECT_EQ(LoadStateDict(net, extra, "m.", "ckpt").message(),
            "ckpt has m.other, which the model does not");
  EXPECT_TRUE(LoadStateDict(net, extra, "m.", "ckpt", /*strict=*/false).ok());
}

TEST(StateDictTest, RejectsFilesThatAreNotDictsOfTensors) {
  const std::string path = ::testing::TempDir() + "/garbage.pt";
  std::ofstream(path) << "not a pickle";
  absl::StatusOr<TensorDict> read = ReadTensorDict(path);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("is not a torch.save file"),
            std::string::npos)
      << read.status();
  EXPECT_EQ(ReadTensorDict(path + ".absent").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mdm::util
