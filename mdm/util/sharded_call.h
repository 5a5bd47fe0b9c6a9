// Runs a function of a batch on several threads at once, one shard of the
// batch each, for CPU work whose LibTorch kernels do not use the cores
// themselves (Debian's LibTorch computes transposed convolutions, a third
// of a TinyUNet step, on one thread whatever its intra-op setting).
// Every thread computes its shard serially; SetComputeThreads
// (runtime_info.h) makes LibTorch's own kernels serial for that reason.
//
// The result is the function of the whole batch, assembled along dim 0,
// and differentiable like it: gradients reach the inputs and `parameters`
// (each shard's backward on its own thread, parameter gradients summed
// over the shards), and a backward that builds a graph (create_graph, as
// divergence estimators do) recomputes the function serially so that
// second derivatives are exact. It requires `f` to treat the batch's rows
// independently and deterministically (no batch statistics, no random
// draws; the caller passes shards = 1 otherwise), and it makes one call
// on non-CPU tensors and when a shard's first input would hold fewer than
// `min_shard_elements` numbers (a 2-D MLP's batch costs less than the
// threads).
//
// Example:
//   at::Tensor out = util::ShardedCall(
//       [&](const std::vector<at::Tensor>& in) {
//         return network->forward(in[0], in[1]);
//       },
//       {u, t}, network->parameters(), util::ComputeThreads());
#ifndef MDM_UTIL_SHARDED_CALL_H_
#define MDM_UTIL_SHARDED_CALL_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace mdm::util {

using BatchFunction =
    std::function<at::Tensor(const std::vector<at::Tensor>& inputs)>;

// f(inputs) computed in up to `shards` pieces along dim 0 (all inputs share
// that size), each on its own thread. `parameters`: the tensors f reads
// besides its inputs that may need gradients. `f` (and what it refers to)
// must stay valid while the result's graph does. The default minimum
// shard: 16,384 numbers (a 28x28 image with K = 3 holds 2,352).
inline constexpr int64_t kMinShardElements = 1 << 14;
at::Tensor ShardedCall(const BatchFunction& f,
                       const std::vector<at::Tensor>& inputs,
                       const std::vector<at::Tensor>& parameters, int shards,
                       int64_t min_shard_elements = kMinShardElements);

}  // namespace mdm::util

#endif  // MDM_UTIL_SHARDED_CALL_H_
