#include "mdm/sde/linear_sde.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mdm::sde {
namespace {

at::TensorOptions Float64Like(const at::Tensor& t) {
  return t.options().dtype(at::kDouble);
}

std::string MatrixToString(const at::Tensor& m) {
  const at::Tensor cpu = m.detach().to(at::kCPU, at::kDouble).contiguous();
  std::ostringstream out;
  out.precision(6);
  out << "[";
  for (int64_t i = 0; i < cpu.size(0); ++i) {
    out << (i ? ", [" : "[");
    for (int64_t j = 0; j < cpu.size(1); ++j) {
      out << (j ? ", " : "") << cpu[i][j].item<double>();
    }
    out << "]";
  }
  out << "]";
  return out.str();
}

}  // namespace

at::Tensor DriftMatrix(const at::Tensor& Q, const at::Tensor& D,
                       const at::Tensor& stationary_var) {
  // Right-multiplying by S^{-1} divides column j by S_jj.
  return -(Q + D) / stationary_var.to(Q.dtype());
}

at::Tensor StationaryVariances(int64_t num_vars, double x_var, double aux_var) {
  // host: K x K constants; the SDE moves them to its matrices
  at::Tensor s = at::full({num_vars}, aux_var, at::kDouble);
  s[0] = x_var;
  return s;
}

at::Tensor FullInitialCov(int64_t num_vars) {
  // host: K x K constants; the SDE moves them to its matrices
  return at::zeros({num_vars, num_vars}, at::kDouble);
}

at::Tensor HybridInitialCov(int64_t num_vars, double init_aux_var) {
  // host: K x K constants; the SDE moves them to its matrices
  at::Tensor diag = at::full({num_vars}, init_aux_var, at::kDouble);
  diag[0] = 0.0;
  return at::diag(diag);
}

