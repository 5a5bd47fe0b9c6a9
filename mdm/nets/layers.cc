#include "mdm/nets/layers.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

#include "mdm/util/torch_compat.h"

namespace mdm::nets {

using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;

Conv2d Conv3x3(int64_t in, int64_t out) {
  return Conv2d(Conv2dOptions(in, out, 3).padding(1));
}

Conv2d Conv1x1(int64_t in, int64_t out) {
  return Conv2d(Conv2dOptions(in, out, 1));
}

namespace {

// Whether ConvTranspose2dTo computes conv of x as one GEMM over the batch.
bool TakesBatchedRoute(const torch::nn::ConvTranspose2d& conv,
                       const at::Tensor& x) {
  const auto& options = conv->options;
  const std::array<int64_t, 2> ones = {1, 1};
  const bool plain =
      options.groups() == 1 && *options.dilation() == ones &&
      util::TorchGetIf<torch::ExpandingArray<2>>(options.padding()) != nullptr;
  // The single GEMM was measured against LibTorch's CPU kernel only; an
  // accelerator keeps LibTorch's own (cuDNN's).
  return plain && x.size(2) * x.size(3) <= kBatchedTransposedConvPixels &&
         x.is_cpu();
}

}  // namespace

at::Tensor ConvTranspose2dTo(torch::nn::ConvTranspose2d& conv,
                             const at::Tensor& x, at::IntArrayRef output_size) {
  if (!TakesBatchedRoute(conv, x)) return conv->forward(x, output_size.vec());
  const auto& options = conv->options;
  const at::Tensor& weight = conv->weight;  // [Cin, Cout, kh, kw]
  const int64_t batch = x.size(0), in = x.size(1);
  const int64_t pixels = x.size(2) * x.size(3);
  const int64_t out = weight.size(1);
  const int64_t kh = weight.size(2), kw = weight.size(3);
  const auto& padding =
      *util::TorchGetIf<torch::ExpandingArray<2>>(options.padding());
  // cols [Cout kh kw, B H W] = W^T [Cout kh kw, Cin] x [Cin, B H W].
  const at::Tensor cols =
      weight.reshape({in, out * kh * kw})
          .t()
          .mm(x.transpose(0, 1).reshape({in, batch * pixels}));
  at::Tensor y = at::col2im(
      cols.view({out * kh * kw, batch, pixels}).transpose(0, 1), output_size,
      {kh, kw}, /*dilation=*/{1, 1}, *padding, *options.stride());
  if (conv->bias.defined()) y = y + conv->bias.view({1, out, 1, 1});
  return y;
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// GroupNorm's statistics and output for x [N, C, ...] (contiguous), as
// at::group_norm computes them: (y, mean, rstd).
std::tuple<at::Tensor, at::Tensor, at::Tensor> NativeGroupNorm(
    const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta,
    int64_t groups, double eps) {
  const int64_t N = x.size(0), C = x.size(1);
  return at::native_group_norm(x, gamma, beta, N, C, x.numel() / (N * C),
                               groups, eps);
}

// GroupNorm's output y and statistics, recomputed from x in a backward.
struct Normalized {
  at::Tensor y, mean, rstd;
};

Normalized Normalize(const at::Tensor& x, const at::Tensor& gamma,
                     const at::Tensor& beta, int64_t groups, double eps) {
  auto [y, mean, rstd] = NativeGroupNorm(x, gamma, beta, groups, eps);
  return {std::move(y), std::move(mean), std::move(rstd)};
}

// The backward of SiLU(GroupNorm(x)) given the gradient to its output and
// `n` = Normalize(x, ...), whose normalized values it releases as soon as
// they are used; `grad` too, whose memory it reuses when nothing else holds
// it (a gradient the caller computed and moved in, not one autograd passed
// to it). Returns the gradients to x, gamma and beta (undefined where `mask`
// says none is needed).
std::tuple<at::Tensor, at::Tensor, at::Tensor> GroupNormSiLUBackward(
    at::Tensor grad, Normalized n, const at::Tensor& x, const at::Tensor& gamma,
    const at::Tensor& beta, int64_t groups, std::array<bool, 3> mask) {
  if (at::GradMode::is_enabled()) {
    // This backward is itself differentiated (create_graph, as in the ISM
    // ELBO). LibTorch's GroupNorm backward kernel has no derivative, so
    // differentiate the recomputed composition (n.y was recomputed with
    // its graph) as autograd would.
    const std::array<at::Tensor, 3> inputs = {x, gamma, beta};
    std::vector<at::Tensor> wrt;
    for (int i = 0; i < 3; ++i) {
      if (mask[i]) wrt.push_back(inputs[i]);
    }
    if (wrt.empty()) return {};
    std::vector<at::Tensor> grads =
        torch::autograd::grad({at::silu(n.y)}, wrt, {grad},
                              /*retain_graph=*/true, /*create_graph=*/true);
    std::array<at::Tensor, 3> result;
    for (int i = 0, k = 0; i < 3; ++i) {
      if (mask[i]) result[i] = grads[k++];
    }
    return {result[0], result[1], result[2]};
  }
  // The kernels, and the contiguity, of LibTorch's own derivatives. The
  // elementwise SiLU derivative may overwrite its gradient in place, which
  // gives the same values and one activation-sized buffer less at the
  // network's peak.
  at::Tensor dy;
  if (grad.use_count() == 1 && grad.storage().use_count() == 1 &&
      grad.is_contiguous() && grad.sizes() == n.y.sizes()) {
    dy = std::move(grad);
    at::silu_backward_out(dy, dy, n.y);
  } else {
    dy = at::silu_backward(grad, n.y);
    grad.reset();
  }
  n.y.reset();
  if (!dy.is_contiguous()) dy = dy.contiguous();
  const int64_t N = x.size(0), C = x.size(1);
  return at::native_group_norm_backward(dy, x, n.mean, n.rstd, gamma, N, C,
                                        x.numel() / (N * C), groups, mask);
}

// GroupNorm's affine parameters, absent (nullopt) without them. A custom
// Function takes an absent tensor as an optional, not an undefined one.
c10::optional<at::Tensor> Gamma(const torch::nn::GroupNorm& norm) {
  if (!norm->options.affine()) return c10::nullopt;
  return norm->weight;
}

c10::optional<at::Tensor> Beta(const torch::nn::GroupNorm& norm) {
  if (!norm->options.affine()) return c10::nullopt;
  return norm->bias;
}

// Which of x, gamma, beta need gradients, for a node whose first inputs are
// x and (when defined) gamma and beta: the edges count defined inputs only.
std::array<bool, 3> NormGradMask(const AutogradContext* ctx,
                                 const at::Tensor& gamma,
                                 const at::Tensor& beta) {
  return {ctx->needs_input_grad(0), gamma.defined() && ctx->needs_input_grad(1),
          beta.defined() && ctx->needs_input_grad(1 + gamma.defined())};
}

class GroupNormSiLUFunction
    : public torch::autograd::Function<GroupNormSiLUFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            const c10::optional<at::Tensor>& gamma,
                            const c10::optional<at::Tensor>& beta,
                            int64_t groups, double eps) {
    // x itself, not a contiguous copy: a copy made here (under no-grad)
    // would not link a double backward to x.
    ctx->save_for_backward(
        {x, gamma.value_or(at::Tensor()), beta.value_or(at::Tensor())});
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["eps"] = eps;
    return at::silu(std::get<0>(
        NativeGroupNorm(x.contiguous(), gamma.value_or(at::Tensor()),
                        beta.value_or(at::Tensor()), groups, eps)));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor x = saved[0].contiguous();
    const at::Tensor &gamma = saved[1], &beta = saved[2];
    const int64_t groups = ctx->saved_data["groups"].toInt();
    auto [dx, dgamma, dbeta] = GroupNormSiLUBackward(
        grads[0],
        Normalize(x, gamma, beta, groups, ctx->saved_data["eps"].toDouble()), x,
        gamma, beta, groups, NormGradMask(ctx, gamma, beta));
    return {dx, dgamma, dbeta, at::Tensor(), at::Tensor()};
  }
};

