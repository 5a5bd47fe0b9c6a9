#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mdm/nets/embeddings.h"
#include "mdm/nets/ho_unet.h"
#include "mdm/nets/layers.h"
#include "mdm/nets/mlp.h"
#include "mdm/nets/ncsnpp.h"
#include "mdm/nets/tiny_unet.h"
#include "mdm/util/op_profile.h"

namespace mdm::nets {
namespace {

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const at::Tensor& p : module.parameters()) n += p.numel();
  return n;
}

at::Generator Gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

// A network under test, built for K variables of C channels at a size.
using Factory = std::function<std::shared_ptr<ScoreModel>(int64_t K, int64_t C,
                                                          int64_t size)>;

struct NetCase {
  std::string name;
  Factory make;
  std::vector<int64_t> sizes;
};

void PrintTo(const NetCase& c, std::ostream* os) { *os << c.name; }

// Reduced widths: these tests are about wiring, not capacity.
std::vector<NetCase> ImageNets() {
  return {
      {"tiny_unet",
       [](int64_t K, int64_t C, int64_t) {
         torch::manual_seed(0);
         return std::make_shared<TinyUNetImpl>(TinyUNetOptions(K, C).seed(1));
       },
       {28, 32}},
      {"tiny_unet_padded",
       [](int64_t K, int64_t C, int64_t) {
         torch::manual_seed(0);
         return std::make_shared<TinyUNetImpl>(
             TinyUNetOptions(K, C).seed(1).padded(true));
       },
       {28, 32, 64}},
      {"ho_unet",
       [](int64_t K, int64_t C, int64_t size) {
         torch::manual_seed(0);
         return std::make_shared<HoUNetImpl>(HoUNetOptions(K, C, size)
                                                 .ch(32)
                                                 .ch_mult({1, 2, 2})
                                                 .num_res_blocks(1)
                                                 .attn_resolutions({14, 16}));
       },
       {28, 32, 64}},
      {"ncsnpp_biggan_fir",
       [](int64_t K, int64_t C, int64_t size) {
         torch::manual_seed(0);
         return std::make_shared<NcsnppImpl>(
             NcsnppOptions(K, C, size)
                 .nf(16)
                 .ch_mult({1, 2, 2})
                 .num_res_blocks(1)
                 .attn_resolutions({14, 16})
                 .fir(true)
                 .embedding_type(TimeEmbedding::kFourier));
       },
       {28, 32, 64}},
      {"ncsnpp_ddpm",
       [](int64_t K, int64_t C, int64_t size) {
         torch::manual_seed(0);
         return std::make_shared<NcsnppImpl>(
             NcsnppOptions(K, C, size)
                 .nf(16)
                 .ch_mult({1, 2, 2})
                 .num_res_blocks(1)
                 .resblock_type(ResblockType::kDdpm)
                 .skip_rescale(false)
                 .init_scale(0.5));
       },
       {28, 32}},
  };
}

class ImageNetTest : public ::testing::TestWithParam<NetCase> {};

TEST_P(ImageNetTest, OutputShapeEqualsInputShape) {
  const NetCase& c = GetParam();
  for (int64_t K : {1, 2, 3}) {
    for (int64_t size : c.sizes) {
      const int64_t C = size == 32 ? 3 : 1;
      std::shared_ptr<ScoreModel> net = c.make(K, C, size);
      net->eval();
      for (int64_t batch : {1, 5}) {
        const at::Tensor u = at::randn({batch, K, C, size, size}, Gen(1));
        const at::Tensor t = at::rand({batch}, Gen(2));
        EXPECT_EQ(net->forward(u, t).sizes(), u.sizes())
            << "K=" << K << " size=" << size << " batch=" << batch;
      }
    }
  }
}

