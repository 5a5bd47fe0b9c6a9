#include "mdm/sde/block_ops.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace mdm::sde {
namespace {

// Slow reference: loop over batch, K and data coordinates.
at::Tensor ApplyMatrixByLoops(const at::Tensor& M, const at::Tensor& u) {
  const int64_t batch = u.size(0), K = u.size(1), d = DataDim(u);
  const at::Tensor flat = u.reshape({batch, K, d}).to(at::kDouble);
  at::Tensor out = at::zeros({batch, K, d}, at::kDouble);
  for (int64_t b = 0; b < batch; ++b) {
    const at::Tensor Mb = (M.dim() == 3 ? M[b] : M).to(at::kDouble);
    for (int64_t i = 0; i < K; ++i) {
      for (int64_t j = 0; j < K; ++j) {
        for (int64_t x = 0; x < d; ++x) {
          out[b][i][x] +=
              Mb[i][j].item<double>() * flat[b][j][x].item<double>();
        }
      }
    }
  }
  return out.view(u.sizes());
}

TEST(BlockOpsTest, DataDimIsTheProductOfTrailingDims) {
  EXPECT_EQ(DataDim(at::zeros({4, 3, 2, 5, 7})), 70);
  EXPECT_EQ(DataDim(at::zeros({4, 3, 6})), 6);
  EXPECT_EQ(DataDim(at::zeros({4, 3})), 1);
}

TEST(BlockOpsTest, ApplyPerExampleMatrixToImageState) {
  const at::Tensor u = at::randn({3, 2, 1, 2, 3}, at::kDouble);
  const at::Tensor M = at::randn({3, 2, 2}, at::kDouble);
  EXPECT_TRUE(
      at::allclose(ApplyMatrix(M, u), ApplyMatrixByLoops(M, u), 1e-12, 1e-12));
}

TEST(BlockOpsTest, ApplySharedMatrixToVectorStateKeepsStateDtype) {
  const at::Tensor u = at::randn({4, 3, 5}, at::kFloat);
  const at::Tensor M = at::randn({3, 3}, at::kDouble);
  const at::Tensor out = ApplyMatrix(M, u);
  EXPECT_EQ(out.scalar_type(), at::kFloat);
  EXPECT_TRUE(
      at::allclose(out.to(at::kDouble), ApplyMatrixByLoops(M, u), 1e-5, 1e-5));
}

TEST(BlockOpsTest, QuadraticFormMatchesLoops) {
  const at::Tensor u = at::randn({3, 3, 2, 2}, at::kDouble);
  const at::Tensor w = at::randn({3, 3, 2, 2}, at::kDouble);
  const at::Tensor M = at::randn({3, 3, 3}, at::kDouble);
  const at::Tensor q = QuadraticForm(u, M, w);
  ASSERT_EQ(q.sizes(), at::IntArrayRef({3}));
  for (int64_t b = 0; b < 3; ++b) {
    double expected = 0;
    const at::Tensor ub = u[b].reshape({3, 4}), wb = w[b].reshape({3, 4});
    for (int64_t x = 0; x < 4; ++x) {
      for (int64_t i = 0; i < 3; ++i) {
        for (int64_t j = 0; j < 3; ++j) {
          expected += ub[i][x].item<double>() * M[b][i][j].item<double>() *
                      wb[j][x].item<double>();
        }
      }
    }
    EXPECT_NEAR(q[b].item<double>(), expected, 1e-12);
  }
}

TEST(BlockOpsTest, TraceOfBatch) {
  const at::Tensor M =
      at::tensor({1.0, 2.0, 3.0, 4.0, -1.0, 0.0, 5.0, 2.5}, at::kDouble)
          .view({2, 2, 2});
  const at::Tensor tr = Trace(M);
  EXPECT_DOUBLE_EQ(tr[0].item<double>(), 5.0);
  EXPECT_DOUBLE_EQ(tr[1].item<double>(), 1.5);
}

TEST(BlockOpsTest, ApplyMatrixIsDifferentiableInTheMatrix) {
  const at::Tensor u = at::randn({2, 2, 3}, at::kDouble);
  const at::Tensor M = at::randn({2, 2}, at::kDouble).requires_grad_();
  ApplyMatrix(M, u).sum().backward();
  // d/dM_ij sum_{b,k,x} (M u)_{b,k,x} = sum_{b,x} u_{b,j,x}, for every i.
  const at::Tensor expected = u.sum(at::IntArrayRef{0, 2}).expand({2, 2});
  EXPECT_TRUE(at::allclose(M.grad(), expected, 1e-12, 1e-12));
}

}  // namespace
}  // namespace mdm::sde