// The output padding that makes a transposed convolution of `input` by
// `options` have `output_size` (as ConvTranspose2d::forward picks it for
// dilation 1).
std::vector<int64_t> OutputPadding(
    const at::Tensor& input, const torch::nn::detail::ConvNdOptions<2>& options,
    at::IntArrayRef padding, at::IntArrayRef output_size) {
  std::vector<int64_t> output_padding(2);
  for (int d = 0; d < 2; ++d) {
    const int64_t smallest =
        (input.size(d + 2) - 1) * (*options.stride())[d] - 2 * padding[d] +
        (*options.dilation())[d] * ((*options.kernel_size())[d] - 1) + 1;
    output_padding[d] = output_size[d] - smallest;
  }
  return output_padding;
}

// Whether a transposed convolution by `weight` [Cin, Cout, kh, kw] takes
// the two halves of a concatenated input one at a time rather than the
// concatenation: where its per-pixel columns (Cout kh kw) are no wider than
// its input (Cin), as in a U-Net's last layer, so the work done twice (the
// columns of the output and its gradient) costs less than the concatenated
// copy it saves. Wider outputs keep the concatenation, whose single
// convolution is then cheaper; so do grouped convolutions.
bool SplitsConcatenation(const at::Tensor& weight, int64_t groups) {
  return groups == 1 && weight[0].numel() <= weight.size(0);
}

