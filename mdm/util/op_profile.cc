#include "mdm/util/op_profile.h"

#include <ATen/core/ivalue.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace mdm::util {
namespace {

using Clock = std::chrono::steady_clock;
using Inputs = c10::ArrayRef<const c10::IValue>;

// What an operator's arithmetic is, read from its inputs when it starts:
// `flop` outright, or `flop_per_output` times its output's size.
struct Arithmetic {
  double flop = 0;
  double flop_per_output = 0;
};

const at::Tensor* TensorAt(Inputs in, size_t i) {
  if (i >= in.size() || !in[i].isTensor()) return nullptr;
  const at::Tensor& t = in[i].toTensor();
  return t.defined() ? &t : nullptr;
}

bool BoolAt(Inputs in, size_t i) {
  return i < in.size() && in[i].isBool() && in[i].toBool();
}

// Multiply-adds of one output element of a convolution (non-transposed) or
// one input element (transposed): the weight's [., C/groups, k...] volume
// past its first dimension.
double MacsPerElement(const at::Tensor& weight) {
  double macs = 1;
  for (int64_t d = 1; d < weight.dim(); ++d) macs *= weight.size(d);
  return macs;
}

// The convolution operators whose arithmetic is counted, with where their
// arguments are: forward ones take (input, weight, ...), backward ones
// (grad_output, input, weight, ..., output_mask). Either is transposed by
// name or by a flag at `transposed_at`. Others (conv_tbc's [k, in, out]
// weight, the MPS kernels' own argument orders) count nothing.
struct ConvolutionOp {
  const char* name;
  bool backward = false;
  bool transposed = false;
  int transposed_at = -1;
};
constexpr ConvolutionOp kConvolutionOps[] = {
    {"aten::conv1d"},
    {"aten::conv2d"},
    {"aten::conv3d"},
    {"aten::conv_transpose1d", false, true},
    {"aten::conv_transpose2d", false, true},
    {"aten::conv_transpose3d", false, true},
    {"aten::convolution", false, false, 6},
    {"aten::_convolution", false, false, 6},
    {"aten::convolution_overrideable", false, false, 6},
    {"aten::mkldnn_convolution"},
    {"aten::_slow_conv2d_forward"},
    {"aten::thnn_conv2d"},
    {"aten::slow_conv3d_forward"},
    {"aten::slow_conv_dilated2d"},
    {"aten::slow_conv_dilated3d"},
    {"aten::_conv_depthwise2d"},
    {"aten::conv_depthwise3d"},
    {"aten::_nnpack_spatial_convolution"},
    {"aten::cudnn_convolution"},
    {"aten::slow_conv_transpose2d", false, true},
    {"aten::slow_conv_transpose3d", false, true},
    {"aten::cudnn_convolution_transpose", false, true},
    {"aten::convolution_backward", true, false, 7},
    {"aten::convolution_backward_overrideable", true, false, 6},
    {"aten::_slow_conv2d_backward", true},
};

// A convolution's forward does 2 MacsPerElement flops per output element
// (per input element when transposed); its backward one such pass for each
// of the input and weight gradients its output_mask asks for.
Arithmetic Convolution(const ConvolutionOp& op, Inputs in) {
  const size_t w = op.backward ? 2 : 1;
  const at::Tensor* weight = TensorAt(in, w);
  const at::Tensor* input = TensorAt(in, w - 1);
  if (weight == nullptr || input == nullptr || weight->dim() < 3 ||
      input->dim() != weight->dim()) {
    return {};
  }
  const bool transposed =
      op.transposed || (op.transposed_at >= 0 && BoolAt(in, op.transposed_at));
  const double per_element = 2 * MacsPerElement(*weight);
  if (!op.backward) {
    if (transposed) return {.flop = per_element * input->numel()};
    return {.flop_per_output = per_element};
  }
  int passes = 0;
  for (size_t i = in.size(); i-- > 0;) {
    if (in[i].isBoolList()) {
      const c10::List<bool> mask = in[i].toBoolList();
      passes =
          (mask.size() > 0 && mask.get(0)) + (mask.size() > 1 && mask.get(1));
      break;
    }
  }
  const at::Tensor* sized = transposed ? TensorAt(in, 1) : TensorAt(in, 0);
  if (sized == nullptr) return {};
  return {.flop = passes * per_element * sized->numel()};
}

// Matrix products: aten::mm (a, b), bmm (a, b), addmm and baddbmm
// (c, a, b): 2 m k n per matrix.
Arithmetic Product(absl::string_view name, Inputs in) {
  const bool with_addend = name == "aten::addmm" || name == "aten::baddbmm";
  if (!with_addend && name != "aten::mm" && name != "aten::bmm") return {};
  const at::Tensor* a = TensorAt(in, with_addend ? 1 : 0);
  const at::Tensor* b = TensorAt(in, with_addend ? 2 : 1);
  if (a == nullptr || b == nullptr || a->dim() < 2 || b->dim() < 2) return {};
  return {.flop = 2.0 * a->numel() * b->size(-1)};
}

Arithmetic ArithmeticOf(absl::string_view name, Inputs in) {
  for (const ConvolutionOp& op : kConvolutionOps) {
    if (name == op.name) return Convolution(op, in);
  }
  return Product(name, in);
}

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ","), "]");
}

// The shapes of an operator's first three tensor inputs.
std::string Shapes(Inputs in) {
  std::vector<std::string> shapes;
  for (const c10::IValue& value : in) {
    if (!value.isTensor() || !value.toTensor().defined()) continue;
    shapes.push_back(Shape(value.toTensor()));
    if (shapes.size() == 3) break;
  }
  return absl::StrJoin(shapes, " ");
}