// Outputs depend on t, and the same seed and inputs give bit-identical
// outputs. Near-zero initialized output layers are randomized first so the
// outputs carry information.
TEST_P(ImageNetTest, TimeConditionedAndDeterministic) {
  const NetCase& c = GetParam();
  const int64_t size = c.sizes.front();
  std::shared_ptr<ScoreModel> a = c.make(2, 1, size);
  std::shared_ptr<ScoreModel> b = c.make(2, 1, size);
  for (auto* net : {a.get(), b.get()}) {
    net->eval();
    at::NoGradGuard no_grad;
    torch::manual_seed(5);
    for (at::Tensor& p : net->parameters()) {
      if (p.abs().max().item<double>() < 1e-4 && p.dim() > 1)
        p.normal_(0, 0.05);
    }
  }
  const at::Tensor u = at::randn({3, 2, 1, size, size}, Gen(3));
  const at::Tensor t1 = at::full({3}, 0.1), t2 = at::full({3}, 0.7);
  const at::Tensor out1 = a->forward(u, t1);
  EXPECT_TRUE(at::equal(out1, b->forward(u, t1)));
  EXPECT_GT((out1 - a->forward(u, t2)).abs().max().item<double>(), 1e-4);
}

// One backward pass reaches every parameter: none is unused.
TEST_P(ImageNetTest, GradientsReachEveryParameter) {
  const NetCase& c = GetParam();
  const int64_t size = c.sizes.front();
  std::shared_ptr<ScoreModel> net = c.make(2, 1, size);
  {
    at::NoGradGuard no_grad;
    torch::manual_seed(5);
    for (at::Tensor& p : net->parameters()) {
      if (p.abs().max().item<double>() < 1e-4) p.normal_(0, 0.05);
    }
  }
  const at::Tensor u = at::randn({2, 2, 1, size, size}, Gen(4));
  net->forward(u, at::rand({2}, Gen(5))).pow(2).sum().backward();
  for (const auto& named : net->named_parameters()) {
    ASSERT_TRUE(named.value().grad().defined()) << named.key();
    EXPECT_GT(named.value().grad().abs().max().item<double>(), 0.0)
        << named.key();
  }
}

INSTANTIATE_TEST_SUITE_P(Nets, ImageNetTest, ::testing::ValuesIn(ImageNets()),
                         [](const auto& info) { return info.param.name; });

// The unpadded network: 28 -> 26 -> 12 -> 5 -> 2 and back, and other
// sizes down to the smallest it takes.
TEST(TinyUNetTest, UnpaddedShapesAndItsSmallestImage) {
  TinyUNet net(TinyUNetOptions(2, 1));
  EXPECT_EQ(CountParameters(*net), 1116162);  // The original's count.
  for (int64_t size :
       {kTinyUNetMinSize, int64_t{28}, int64_t{31}, int64_t{64}}) {
    const at::Tensor u = at::randn({1, 2, 1, size, size});
    EXPECT_EQ(net->forward(u, at::rand({1})).sizes(), u.sizes()) << size;
  }
  EXPECT_THROW(net->forward(at::randn({1, 2, 1, 16, 16}), at::rand({1})),
               c10::Error);
}

// The padded network: the same parameters (names, shapes, count), sides
// 28 -> 28 -> 14 -> 7 -> 4 and back, any size, and a different function.
TEST(TinyUNetTest, PaddedShapesParametersAndGradients) {
  torch::manual_seed(2);
  TinyUNet padded(TinyUNetOptions(3, 1).padded(true));
  torch::manual_seed(2);
  TinyUNet unpadded(TinyUNetOptions(3, 1));
  EXPECT_EQ(CountParameters(*padded), 1117027);
  const auto a = padded->named_parameters(), b = unpadded->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].key(), b[i].key());
    EXPECT_EQ(a[i].value().sizes(), b[i].value().sizes()) << a[i].key();
  }
  for (int64_t size : {int64_t{1}, int64_t{16}, int64_t{28}, int64_t{31},
                       int64_t{32}, int64_t{64}}) {
    const at::Tensor u = at::randn({2, 3, 1, size, size});
    EXPECT_EQ(padded->forward(u, at::rand({2})).sizes(), u.sizes()) << size;
  }
  // Equal weights (the same draws), different functions.
  EXPECT_TRUE(at::equal(padded->named_parameters()["conv2.weight"],
                        unpadded->named_parameters()["conv2.weight"]));
  const at::Tensor u = at::randn({2, 3, 1, 28, 28});
  const at::Tensor t = at::rand({2});
  const at::Tensor y = padded->forward(u, t);
  EXPECT_GT((y - unpadded->forward(u, t)).abs().max().item<double>(), 1e-3);
  y.pow(2).sum().backward();
  for (const auto& named : padded->named_parameters()) {
    if (!named.value().requires_grad()) continue;
    ASSERT_TRUE(named.value().grad().defined()) << named.key();
    EXPECT_GT(named.value().grad().abs().max().item<double>(), 0.0)
        << named.key();
  }
}