namespace {

constexpr int64_t kTaylorDegree = 24;

// A batch of times B prepared for exp(B X) with a small square X: each
// time is halved s >= 0 times, the fewest that make |h X|_1 <= 1 at
// h = B / 2^s (s = 0 for small B), so Taylor's series
// I + sum_k (h^k / k!) X^k, k <= 24, has terms below 1 and truncation
// error below 1e-25; the caller squares each result back s times. On the
// CPU the squarings are fused per time (FusedSquaring) and the rows keep
// their order; elsewhere the times are sorted by s, most first, so
// squaring level i works on the prefix of the batch that still needs it
// (no masks, no wasted products, and autograd records only the rows that
// change). B carries no gradient.
struct HalvedTimes {
  at::Tensor coefficients;  // h^k / k!, k = 1..24: [batch, 24].
  at::Tensor halvings;      // s per row: [batch] int64.
  bool sorted = false;
  at::Tensor inverse_order;            // Sorted: the row of each original time.
  std::vector<int64_t> squaring_rows;  // Sorted: level i squares [0, this).
};

HalvedTimes HalveTimes(const at::Tensor& B, double norm, SquaringPath path) {
  HalvedTimes times;
  times.sorted =
      path == SquaringPath::kBatchedOperations || !B.device().is_cpu();
  at::Tensor halvings =
      at::ceil(at::log2(B.detach().abs() * norm)).clamp_min(0);
  at::Tensor b = B.detach();
  if (times.sorted) {
    const at::Tensor order =
        at::argsort(halvings, /*dim=*/0, /*descending=*/true);
    halvings = halvings.index_select(0, order);
    b = b.index_select(0, order);
    times.inverse_order = at::argsort(order);
    const at::Tensor counts =
        at::bincount(halvings.to(at::kLong).cpu());  // Times per s.
    int64_t remaining = B.size(0);
    for (int64_t s = 0; s + 1 < counts.size(0); ++s) {
      remaining -= counts[s].item<int64_t>();
      times.squaring_rows.push_back(remaining);
    }
  }
  const at::Tensor h = b * at::exp2(-halvings);
  const at::Tensor exponents = at::arange(1, kTaylorDegree + 1, h.options());
  times.coefficients = at::exp(exponents * at::log(h).unsqueeze(1) -
                               at::lgamma(exponents + 1).unsqueeze(0))
                           .nan_to_num(0.0);  // h = 0: every coefficient 0.
  times.halvings = halvings.to(at::kLong);
  return times;
}

// X^k for k = 1..24, by doubling batches: [X] -> [X, X^2] -> [X .. X^4]
// -> ..., one batched product per doubling: [24, n, n].
at::Tensor TaylorPowers(const at::Tensor& X) {
  at::Tensor powers = X.unsqueeze(0);
  while (powers.size(0) < kTaylorDegree) {
    const int64_t have = powers.size(0);
    const int64_t add = std::min(have, kTaylorDegree - have);
    powers = at::cat(
        {powers, at::matmul(powers[have - 1], powers.narrow(0, 0, add))});
  }
  return powers;
}

// sum_k (h^k / k!) P_k for a block P of the powers ([24, r, c]), [batch,
// r, c] in the times' row order. A broadcast product summed over k, not one
// GEMM of the batch: BLAS may round a GEMM's rows differently with the
// number of rows (OpenBLAS's Zen kernels do), and a time's kernel must not
// depend on its batch.
at::Tensor Series(const HalvedTimes& times, const at::Tensor& powers) {
  return (times.coefficients.view({-1, kTaylorDegree, 1}) *
          powers.reshape({1, kTaylorDegree, -1}))
      .sum(1)
      .view({-1, powers.size(1), powers.size(2)});
}

// The squaring chain on the CPU, fused: per time, its s doublings
//   M <- M M,  F <- M F M^T + F  (F optional)
// in plain loops over K x K float64 matrices, forward and backward (the
// batched-operations chain records about five autograd nodes per level,
// and at a few hundred times of a small process those nodes, not the
// arithmetic, are the kernel's cost). The backward recomputes each time's
// levels from its inputs and runs them in reverse:
//   dM_prev = dF M F^T + dF^T M F + dM M^T + M^T dM,
//   dF_prev = M^T dF M + dF.
class FusedSquaring : public torch::autograd::Function<FusedSquaring> {
 public:
  // M_h, F_h: [batch, K, K] float64 CPU (F_h empty, [0]: M only);
  // halvings: [batch] int64.
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& M_h,
      const at::Tensor& F_h, const at::Tensor& halvings) {
    ctx->save_for_backward({M_h, F_h, halvings});
    at::Tensor M = M_h.contiguous().clone();
    at::Tensor F = F_h.dim() == 3 ? F_h.contiguous().clone() : at::Tensor();
    const int64_t K = M.size(1);
    std::vector<double> MF(K * K), MM(K * K), MFMt(K * K);
    const int64_t* s = halvings.data_ptr<int64_t>();
    for (int64_t b = 0; b < M.size(0); ++b) {
      double* m = M.data_ptr<double>() + b * K * K;
      double* f = F.defined() ? F.data_ptr<double>() + b * K * K : nullptr;
      for (int64_t level = 0; level < s[b]; ++level) {
        if (f != nullptr) {
          Product(m, f, MF.data(), K, false, false);
          Product(MF.data(), m, MFMt.data(), K, false, true);
          for (int64_t i = 0; i < K * K; ++i) f[i] += MFMt[i];
        }
        Product(m, m, MM.data(), K, false, false);
        std::copy(MM.begin(), MM.end(), m);
      }
    }
    return {M, F.defined() ? F : at::zeros_like(M)};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor M_h = saved[0].contiguous();
    const at::Tensor& F_h = saved[1];
    const bool has_F = F_h.dim() == 3;
    const at::Tensor F_in = has_F ? F_h.contiguous() : at::Tensor();
    const at::Tensor halvings = saved[2];
    const int64_t n = M_h.size(0), K = M_h.size(1), KK = K * K;
    at::Tensor gM = grads[0].defined() ? grads[0].contiguous().clone()
                                       : at::zeros_like(M_h);
    at::Tensor gF = has_F && grads[1].defined() ? grads[1].contiguous().clone()
                                                : at::zeros_like(M_h);
    const int64_t* s = halvings.data_ptr<int64_t>();
    std::vector<double> Ms, Fs, t1(KK), t2(KK), gm(KK), gf(KK);
    for (int64_t b = 0; b < n; ++b) {
      // The levels' inputs, recomputed: Ms[level], Fs[level].
      Ms.assign(M_h.data_ptr<double>() + b * KK,
                M_h.data_ptr<double>() + (b + 1) * KK);
      Fs.assign(KK, 0.0);
      if (has_F) {
        std::copy(F_in.data_ptr<double>() + b * KK,
                  F_in.data_ptr<double>() + (b + 1) * KK, Fs.begin());
      }
      for (int64_t level = 0; level + 1 < s[b]; ++level) {
        const double* m = Ms.data() + level * KK;
        const double* f = Fs.data() + level * KK;
        Product(m, f, t1.data(), K, false, false);
        Product(t1.data(), m, t2.data(), K, false, true);
        for (int64_t i = 0; i < KK; ++i) t2[i] += f[i];
        Fs.insert(Fs.end(), t2.begin(), t2.end());
        Product(m, m, t1.data(), K, false, false);
        Ms.insert(Ms.end(), t1.begin(), t1.end());
      }
      double* dm = gM.data_ptr<double>() + b * KK;
      double* df = gF.data_ptr<double>() + b * KK;
      for (int64_t level = s[b] - 1; level >= 0; --level) {
        const double* m = Ms.data() + level * KK;
        const double* f = Fs.data() + level * KK;
        // From M' = M M.
        Product(dm, m, gm.data(), K, false, true);
        Product(m, dm, t1.data(), K, true, false);
        for (int64_t i = 0; i < KK; ++i) gm[i] += t1[i];
        if (has_F) {
          // From F' = M F M^T + F.
          Product(df, m, t1.data(), K, false, false);
          Product(t1.data(), f, t2.data(), K, false, true);  // dF M F^T
          for (int64_t i = 0; i < KK; ++i) gm[i] += t2[i];
          Product(df, m, t1.data(), K, true, false);          // dF^T M
          Product(t1.data(), f, t2.data(), K, false, false);  // dF^T M F
          for (int64_t i = 0; i < KK; ++i) gm[i] += t2[i];
          Product(m, df, t1.data(), K, true, false);          // M^T dF
          Product(t1.data(), m, gf.data(), K, false, false);  // M^T dF M
          for (int64_t i = 0; i < KK; ++i) df[i] += gf[i];
        }
        std::copy(gm.begin(), gm.end(), dm);
      }
    }
    return {gM, has_F ? gF : at::Tensor(), at::Tensor()};
  }