// Its first defined tensor output.
const at::Tensor* FirstOutput(const std::vector<c10::IValue>& outputs) {
  for (const c10::IValue& value : outputs) {
    if (value.isTensor() && value.toTensor().defined()) {
      return &value.toTensor();
    }
  }
  return nullptr;
}

struct Frame {
  std::string name, shapes;
  Clock::time_point start;
  Arithmetic arithmetic;
  double children_s = 0;
  bool counted_within = false;  // A callee counted arithmetic.
};

}  // namespace

namespace internal {

// What every thread running under a profile adds its operators to.
struct OpTally {
  bool by_shape = false;
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, OpProfile::Row> rows;
};

}  // namespace internal

namespace {

using internal::OpTally;

std::shared_ptr<OpTally> active;        // The running profile's; atomic_load.
thread_local std::vector<Frame> stack;  // This thread's open operators.

// Pairs an operator's end with its start: an operator that started under a
// profile ends in it, even if the profile ends first.
struct Started : at::ObserverContext {
  explicit Started(std::shared_ptr<OpTally> t) : tally(std::move(t)) {}
  std::shared_ptr<OpTally> tally;
};

std::unique_ptr<at::ObserverContext> Enter(const at::RecordFunction& fn) {
  std::shared_ptr<OpTally> tally = std::atomic_load(&active);
  if (tally == nullptr) return nullptr;
  // The inputs live only while the operator starts: read them now.
  const Inputs in = fn.inputs();
  stack.push_back({.name = fn.name(),
                   .shapes = tally->by_shape ? Shapes(in) : "",
                   .start = Clock::now(),
                   .arithmetic = ArithmeticOf(fn.name(), in)});
  return std::make_unique<Started>(std::move(tally));
}

void Leave(const at::RecordFunction& fn, at::ObserverContext* context) {
  if (context == nullptr) return;  // Started outside a profile.
  OpTally& tally = *static_cast<Started*>(context)->tally;
  Frame frame = std::move(stack.back());
  stack.pop_back();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - frame.start).count();
  const at::Tensor* output = FirstOutput(fn.outputs());
  double flop = frame.arithmetic.flop;
  if (frame.arithmetic.flop_per_output > 0 && output != nullptr) {
    flop = frame.arithmetic.flop_per_output * output->numel();
  }
  if (frame.counted_within) flop = 0;  // Its callee did the arithmetic.
  if (tally.by_shape && output != nullptr) {
    absl::StrAppend(&frame.shapes, " -> ", Shape(*output));
  }
  const bool nested_in_itself =
      std::any_of(stack.begin(), stack.end(),
                  [&](const Frame& f) { return f.name == frame.name; });
  {
    const std::lock_guard<std::mutex> lock(tally.mu);
    OpProfile::Row& row = tally.rows[{frame.name, frame.shapes}];
    row.name = frame.name;
    row.shapes = frame.shapes;
    ++row.calls;
    row.self_s += seconds - frame.children_s;
    row.flop += flop;
    if (!nested_in_itself) row.total_s += seconds;
  }
  if (!stack.empty()) {
    Frame& caller = stack.back();
    caller.children_s += seconds;
    caller.counted_within |= flop > 0 || frame.counted_within;
  }
}

}  // namespace

OpProfile::OpProfile(Options options) : tally_(std::make_shared<OpTally>()) {
  tally_->by_shape = options.by_shape;
  std::shared_ptr<OpTally> none;
  TORCH_CHECK(std::atomic_compare_exchange_strong(&active, &none, tally_),
              "one util::OpProfile at a time");
  handle_ = at::addThreadLocalCallback(
      at::RecordFunctionCallback(Enter, Leave)
          .needsInputs(true)
          .needsOutputs(true)
          .scopes(
              {at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
}

OpProfile::~OpProfile() {
  at::removeCallback(handle_);
  std::atomic_store(&active, std::shared_ptr<OpTally>());
}

std::vector<OpProfile::Row> OpProfile::Rows() const {
  std::vector<Row> rows;
  {
    const std::lock_guard<std::mutex> lock(tally_->mu);
    for (const auto& [key, row] : tally_->rows) rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.self_s > b.self_s; });
  return rows;
}

std::string OpProfile::Table(int top) const {
  const std::vector<Row> rows = Rows();
  double all = 0;
  for (const Row& row : rows) all += row.self_s;
  std::string out =
      absl::StrFormat("%-44s %7s %10s %6s %10s %8s%s\n", "operator", "calls",
                      "self ms", "self%", "total ms", "GFLOP/s",
                      tally_->by_shape ? "  shapes: inputs -> output" : "");
  for (int i = 0; i < top && i < static_cast<int>(rows.size()); ++i) {
    const Row& r = rows[i];
    const std::string rate =
        r.flop > 0 && r.self_s > 0
            ? absl::StrFormat("%.1f", r.flop / r.self_s / 1e9)
            : "";
    absl::StrAppendFormat(&out, "%-44s %7d %10.1f %5.1f%% %10.1f %8s%s\n",
                          r.name.substr(0, 44), r.calls, 1e3 * r.self_s,
                          all > 0 ? 100 * r.self_s / all : 0.0, 1e3 * r.total_s,
                          rate, r.shapes.empty() ? "" : "  " + r.shapes);
  }
  absl::StrAppendFormat(&out, "%-44s %7s %10.1f\n", "all operators", "",
                        1e3 * all);
  return out;
}

}  // namespace mdm::util