// The arithmetic of a Fashion-MNIST Learned-3 forward, layer by layer
// (multiply-adds per image; sides 28 -> 26 -> 12 -> 5 -> 2 and back):
//   conv1   26^2 x 32 x (3 x 9)        584,064
//   conv2   12^2 x 64 x (32 x 9)     2,654,208
//   conv3    5^2 x 128 x (64 x 9)    1,843,200
//   conv4    2^2 x 256 x (128 x 9)   1,179,648
//   tconv4   2^2 x 256 x (128 x 9)   1,179,648   (input elements x
//   tconv3   5^2 x 256 x (64 x 9)    3,686,400    output channels x 9)
//   tconv2  12^2 x 128 x (32 x 9)    5,308,416
//   tconv1  26^2 x 64 x (3 x 9)      1,168,128
//   dense   256 x 256 + 256 x 704      245,760
// 17,849,472 in all: a batch-128 training step (x 3 for the backward, x 2
// flops each) is 13.71 GFLOP.
TEST(TinyUNetTest, MultiplyAddsLayerByLayer) {
  EXPECT_EQ(TinyUNetMultiplyAdds(TinyUNetOptions(3, 1), 28, 28), 17849472);
  // At 32 x 32 (30 -> 14 -> 6 -> 2) every convolution's area changes.
  EXPECT_EQ(TinyUNetMultiplyAdds(TinyUNetOptions(3, 1), 32, 32),
            900 * 32 * 27 + 196 * 64 * 288 + 36 * 128 * 576 +
                4 * 256 * 1152 + 4 * 256 * 128 * 9 + 36 * 256 * 64 * 9 +
                196 * 128 * 32 * 9 + 900 * 64 * 3 * 9 + 245760);
  // Padded at 28 x 28 (28 -> 28 -> 14 -> 7 -> 4).
  EXPECT_EQ(TinyUNetMultiplyAdds(TinyUNetOptions(3, 1).padded(true), 28, 28),
            784 * 32 * 27 + 196 * 64 * 288 + 49 * 128 * 576 +
                16 * 256 * 1152 + 16 * 256 * 128 * 9 + 49 * 256 * 64 * 9 +
                196 * 128 * 32 * 9 + 784 * 64 * 3 * 9 + 245760);
}

// The count above against the arithmetic LibTorch's kernels are handed
// (util::OpProfile reads it from their shapes) in one forward and backward:
// three passes of every layer but the two whose inputs need no gradient,
// conv1 (the state) and the embedding's first dense layer (the Fourier
// features).
TEST(TinyUNetTest, MultiplyAddsAgreeWithTheProfiledArithmetic) {
  constexpr int64_t kBatch = 4;
  constexpr int64_t kConv1 = 584064, kFirstDense = 256 * 256;
  TinyUNet net(TinyUNetOptions(3, 1));
  const at::Tensor u = at::randn({kBatch, 3, 1, 28, 28});
  util::OpProfile profile;
  net->forward(u, at::rand({kBatch})).sum().backward();
  double flop = 0;
  for (const util::OpProfile::Row& row : profile.Rows()) flop += row.flop;
  EXPECT_EQ(flop, 2.0 * kBatch *
                      (3 * TinyUNetMultiplyAdds(TinyUNetOptions(3, 1), 28, 28) -
                       kConv1 - kFirstDense))
      << profile.Table(40);
}

TEST(HoUNetTest, ParameterCountsMatchTheOriginalModels) {
  // DDPM's CIFAR-10 model.
  HoUNet cifar(HoUNetOptions(1, 3, 32));
  EXPECT_EQ(CountParameters(*cifar), 35746307);
  // The paper's 1.5M MNIST model.
  HoUNet mnist(HoUNetOptions(1, 1, 28).ch(32).ch_mult({1, 2, 2}));
  EXPECT_EQ(CountParameters(*mnist), 1539329);
}

