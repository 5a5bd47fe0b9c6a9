#include "mdm/diffusions/processes.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "mdm/sde/linear_sde.h"

namespace mdm::diffusions {
namespace {

at::Tensor Matrix(std::vector<double> entries, int64_t K) {
  return at::tensor(entries, at::kDouble).view({K, K});
}

void ExpectEqual(const at::Tensor& actual, const at::Tensor& expected) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, 1e-15))
      << "actual\n"
      << actual << "\nexpected\n"
      << expected;
}

double StationarityResidual(const QdMatrices& qd, const at::Tensor& s) {
  const at::Tensor A = sde::DriftMatrix(qd.Q, qd.D, s);
  const at::Tensor S = at::diag(s);
  return (at::matmul(A, S) + at::matmul(S, A.t()) + 2 * qd.D)
      .abs()
      .max()
      .item<double>();
}

TEST(ProcessesTest, Vpsde) {
  const QdMatrices qd = VpsdeMatrices();
  ExpectEqual(qd.Q, Matrix({0.0}, 1));
  ExpectEqual(qd.D, Matrix({0.5}, 1));
  // A = -1/2: drift -beta x / 2.
  ExpectEqual(sde::DriftMatrix(qd.Q, qd.D, sde::StationaryVariances(1, 1, 1)),
              Matrix({-0.5}, 1));
}

TEST(ProcessesTest, CldIsCriticallyDamped) {
  const QdMatrices qd = CldMatrices(/*stationary_aux_var=*/0.25);
  ExpectEqual(qd.Q, Matrix({0, -1, 1, 0}, 2));
  ExpectEqual(qd.D, Matrix({0, 0, 0, 1.0}, 2));  // Gamma = 2 sqrt(0.25).
  // With S = diag(1, 0.25): A = -(Q + D) S^{-1} = [[0, 4], [-1, -4]].
  const at::Tensor A =
      sde::DriftMatrix(qd.Q, qd.D, sde::StationaryVariances(2, 1.0, 0.25));
  ExpectEqual(A, Matrix({0, 4, -1, -4}, 2));
  // Critical damping: A has the double eigenvalue -2.
  const at::Tensor eigenvalues = at::real(at::linalg_eigvals(A));
  EXPECT_NEAR(eigenvalues[0].item<double>(), -2.0, 1e-6);
  EXPECT_NEAR(eigenvalues[1].item<double>(), -2.0, 1e-6);
}

TEST(ProcessesTest, Malda) {
  const QdMatrices qd = MaldaMatrices(4, /*stationary_aux_var=*/4.0);
  ExpectEqual(qd.Q, Matrix({0, -1, -1, -1,  //
                            1, 0, -1, -1,   //
                            1, 1, 0, -1,    //
                            1, 1, 1, 0},
                           4));
  ExpectEqual(qd.D, at::diag(at::tensor({0.0, 4.0, 4.0, 4.0}, at::kDouble)));
}

TEST(ProcessesTest, Alda) {
  const QdMatrices qd =
      AldaMatrices(/*stationary_aux_var=*/0.5, /*gamma=*/0.7, /*psi=*/3.0);
  // L = 1 / 0.5 = 2.
  ExpectEqual(qd.Q, Matrix({0, -0.5, 0, 0.5, 0, -0.7, 0, 0.7, 0}, 3));
  ExpectEqual(qd.D, at::diag(at::tensor({0.0, 0.0, 1.5}, at::kDouble)));
}

TEST(ProcessesTest, EveryProcessHasTheStationaryLawNOfS) {
  for (double aux : {0.25, 1.0, 3.0}) {
    EXPECT_LT(StationarityResidual(VpsdeMatrices(),
                                   sde::StationaryVariances(1, 1.0, aux)),
              1e-12);
    EXPECT_LT(StationarityResidual(CldMatrices(aux),
                                   sde::StationaryVariances(2, 1.0, aux)),
              1e-12);
    EXPECT_LT(StationarityResidual(MaldaMatrices(3, aux),
                                   sde::StationaryVariances(3, 1.0, aux)),
              1e-12);
    EXPECT_LT(StationarityResidual(AldaMatrices(aux, 1.0, 1.0),
                                   sde::StationaryVariances(3, 1.0, aux)),
              1e-12);
  }
}

}  // namespace
}  // namespace mdm::diffusions
