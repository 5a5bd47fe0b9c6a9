#include "mdm/util/sharded_call.h"

#include <ATen/ATen.h>
#include <ATen/ThreadLocalState.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/saved_variable.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <thread>
#include <utility>

#include "mdm/util/runtime_info.h"

namespace mdm::util {
namespace {

using torch::autograd::SavedVariable;
using torch::autograd::variable_list;

// Runs body(i) for i in [0, n), i = 0 on the calling thread, the others on
// threads of their own with the caller's thread-local state (grad mode and
// the like). Rethrows the first exception after all have finished.
void RunOnThreads(int n, const std::function<void(int)>& body) {
  const at::ThreadLocalState state;
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::thread> threads;
  threads.reserve(n - 1);
  for (int i = 1; i < n; ++i) {
    threads.emplace_back([&, i] {
      InitComputeThread();
      const at::ThreadLocalStateGuard guard(state);
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  try {
    body(0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

struct Shard {
  int64_t begin = 0, size = 0;
  std::vector<at::Tensor> inputs;  // Detached views, leaves of `output`.
  at::Tensor output;               // With its own graph.
};

// The backward of a sharded call. Its next edges are the call's inputs,
// then its parameters.
class ShardedCallBackward : public torch::autograd::Node {
 public:
  ShardedCallBackward(BatchFunction f, const std::vector<at::Tensor>& inputs,
                      std::vector<at::Tensor> parameters,
                      std::vector<Shard> shards)
      : f_(std::move(f)),
        parameters_(std::move(parameters)),
        shards_(std::move(shards)) {
    for (const at::Tensor& input : inputs) {
      inputs_.emplace_back(input, /*is_output=*/false);
    }
  }

  std::string name() const override { return "ShardedCallBackward"; }

  variable_list apply(variable_list&& grads) override {
    variable_list result(num_outputs());
    const at::Tensor& grad = grads[0];
    if (!grad.defined()) return result;
    if (at::GradMode::is_enabled()) return Recompute(grad);
    TORCH_CHECK(!released_,
                "ShardedCall: backward through the graph a second time; "
                "pass retain_graph=true the first time");
    const size_t n_inputs = inputs_.size();
    // Which of inputs and parameters get a gradient.
    std::vector<size_t> wanted;
    for (size_t k = 0; k < num_outputs(); ++k) {
      const at::Tensor& target =
          k < n_inputs ? shards_[0].inputs[k] : parameters_[k - n_inputs];
      if (target.requires_grad() && should_compute_output(k)) {
        wanted.push_back(k);
      }
    }
    if (wanted.empty()) return result;
    std::vector<variable_list> shard_grads(shards_.size());
    RunOnThreads(static_cast<int>(shards_.size()), [&](int i) {
      const Shard& shard = shards_[i];
      variable_list targets;
      for (size_t k : wanted) {
        targets.push_back(k < n_inputs ? shard.inputs[k]
                                       : parameters_[k - n_inputs]);
      }
      shard_grads[i] = torch::autograd::grad(
          {shard.output}, targets, {grad.narrow(0, shard.begin, shard.size)},
          /*retain_graph=*/true, /*create_graph=*/false,
          /*allow_unused=*/true);
    });
    for (size_t w = 0; w < wanted.size(); ++w) {
      const size_t k = wanted[w];
      if (k < n_inputs) {
        std::vector<at::Tensor> pieces;
        for (size_t i = 0; i < shards_.size(); ++i) {
          const at::Tensor& g = shard_grads[i][w];
          pieces.push_back(g.defined() ? g
                                       : at::zeros_like(shards_[i].inputs[k]));
        }
        result[k] = at::cat(pieces, 0);
      } else {
        at::Tensor sum;
        for (size_t i = 0; i < shards_.size(); ++i) {
          const at::Tensor& g = shard_grads[i][w];
          if (g.defined()) sum = sum.defined() ? sum + g : g;
        }
        result[k] = sum;
      }
    }
    return result;
  }

  void release_variables() override {
    shards_.clear();
    for (SavedVariable& input : inputs_) input.reset_data();
    released_ = true;
  }

 private:
  // A backward that builds a graph: the call again, whole and serial, so
  // that the gradients it returns are functions of the inputs themselves.
  variable_list Recompute(const at::Tensor& grad) {
    TORCH_CHECK(!released_,
                "ShardedCall: backward through the graph a second time; "
                "pass retain_graph=true the first time");
    variable_list inputs;
    for (const SavedVariable& input : inputs_) {
      inputs.push_back(input.unpack());
    }
    const at::Tensor output = f_(inputs);
    variable_list result(num_outputs());
    variable_list targets;
    std::vector<size_t> wanted;
    for (size_t k = 0; k < num_outputs(); ++k) {
      const at::Tensor& target =
          k < inputs.size() ? inputs[k] : parameters_[k - inputs.size()];
      if (target.requires_grad() && should_compute_output(k)) {
        wanted.push_back(k);
        targets.push_back(target);
      }
    }
    if (targets.empty()) return result;
    const variable_list grads =
        torch::autograd::grad({output}, targets, {grad}, /*retain_graph=*/true,
                              /*create_graph=*/true, /*allow_unused=*/true);
    for (size_t w = 0; w < wanted.size(); ++w) {
      const size_t k = wanted[w];
      result[k] = grads[w].defined() || k >= inputs.size()
                      ? grads[w]
                      : at::zeros_like(inputs[k]);
    }
    return result;
  }

  BatchFunction f_;
  std::vector<SavedVariable> inputs_;
  std::vector<at::Tensor> parameters_;
  std::vector<Shard> shards_;
  bool released_ = false;
};

}  // namespace

at::Tensor ShardedCall(const BatchFunction& f,
                       const std::vector<at::Tensor>& inputs,
                       const std::vector<at::Tensor>& parameters, int shards,
                       int64_t min_shard_elements) {
  TORCH_CHECK(!inputs.empty(), "ShardedCall: no inputs");
  const int64_t batch = inputs[0].size(0);
  for (const at::Tensor& input : inputs) {
    TORCH_CHECK(input.dim() >= 1 && input.size(0) == batch,
                "ShardedCall: inputs differ in batch size: ", batch, " and ",
                input.sizes());
  }
  const int count = static_cast<int>(std::min<int64_t>(
      {shards, batch,
       inputs[0].numel() / std::max<int64_t>(1, min_shard_elements)}));
  if (count <= 1 || !inputs[0].is_cpu()) return f(inputs);

  bool requires_grad = false;
  if (at::GradMode::is_enabled()) {
    for (const at::Tensor& t : inputs) requires_grad |= t.requires_grad();
    for (const at::Tensor& t : parameters) requires_grad |= t.requires_grad();
  }
  std::vector<Shard> pieces(count);
  for (int i = 0; i < count; ++i) {
    pieces[i].begin = batch * i / count;
    pieces[i].size = batch * (i + 1) / count - pieces[i].begin;
    for (const at::Tensor& input : inputs) {
      at::Tensor piece = input.narrow(0, pieces[i].begin, pieces[i].size);
      if (requires_grad) {
        piece = piece.detach().requires_grad_(input.requires_grad());
      }
      pieces[i].inputs.push_back(std::move(piece));
    }
  }
  RunOnThreads(count, [&](int i) {
    pieces[i].output = f(pieces[i].inputs);
    TORCH_CHECK(pieces[i].output.dim() >= 1 &&
                    pieces[i].output.size(0) == pieces[i].size,
                "ShardedCall: the function's output ", pieces[i].output.sizes(),
                " does not have the batch first");
  });
  std::vector<at::Tensor> outputs;
  for (const Shard& piece : pieces) outputs.push_back(piece.output);
  if (!requires_grad) return at::cat(outputs, 0);

  at::Tensor output;
  {
    const at::NoGradGuard no_grad;
    output = at::cat(outputs, 0);
  }
  std::vector<at::Tensor> edges = inputs;
  edges.insert(edges.end(), parameters.begin(), parameters.end());
  auto node = std::shared_ptr<ShardedCallBackward>(
      new ShardedCallBackward(f, inputs, parameters, std::move(pieces)),
      torch::autograd::deleteNode);
  node->set_next_edges(
      torch::autograd::collect_next_edges(at::ArrayRef<at::Tensor>(edges)));
  torch::autograd::set_history(output, node);
  return output;
}

}  // namespace mdm::util