// Output convolutions at variance scale 1e-10: the untrained network's
// output is tiny (at scale 1 it would be of order 1).
TEST(HoUNetTest, InitialOutputIsNearZero) {
  torch::manual_seed(0);
  HoUNet net(HoUNetOptions(3, 1, 28).ch(32).ch_mult({1, 2, 2}));
  const at::Tensor out =
      net->forward(at::randn({2, 3, 1, 28, 28}), at::rand({2}));
  EXPECT_LT(out.abs().max().item<double>(), 1e-3);
  EXPECT_GT(out.abs().max().item<double>(), 0.0);
  Ncsnpp ncsn(
      NcsnppOptions(2, 1, 28).nf(16).ch_mult({1, 2, 2}).num_res_blocks(1));
  EXPECT_LT(ncsn->forward(at::randn({2, 2, 1, 28, 28}), at::rand({2}))
                .abs()
                .max()
                .item<double>(),
            1e-3);
}

// The original's variance scaling: U(-b, b) with b = sqrt(3 scale / fan)
// and zero biases; scale 0 means 1e-10.
TEST(LayersTest, VarianceScalingBoundsAndFans) {
  torch::manual_seed(0);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(16, 64, 3));
  VarianceScalingInit(conv, 2.0, FanMode::kFanOut);  // fan 64 * 9.
  const double bound = std::sqrt(3 * 2.0 / (64 * 9));
  EXPECT_LE(conv->weight.abs().max().item<double>(), bound);
  EXPECT_GT(conv->weight.abs().max().item<double>(), 0.98 * bound);
  // Uniform: variance bound^2 / 3.
  EXPECT_NEAR(conv->weight.var().item<double>(), bound * bound / 3,
              0.05 * bound * bound / 3);
  EXPECT_EQ(conv->bias.abs().max().item<double>(), 0.0);
  VarianceScalingInit(conv, 1.0, FanMode::kFanAvg);  // fan (16 + 64) 9 / 2.
  EXPECT_GT(conv->weight.abs().max().item<double>(),
            0.98 * std::sqrt(3.0 / (40 * 9)));
  VarianceScalingInit(conv, 0.0, FanMode::kFanIn);
  EXPECT_LE(conv->weight.abs().max().item<double>(),
            std::sqrt(3e-10 / (16 * 9)));
}

// The batched route (small inputs) computes LibTorch's transposed
// convolution, padding, output padding, bias and gradients included;
// larger inputs take LibTorch's own route.
TEST(LayersTest, BatchedTransposedConvolutionIsLibTorchs) {
  torch::manual_seed(5);
  for (const auto& [bias, pad] : {std::pair{false, 0}, std::pair{true, 0},
                                 std::pair{false, 1}, std::pair{true, 1}}) {
    torch::nn::ConvTranspose2d conv(torch::nn::ConvTranspose2dOptions(6, 4, 3)
                                        .stride(2)
                                        .padding(pad)
                                        .bias(bias));
    for (const int64_t side : {2, 5, 7}) {  // 7 * 7 > the batched limit.
      const at::Tensor x = at::randn({9, 6, side, side}).requires_grad_();
      const std::vector<int64_t> size = {2 * side + 2 - 2 * pad,
                                         2 * side + 2 - 2 * pad};
      const at::Tensor expected = conv->forward(x, size);
      const at::Tensor got = ConvTranspose2dTo(conv, x, size);
      ASSERT_EQ(got.sizes(), expected.sizes());
      EXPECT_TRUE(at::allclose(got, expected, 1e-6, 1e-6)) << side;
      const at::Tensor w = at::randn_like(expected);
      std::vector<at::Tensor> wrt = {x, conv->weight};
      if (bias) wrt.push_back(conv->bias);
      const auto g_expected =
          torch::autograd::grad({(expected * w).sum()}, wrt);
      const auto g_got = torch::autograd::grad({(got * w).sum()}, wrt);
      for (size_t i = 0; i < wrt.size(); ++i) {
        EXPECT_TRUE(at::allclose(g_got[i], g_expected[i], 1e-5, 1e-5))
            << "side " << side << " gradient " << i;
      }
      // The batched route builds its graph from a matrix product.
      const std::string route = got.grad_fn()->name();
      if (side * side <= kBatchedTransposedConvPixels) {
        EXPECT_EQ(route.find("Convolution"), std::string::npos) << route;
      }
    }
  }
}