// Inputs: x, gamma, beta, skip, and `conv`'s weight and bias (undefined:
// none), passed for their gradients.
class GroupNormSiLUCatConvTranspose2dFunction
    : public torch::autograd::Function<
          GroupNormSiLUCatConvTranspose2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            const c10::optional<at::Tensor>& gamma,
                            const c10::optional<at::Tensor>& beta,
                            const at::Tensor& skip, const at::Tensor& weight,
                            const c10::optional<at::Tensor>& bias,
                            int64_t groups, double eps,
                            torch::nn::ConvTranspose2d conv,
                            at::IntArrayRef output_size) {
    const auto& options = conv->options;
    const auto* padding =
        util::TorchGetIf<torch::ExpandingArray<2>>(options.padding());
    TORCH_CHECK(padding != nullptr, "explicit padding needed");
    TORCH_CHECK(weight.size(0) == x.size(1) + skip.size(1),
                "the convolution takes ", weight.size(0),
                " channels, the concatenation has ", x.size(1) + skip.size(1));
    const at::Tensor activated = at::silu(std::get<0>(
        NativeGroupNorm(x.contiguous(), gamma.value_or(at::Tensor()),
                        beta.value_or(at::Tensor()), groups, eps)));
    const std::vector<int64_t> output_padding =
        OutputPadding(activated, options, **padding, output_size);
    const bool split = SplitsConcatenation(weight, options.groups());
    at::Tensor y;
    if (split) {
      // conv(cat(a, s)) = conv_a(a) + conv_s(s), W split by input channel.
      y = at::conv_transpose2d(activated, weight.narrow(0, 0, x.size(1)),
                               bias.value_or(at::Tensor()), options.stride(),
                               **padding, output_padding, options.groups(),
                               options.dilation());
      y.add_(at::conv_transpose2d(
          skip, weight.narrow(0, x.size(1), skip.size(1)), at::Tensor(),
          options.stride(), **padding, output_padding, options.groups(),
          options.dilation()));
    } else {
      y = ConvTranspose2dTo(conv, at::cat({activated, skip}, 1), output_size);
    }
    ctx->save_for_backward({x, gamma.value_or(at::Tensor()),
                            beta.value_or(at::Tensor()), skip, weight,
                            bias.value_or(at::Tensor())});
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["split"] = split;
    ctx->saved_data["stride"] = at::IntArrayRef(options.stride()).vec();
    ctx->saved_data["padding"] = at::IntArrayRef(*padding).vec();
    ctx->saved_data["dilation"] = at::IntArrayRef(options.dilation()).vec();
    ctx->saved_data["output_padding"] = output_padding;
    ctx->saved_data["conv_groups"] = options.groups();
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor x = saved[0].contiguous();
    const at::Tensor &gamma = saved[1], &beta = saved[2], &skip = saved[3],
                     &weight = saved[4], &bias = saved[5];
    const int64_t groups = ctx->saved_data["groups"].toInt();
    Normalized n =
        Normalize(x, gamma, beta, groups, ctx->saved_data["eps"].toDouble());
    // Edges: x, gamma and beta if defined, skip, weight, bias if defined.
    const size_t weight_edge = 2 + gamma.defined() + beta.defined();
    const bool weight_grad = ctx->needs_input_grad(weight_edge);
    const bool bias_grad =
        bias.defined() && ctx->needs_input_grad(weight_edge + 1);
    const std::vector<int64_t> bias_sizes = {weight.size(1)};
    // The convolution's backward for `input`, the channels of the forward's
    // concatenation from `first` on, by the matching slice of the weight.
    auto conv_backward = [&](const at::Tensor& input, int64_t first,
                             bool input_grad, bool with_bias) {
      return at::convolution_backward(
          grads[0], input, weight.narrow(0, first, input.size(1)),
          with_bias ? c10::optional<at::IntArrayRef>(bias_sizes) : c10::nullopt,
          ctx->saved_data["stride"].toIntVector(),
          ctx->saved_data["padding"].toIntVector(),
          ctx->saved_data["dilation"].toIntVector(), /*transposed=*/true,
          ctx->saved_data["output_padding"].toIntVector(),
          ctx->saved_data["conv_groups"].toInt(),
          {input_grad, weight_grad, with_bias && bias_grad});
    };
    at::Tensor dactivated, dskip, dweight, dbias;
    if (ctx->saved_data["split"].toBool()) {
      at::Tensor dweight_activated, dweight_skip;
      std::tie(dactivated, dweight_activated, dbias) =
          conv_backward(at::silu(n.y), 0, true, bias.defined());
      std::tie(dskip, dweight_skip, std::ignore) = conv_backward(
          skip, x.size(1), ctx->needs_input_grad(weight_edge - 1), false);
      if (weight_grad) dweight = at::cat({dweight_activated, dweight_skip});
    } else {
      at::Tensor dcat;
      {  // The concatenation lives only as long as the convolution needs it.
        const at::Tensor cat = at::cat({at::silu(n.y), skip}, 1);
        std::tie(dcat, dweight, dbias) =
            conv_backward(cat, 0, true, bias.defined());
      }
      dactivated = dcat.narrow(1, 0, x.size(1));
      dskip = dcat.narrow(1, x.size(1), skip.size(1));
    }
    auto [dx, dgamma, dbeta] =
        GroupNormSiLUBackward(std::move(dactivated), std::move(n), x, gamma,
                              beta, groups, NormGradMask(ctx, gamma, beta));
    // One gradient per forward argument: none for groups, eps, conv and
    // output_size.
    return {dx,    dgamma,       dbeta,        dskip,        dweight,
            dbias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor GroupNormSiLU(const at::Tensor& x, torch::nn::GroupNorm& norm) {
  return GroupNormSiLUFunction::apply(x, Gamma(norm), Beta(norm),
                                      norm->options.num_groups(),
                                      norm->options.eps());
}

at::Tensor GroupNormSiLUCatConvTranspose2d(const at::Tensor& x,
                                           torch::nn::GroupNorm& norm,
                                           const at::Tensor& skip,
                                           torch::nn::ConvTranspose2d& conv,
                                           at::IntArrayRef output_size) {
  const std::array<int64_t, 2> ones = {1, 1};
  if (TakesBatchedRoute(conv, x) || *conv->options.dilation() != ones) {
    // Small activations: the composition, whose backward differentiates
    // ConvTranspose2dTo's single GEMM. Dilated convolutions too: LibTorch's
    // ConvTranspose2d picks their output padding without the dilation,
    // which OutputPadding would not reproduce.
    return ConvTranspose2dTo(conv, at::cat({GroupNormSiLU(x, norm), skip}, 1),
                             output_size);
  }
  return GroupNormSiLUCatConvTranspose2dFunction::apply(
      x, Gamma(norm), Beta(norm), skip, conv->weight,
      conv->bias.defined() ? c10::optional<at::Tensor>(conv->bias)
                           : c10::nullopt,
      norm->options.num_groups(), norm->options.eps(), conv, output_size);
}

void VarianceScalingInit(at::Tensor weight, at::Tensor bias, double scale,
                         FanMode mode) {
  TORCH_CHECK(weight.dim() >= 2,
              "variance scaling needs a [out, in, ...] weight");
  const double receptive = static_cast<double>(weight[0][0].numel());
  const double fan_in = weight.size(1) * receptive;
  const double fan_out = weight.size(0) * receptive;
  const double fan = mode == FanMode::kFanIn    ? fan_in
                     : mode == FanMode::kFanOut ? fan_out
                                                : (fan_in + fan_out) / 2;
  const double variance = (scale == 0 ? 1e-10 : scale) / std::max(1.0, fan);
  const double bound = std::sqrt(3 * variance);
  at::NoGradGuard no_grad;
  weight.uniform_(-bound, bound);
  if (bias.defined()) bias.zero_();
}

void VarianceScalingInit(const Conv2d& conv, double scale, FanMode mode) {
  VarianceScalingInit(conv->weight, conv->bias, scale, mode);
}

void VarianceScalingInit(const torch::nn::Linear& linear, double scale,
                         FanMode mode) {
  VarianceScalingInit(linear->weight, linear->bias, scale, mode);
}

SelfAttention2dImpl::SelfAttention2dImpl(const SelfAttention2dOptions& options)
    : options_(options) {
  const int64_t c = options.channels();
  // Registration in the original's order.
  q_ = register_module("attn_q", Conv1x1(c, c));
  k_ = register_module("attn_k", Conv1x1(c, c));
  v_ = register_module("attn_v", Conv1x1(c, c));
  proj_out_ = register_module("proj_out", Conv1x1(c, c));
  norm_ = register_module(
      "norm",
      torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.num_groups(), c)
                               .eps(options.norm_eps())));
  for (const Conv2d& conv : {q_, k_, v_})
    VarianceScalingInit(conv, 1.0, options.fan_mode());
  VarianceScalingInit(proj_out_, options.init_scale(), options.fan_mode());
}

at::Tensor SelfAttention2dImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const at::Tensor h = norm_->forward(x);
  const at::Tensor q = q_->forward(h).view({B, C, H * W});
  const at::Tensor k = k_->forward(h).view({B, C, H * W});
  const at::Tensor v = v_->forward(h).view({B, C, H * W});
  // w[b, i, j] = <q_i, k_j> / sqrt(C), normalized over j.
  const at::Tensor w = at::softmax(
      at::bmm(q.transpose(1, 2), k) * std::pow(static_cast<double>(C), -0.5),
      -1);
  const at::Tensor out =
      x + proj_out_->forward(at::bmm(v, w.transpose(1, 2)).view({B, C, H, W}));
  return options_.skip_rescale() ? out / std::sqrt(2.0) : out;
}

}  // namespace mdm::nets