 private:
  // c = op(a) op(b) for K x K row-major matrices, op = transpose or not.
  static void Product(const double* a, const double* b, double* c, int64_t K,
                      bool transpose_a, bool transpose_b) {
    for (int64_t i = 0; i < K; ++i) {
      for (int64_t j = 0; j < K; ++j) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k) {
          sum += (transpose_a ? a[k * K + i] : a[i * K + k]) *
                 (transpose_b ? b[j * K + k] : b[k * K + j]);
        }
        c[i * K + j] = sum;
      }
    }
  }
};

// Squares each time's (M, F) back s times: FusedSquaring on the CPU;
// elsewhere `square` (which maps the rows it is given to their
// doubled-interval values) level by level on the shrinking prefix. Returns
// every row's final value in the times' original order.
std::vector<at::Tensor> SquareBack(
    const HalvedTimes& times, std::vector<at::Tensor> values,
    const std::function<
        std::vector<at::Tensor>(const std::vector<at::Tensor>&)>& square) {
  if (!times.sorted) {
    torch::autograd::variable_list out = FusedSquaring::apply(
        values[0],
        values.size() > 1 ? values[1] : at::empty({0}, values[0].options()),
        times.halvings);
    out.resize(values.size());
    return out;
  }
  // finished[v]: chunks of value v whose squaring is done, last rows first.
  std::vector<std::vector<at::Tensor>> finished(values.size());
  for (const int64_t rows : times.squaring_rows) {
    for (size_t v = 0; v < values.size(); ++v) {
      const int64_t total = values[v].size(0);
      finished[v].push_back(values[v].narrow(0, rows, total - rows));
      values[v] = values[v].narrow(0, 0, rows);
    }
    values = square(values);
  }
  for (size_t v = 0; v < values.size(); ++v) {
    finished[v].push_back(values[v]);
    std::reverse(finished[v].begin(), finished[v].end());
    values[v] = at::cat(finished[v]).index_select(0, times.inverse_order);
  }
  return values;
}

}  // namespace

