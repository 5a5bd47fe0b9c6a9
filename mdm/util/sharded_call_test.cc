#include "mdm/util/sharded_call.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

namespace mdm::util {
namespace {

using torch::autograd::grad;

// A small network of u [batch, 2, 6, 6] and t [batch]: convolution, time
// conditioning, SiLU, linear read-out. Rows are independent.
struct Net {
  Net() {
    torch::manual_seed(3);
    conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).padding(1));
    dense = torch::nn::Linear(1, 4);
    out = torch::nn::Linear(4 * 36, 2 * 36);
    for (const auto& list :
         {conv->parameters(), dense->parameters(), out->parameters()}) {
      parameters.insert(parameters.end(), list.begin(), list.end());
    }
  }
  at::Tensor operator()(const std::vector<at::Tensor>& in) {
    const at::Tensor& u = in[0];
    at::Tensor h = conv->forward(u) +
                   dense->forward(in[1].unsqueeze(1)).view({-1, 4, 1, 1});
    h = at::silu(h);
    return out->forward(h.flatten(1)).view(u.sizes());
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear dense{nullptr}, out{nullptr};
  std::vector<at::Tensor> parameters;
};

constexpr double kTol = 1e-5;

void ExpectClose(const at::Tensor& a, const at::Tensor& b) {
  ASSERT_TRUE(a.defined() && b.defined());
  EXPECT_TRUE(at::allclose(a, b, kTol, kTol))
      << "max difference " << (a - b).abs().max().item<double>();
}

// u depends on a trainable scale, as a learned diffusion's state does.
TEST(ShardedCallTest, OutputAndGradientsMatchOneCall) {
  Net net;
  const at::Tensor scale = at::full({1}, 0.7).requires_grad_(true);
  const at::Tensor x = at::randn({25, 2, 6, 6});
  const at::Tensor t = at::rand({25});
  const at::Tensor w = at::randn({25, 2, 6, 6});
  const BatchFunction f = [&](const std::vector<at::Tensor>& in) {
    return net(in);
  };
  std::vector<at::Tensor> wrt = net.parameters;
  wrt.push_back(scale);

  const at::Tensor reference = f({x * scale, t});
  const auto expected = grad({(reference * w).sum()}, wrt);
  for (int shards : {2, 3}) {
    const at::Tensor sharded = ShardedCall(f, {x * scale, t}, net.parameters,
                                           shards, /*min_shard_elements=*/1);
    ExpectClose(sharded, reference);
    ASSERT_NE(sharded.grad_fn(), nullptr);
    EXPECT_EQ(sharded.grad_fn()->name(), "ShardedCallBackward");
    const auto got = grad({(sharded * w).sum()}, wrt);
    for (size_t i = 0; i < wrt.size(); ++i) ExpectClose(got[i], expected[i]);
  }
}

// A backward that builds a graph (the divergence estimators' Jacobian-vector
// products) must give exact second derivatives.
TEST(ShardedCallTest, SecondDerivativesMatchOneCall) {
  Net net;
  const at::Tensor u = at::randn({24, 2, 6, 6}).requires_grad_(true);
  const at::Tensor t = at::rand({24});
  const at::Tensor v = at::randn({24, 2, 6, 6});
  const BatchFunction f = [&](const std::vector<at::Tensor>& in) {
    return net(in);
  };
  auto divergence_loss = [&](const at::Tensor& out) {
    const at::Tensor vjp =
        grad({(out * v).sum()}, {u}, {}, /*retain_graph=*/true,
             /*create_graph=*/true)[0];
    return (vjp * v).sum() + out.square().sum();
  };
  std::vector<at::Tensor> wrt = net.parameters;
  wrt.push_back(u);
  const auto expected = grad({divergence_loss(f({u, t}))}, wrt);
  const auto got = grad(
      {divergence_loss(ShardedCall(f, {u, t}, net.parameters, 3, 1))}, wrt);
  for (size_t i = 0; i < wrt.size(); ++i) ExpectClose(got[i], expected[i]);
}

TEST(ShardedCallTest, ShardsRunOnThreadsOfTheirOwn) {
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::vector<int64_t> sizes;
  const BatchFunction f = [&](const std::vector<at::Tensor>& in) {
    const std::lock_guard<std::mutex> lock(mutex);
    threads.insert(std::this_thread::get_id());
    sizes.push_back(in[0].size(0));
    return in[0] * 2;
  };
  const at::Tensor x = at::arange(30, at::kFloat);
  ExpectClose(ShardedCall(f, {x}, {}, 3, /*min_shard_elements=*/1), x * 2);
  EXPECT_EQ(threads.size(), 3u);
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<int64_t>{10, 10, 10}));

  // Shards smaller than the minimum: as many as fit (at least one).
  sizes.clear();
  ShardedCall(f, {at::ones({30, 10})}, {}, 4, /*min_shard_elements=*/100);
  EXPECT_EQ(sizes, (std::vector<int64_t>{10, 10, 10}));
  sizes.clear();
  ShardedCall(f, {at::ones({2 * kMinShardElements - 1})}, {}, 4);
  EXPECT_EQ(sizes, (std::vector<int64_t>{2 * kMinShardElements - 1}));
}

TEST(ShardedCallTest, WithoutGradientsTheResultHasNoGraph) {
  Net net;
  const at::NoGradGuard no_grad;
  const BatchFunction f = [&](const std::vector<at::Tensor>& in) {
    return net(in);
  };
  const at::Tensor u = at::randn({16, 2, 6, 6});
  const at::Tensor t = at::rand({16});
  const at::Tensor out = ShardedCall(f, {u, t}, net.parameters, 2, 1);
  EXPECT_FALSE(out.requires_grad());
  ExpectClose(out, f({u, t}));
}

TEST(ShardedCallTest, AShardsErrorReachesTheCaller) {
  const BatchFunction f = [](const std::vector<at::Tensor>& in) {
    TORCH_CHECK(in[0].min().item<float>() < 8, "row out of range");
    return in[0];
  };
  EXPECT_THROW(ShardedCall(f, {at::arange(16, at::kFloat)}, {}, 2, 1),
               c10::Error);
}

TEST(ShardedCallTest, SecondBackwardWithoutRetainGraphFailsClearly) {
  Net net;
  const at::Tensor u = at::randn({16, 2, 6, 6}).requires_grad_(true);
  const at::Tensor out =
      ShardedCall([&](const std::vector<at::Tensor>& in) { return net(in); },
                  {u, at::rand({16})}, net.parameters, 2, 1);
  const at::Tensor loss = out.sum();
  loss.backward();
  try {
    loss.backward();
    FAIL() << "second backward succeeded";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mdm::util