// The gradients of sum(y * w) to `wrt`, and the gradients of the sum of
// those gradients' products with fixed random tensors (a double backward,
// as the ISM ELBO takes through the network).
std::vector<at::Tensor> FirstAndSecondGradients(
    const at::Tensor& y, const std::vector<at::Tensor>& wrt, uint64_t seed) {
  // Contiguous draws: randn_like would follow each tensor's strides, which
  // differ between equal gradients computed by different routes.
  torch::manual_seed(seed);
  const at::Tensor w = at::randn(y.sizes(), y.options());
  std::vector<at::Tensor> first =
      torch::autograd::grad({(y * w).sum()}, wrt, {}, /*retain_graph=*/true,
                            /*create_graph=*/true);
  at::Tensor probe = at::zeros({}, y.options());
  for (const at::Tensor& g : first) {
    probe = probe + (g * at::randn(g.sizes(), g.options())).sum();
  }
  std::vector<at::Tensor> second =
      torch::autograd::grad({probe}, wrt, {}, /*retain_graph=*/false,
                            /*create_graph=*/false, /*allow_unused=*/true);
  for (at::Tensor& g : first) g = g.detach();
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

void ExpectSameGradients(const std::vector<at::Tensor>& got,
                         const std::vector<at::Tensor>& expected,
                         double first_tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), expected.size());
  const size_t n = got.size() / 2;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].defined(), expected[i].defined()) << what << " " << i;
    if (!got[i].defined()) continue;
    // The first gradients run LibTorch's own backward kernels; the second
    // ones differentiate them (LibTorch picks other, equivalent formulas
    // when it records a graph), so they agree to rounding.
    const double tolerance = i < n ? first_tolerance : 1e-10;
    EXPECT_LE((got[i] - expected[i]).abs().max().item<double>(),
              tolerance * (1 + expected[i].abs().max().item<double>()))
        << what << (i < n ? ": gradient " : ": second-order gradient ")
        << i % n;
  }
}

// GroupNormSiLU keeps less for its backward but is the composition:
// values bit for bit, gradients from the same kernels, double backward
// included; with and without GroupNorm's affine parameters.
TEST(LayersTest, GroupNormSiLUIsTheComposition) {
  for (const bool affine : {true, false}) {
    torch::manual_seed(3);
    torch::nn::GroupNorm norm(
        torch::nn::GroupNormOptions(4, 8).affine(affine).eps(1e-5));
    norm->to(at::kDouble);
    if (affine) {  // Not the initial ones and zeros, which hide mistakes.
      at::NoGradGuard no_grad;
      norm->weight.normal_();
      norm->bias.normal_();
    }
    const at::Tensor leaf =
        (3 * at::randn({5, 8, 6, 7}, at::kDouble) + 1).requires_grad_();
    // Contiguous, and a transposed view (the node saves x itself, so the
    // double backward reaches the leaf through the view).
    for (const at::Tensor& x : {leaf, leaf.transpose(2, 3)}) {
      const at::Tensor expected = at::silu(norm->forward(x));
      const at::Tensor got = GroupNormSiLU(x, norm);
      EXPECT_TRUE(at::equal(got, expected));
      std::vector<at::Tensor> wrt = {leaf};
      if (affine) wrt.insert(wrt.end(), {norm->weight, norm->bias});
      ExpectSameGradients(FirstAndSecondGradients(got, wrt, 9),
                          FirstAndSecondGradients(expected, wrt, 9), 0,
                          std::string(affine ? "affine" : "no affine") +
                              (x.is_contiguous() ? "" : ", transposed input"));
    }
  }
}