KernelMoments MatrixFractionMoments(const at::Tensor& A, const at::Tensor& D,
                                    const at::Tensor& int_beta,
                                    const at::Tensor& initial_cov,
                                    SquaringPath path) {
  TORCH_CHECK(A.dim() == 2 && A.size(0) == A.size(1), "A must be [K, K], got ",
              A.sizes());
  TORCH_CHECK(D.sizes() == A.sizes(), "D must be [K, K] like A, got ",
              D.sizes());
  TORCH_CHECK(initial_cov.sizes() == A.sizes(),
              "initial_cov must be [K, K] like A, got ", initial_cov.sizes());
  TORCH_CHECK(int_beta.dim() == 1, "int_beta must be [batch], got ",
              int_beta.sizes());
  const int64_t K = A.size(0);
  const at::Tensor A64 = A.to(at::kDouble);
  const at::Tensor D64 = D.to(at::kDouble);
  const at::Tensor sigma0 = initial_cov.to(A64.options());
  const at::Tensor B = int_beta.to(A64.options());
  if (B.numel() == 0) {
    const at::Tensor empty = at::empty({0, K, K}, A64.options());
    return KernelMoments{.mean_coef = empty, .cov = empty};
  }

  const at::Tensor block =
      at::cat({at::cat({A64, 2.0 * D64}, 1),
               at::cat({at::zeros_like(A64), -A64.t()}, 1)},
              0);  // [2K, 2K]

  // The kernel depends on t only through B, and A and D are tiny, so the
  // exponentials of all times share one set of powers of `block`
  // (HalveTimes, TaylorPowers): exp(h block) at h = B / 2^s gives
  // M(h) = Phi_11 and Sigma_F(h) = Phi_12 M(h)^T (only the top blocks of
  // the powers are summed), doubled s times:
  //   Sigma_F(2h) = M(h) Sigma_F(h) M(h)^T + Sigma_F(h), M(2h) = M(h)^2.
  // Doubling adds positive semi-definite terms: no cancellation, however
  // large B |A| (the plain Phi_12 M^T of exp(B block) loses every digit
  // there, and overflows past B |A| ~ 700). s is chosen per time, so a
  // time's kernel does not depend on the rest of its batch. Gradients flow
  // through the products to Q and D; few, batched operations on only the
  // rows that change keep autograd cheap (this is most of a small
  // network's training step).
  const HalvedTimes times =
      HalveTimes(B, block.detach().abs().sum(0).max().item<double>(), path);
  const at::Tensor top = TaylorPowers(block).narrow(1, 0, K);  // [24, K, 2K]
  const at::Tensor M_h =
      at::eye(K, A64.options()) + Series(times, top.narrow(2, 0, K));
  const at::Tensor forced_h =
      at::matmul(Series(times, top.narrow(2, K, K)), M_h.transpose(1, 2));
  const std::vector<at::Tensor> doubled =
      SquareBack(times, {M_h, forced_h}, [](const std::vector<at::Tensor>& v) {
        const at::Tensor& M = v[0];
        const at::Tensor& forced = v[1];
        return std::vector<at::Tensor>{
            at::matmul(M, M),
            at::matmul(at::matmul(M, forced), M.transpose(1, 2)) + forced};
      });
  const at::Tensor& M = doubled[0];
  // Batched products of K x K matrices (sigma0 expanded, not folded into
  // one GEMM of the batch's rows): row by row, whatever the batch.
  at::Tensor cov =
      at::matmul(at::matmul(M, sigma0.expand_as(M)), M.transpose(1, 2)) +
      doubled[1];
  cov = 0.5 * (cov + cov.transpose(1, 2));  // Remove rounding asymmetry.
  return KernelMoments{.mean_coef = M, .cov = cov};
}