// The decoder step without its saved concatenation is the composition,
// double backward included, on both of ConvTranspose2dTo's routes; with and
// without bias, for even and odd output sizes. A wide output (3 channels
// from 7) convolves the concatenation, bit for bit; a narrow one (1 channel
// from 12, a U-Net's last layer) takes the halves one at a time, to
// rounding. One test over the whole grid of cases (about 90 lines), so
// that a failure names the case.
TEST(LayersTest, GroupNormSiLUCatConvTranspose2dIsTheComposition) {
  struct Shape {
    int64_t skip, out;
    bool split;
  };
  for (const Shape shape : {Shape{3, 3, false}, Shape{8, 1, true}}) {
    for (const bool bias : {false, true}) {
      for (const int64_t side : {2, 5, 7}) {  // 7 * 7 > the batched limit.
        for (const int64_t extra : {0, 1}) {  // The output padding.
          torch::manual_seed(11);
          torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(2, 4));
          torch::nn::ConvTranspose2d conv(
              torch::nn::ConvTranspose2dOptions(4 + shape.skip, shape.out, 3)
                  .stride(2)
                  .bias(bias));
          norm->to(at::kDouble);
          conv->to(at::kDouble);
          {
            at::NoGradGuard no_grad;
            norm->weight.normal_();
            norm->bias.normal_();
            if (bias) conv->bias.normal_();
          }
          const at::Tensor x =
              at::randn({6, 4, side, side}, at::kDouble).requires_grad_();
          const at::Tensor skip =
              at::randn({6, shape.skip, side, side}, at::kDouble)
                  .requires_grad_();
          const std::vector<int64_t> size = {2 * side + 1 + extra,
                                             2 * side + 1 + extra};
          const at::Tensor expected = ConvTranspose2dTo(
              conv, at::cat({at::silu(norm->forward(x)), skip}, 1), size);
          const at::Tensor got =
              GroupNormSiLUCatConvTranspose2d(x, norm, skip, conv, size);
          const std::string what =
              "side " + std::to_string(side) + " output padding " +
              std::to_string(extra) + (bias ? " with bias" : "") +
              (shape.split ? ", halves" : ", concatenation");
          ASSERT_EQ(got.sizes(), expected.sizes());
          // Only inputs above the batched limit reach the node's halves:
          // bit for bit the sum of the halves' convolutions.
          if (shape.split && side * side > kBatchedTransposedConvPixels) {
            const at::Tensor& w = conv->weight;
            at::Tensor halves = at::conv_transpose2d(
                at::silu(norm->forward(x)), w.narrow(0, 0, 4),
                bias ? conv->bias : at::Tensor(), {2, 2}, {0, 0},
                {extra, extra});
            halves.add_(at::conv_transpose2d(skip, w.narrow(0, 4, shape.skip),
                                             at::Tensor(), {2, 2}, {0, 0},
                                             {extra, extra}));
            EXPECT_TRUE(at::equal(got, halves)) << what;
            EXPECT_LE((got - expected).abs().max().item<double>(),
                      1e-13 * expected.abs().max().item<double>())
                << what;
          } else {
            EXPECT_TRUE(at::equal(got, expected)) << what;
          }
          std::vector<at::Tensor> wrt = {x, skip, norm->weight, norm->bias,
                                         conv->weight};
          if (bias) wrt.push_back(conv->bias);
          // A plain backward (no graph) runs the node's kernels, the in-place
          // SiLU derivative among them; a double backward differentiates
          // the recomputed composition.
          const at::Tensor probe = at::randn(got.sizes(), got.options());
          const std::vector<at::Tensor> plain = torch::autograd::grad(
              {(got * probe).sum()}, wrt, {}, /*retain_graph=*/true);
          const std::vector<at::Tensor> plain_expected =
              torch::autograd::grad({(expected * probe).sum()}, wrt, {},
                                    /*retain_graph=*/true);
          for (size_t i = 0; i < wrt.size(); ++i) {
            EXPECT_LE((plain[i] - plain_expected[i]).abs().max().item<double>(),
                      (shape.split ? 1e-12 : 0) *
                          plain_expected[i].abs().max().item<double>())
                << what << ": gradient " << i;
          }
          ExpectSameGradients(FirstAndSecondGradients(got, wrt, 4),
                              FirstAndSecondGradients(expected, wrt, 4),
                              shape.split ? 1e-12 : 0, what);
          // A skip that needs no gradient gets none; the others are the same.
          const at::Tensor frozen = GroupNormSiLUCatConvTranspose2d(
              x, norm, skip.detach(), conv, size);
          std::vector<at::Tensor> rest = wrt;
          rest.erase(rest.begin() + 1);
          const std::vector<at::Tensor> without_skip =
              torch::autograd::grad({(frozen * probe).sum()}, rest);
          for (size_t i = 0; i < rest.size(); ++i) {
            EXPECT_TRUE(at::equal(without_skip[i], plain[i + (i > 0)]))
                << what << ": frozen skip, gradient " << i;
          }
        }
      }
    }
  }
}

TEST(MlpTest, ShapesTimeAndGradients) {
  torch::manual_seed(0);
  Mlp mlp(MlpOptions(3, 2));
  EXPECT_EQ(CountParameters(*mlp),
            (7 * 128 + 128) + 3 * (128 * 128 + 128) + (128 * 6 + 6));
  const at::Tensor u = at::randn({5, 3, 2}, Gen(1));
  const at::Tensor out = mlp->forward(u, at::full({5}, 0.2));
  EXPECT_EQ(out.sizes(), u.sizes());
  EXPECT_GT(
      (out - mlp->forward(u, at::full({5}, 0.9))).abs().max().item<double>(),
      1e-5);
  out.sum().backward();
  for (const at::Tensor& p : mlp->parameters()) EXPECT_TRUE(p.grad().defined());
}

TEST(TinyUNetTest, FourierWeightsComeFromTheSeedAndAreNotTrained) {
  TinyUNet a(TinyUNetOptions(1, 1).seed(3));
  TinyUNet b(TinyUNetOptions(1, 1).seed(3));
  TinyUNet c(TinyUNetOptions(1, 1).seed(4));
  const at::Tensor wa = a->named_buffers()["embed.0.W"];
  EXPECT_TRUE(at::equal(wa, b->named_buffers()["embed.0.W"]));
  EXPECT_FALSE(at::equal(wa, c->named_buffers()["embed.0.W"]));
  EXPECT_EQ(wa.numel(), 128);
  // ~N(0, 30^2).
  EXPECT_NEAR(wa.std().item<double>(), 30.0, 6.0);
  EXPECT_EQ(a->named_parameters().find("embed.0.W"), nullptr);
}

TEST(EmbeddingsTest, SinusoidalEmbeddingClosedForm) {
  const at::Tensor e = SinusoidalEmbedding(at::tensor({0.0f, 2.0f}), 8);
  ASSERT_EQ(e.sizes(), at::IntArrayRef({2, 8}));
  // Frequencies 10000^{-i/3}, i = 0..3; sin first, then cos.
  EXPECT_NEAR(e[1][0].item<double>(), std::sin(2.0), 1e-6);
  EXPECT_NEAR(e[1][1].item<double>(),
              std::sin(2.0 * std::pow(10000.0, -1.0 / 3)), 1e-6);
  EXPECT_NEAR(e[1][4].item<double>(), std::cos(2.0), 1e-6);
  EXPECT_NEAR(e[0][5].item<double>(), 1.0, 1e-6);
}

TEST(FirTest, ResamplingPreservesConstantsAndShapes) {
  const std::vector<double> k = {1, 3, 3, 1};
  const at::Tensor x = at::full({2, 3, 8, 8}, 2.5);
  const at::Tensor up = FirUpsample2x(x, k);
  const at::Tensor down = FirDownsample2x(x, k);
  ASSERT_EQ(up.sizes(), at::IntArrayRef({2, 3, 16, 16}));
  ASSERT_EQ(down.sizes(), at::IntArrayRef({2, 3, 4, 4}));
  // Away from the zero-padded border the normalized kernel keeps constants.
  EXPECT_NEAR(
      up.slice(2, 2, 14).slice(3, 2, 14).sub(2.5).abs().max().item<double>(),
      0.0, 1e-5);
  EXPECT_NEAR(
      down.slice(2, 1, 3).slice(3, 1, 3).sub(2.5).abs().max().item<double>(),
      0.0, 1e-5);
}

}  // namespace
}  // namespace mdm::nets