at::Tensor MatrixExponentials(const at::Tensor& A, const at::Tensor& int_beta,
                              SquaringPath path) {
  TORCH_CHECK(A.dim() == 2 && A.size(0) == A.size(1), "A must be [K, K], got ",
              A.sizes());
  TORCH_CHECK(int_beta.dim() == 1, "int_beta must be [batch], got ",
              int_beta.sizes());
  const at::Tensor A64 = A.to(at::kDouble);
  const at::Tensor B = int_beta.to(A64.options());
  if (B.numel() == 0)
    return at::empty({0, A.size(0), A.size(0)}, A64.options());
  const HalvedTimes times =
      HalveTimes(B, A64.detach().abs().sum(0).max().item<double>(), path);
  const at::Tensor M_h =
      at::eye(A.size(0), A64.options()) + Series(times, TaylorPowers(A64));
  return SquareBack(times, {M_h}, [](const std::vector<at::Tensor>& v) {
    return std::vector<at::Tensor>{at::matmul(v[0], v[0])};
  })[0];
}

LinearSde::LinearSde(at::Tensor Q, at::Tensor D, at::Tensor stationary_var,
                     BetaSchedule schedule)
    : Q_(std::move(Q)),
      D_(std::move(D)),
      stationary_var_(std::move(stationary_var)),
      schedule_(schedule) {
  TORCH_CHECK(Q_.dim() == 2 && Q_.size(0) == Q_.size(1),
              "Q must be [K, K], got ", Q_.sizes());
  TORCH_CHECK(D_.sizes() == Q_.sizes(), "D must be [K, K] like Q, got ",
              D_.sizes());
  TORCH_CHECK(
      stationary_var_.dim() == 1 && stationary_var_.size(0) == Q_.size(0),
      "stationary_var must be [K], got ", stationary_var_.sizes());
  D64_ = D_.to(Float64Like(D_));
  A_ = DriftMatrix(Q_.to(Float64Like(Q_)), D64_,
                   stationary_var_.to(Float64Like(Q_)));
}

at::Tensor LinearSde::StationaryCov() const {
  return at::diag(stationary_var_.to(A_.options()));
}

KernelMoments LinearSde::Moments(const at::Tensor& t,
                                 const at::Tensor& initial_cov) const {
  return MatrixFractionMoments(
      A_, D64_, schedule_.IntegratedBeta(t.to(A_.options())), initial_cov);
}

absl::StatusOr<TransitionKernel> FactorizeKernel(
    KernelMoments moments, const CholeskyOptions& cholesky_options,
    absl::FunctionRef<std::string(int64_t)> describe) {
  absl::StatusOr<CholeskyFactor> factor =
      SafeCholesky(moments.cov, cholesky_options, describe);
  if (!factor.ok()) return factor.status();
  const int64_t K = moments.cov.size(-1);
  const at::Tensor eye =
      at::eye(K, moments.cov.options()).expand_as(factor->chol);
  const at::Tensor chol_inv =
      at::linalg_solve_triangular(factor->chol, eye, /*upper=*/false);
  return TransitionKernel{
      .mean_coef = std::move(moments.mean_coef),
      .cov = std::move(moments.cov),
      .chol = factor->chol,
      .chol_inv_t = chol_inv.transpose(1, 2),
      .jitter = factor->jitter,
  };
}

absl::StatusOr<TransitionKernel> LinearSde::Kernel(
    const at::Tensor& t, const at::Tensor& initial_cov,
    const CholeskyOptions& cholesky_options) const {
  auto describe = [&](int64_t index) {
    return absl::StrCat("the transition kernel's covariance at t = ",
                        t.detach().flatten()[index].item<double>(),
                        " with Q = ", MatrixToString(Q_),
                        " and D = ", MatrixToString(D_));
  };
  return FactorizeKernel(Moments(t, initial_cov), cholesky_options, describe);
}

}  // namespace mdm::sde
