#include "mdm/data/joblib.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/data/file_io.h"

namespace mdm::data {
namespace {

// What the reader keeps of a pickled value. Globals are names only; an
// object is its class (or callable) name, arguments and state.
struct Value {
  enum Kind { kNone, kBool, kInt, kFloat, kString, kGlobal, kTuple, kList,
              kDict, kObject, kMark, kArray };
  Kind kind = kNone;
  int64_t i = 0;
  std::string s;                          // kString, kGlobal, kObject.
  std::vector<std::shared_ptr<Value>> items;  // kTuple, kList; kDict k, v, ...
  std::shared_ptr<Value> state;           // kObject after BUILD.
};
using Ref = std::shared_ptr<Value>;

// Larger sides are taken for a corrupt file.
constexpr int64_t kMaxSide = 1 << 16;

Ref Make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

// A dict's value for a string key, or null.
Ref Lookup(const Value& dict, const std::string& key) {
  if (dict.kind != Value::kDict) return nullptr;
  for (size_t k = 0; k + 1 < dict.items.size(); k += 2) {
    if (dict.items[k]->kind == Value::kString && dict.items[k]->s == key)
      return dict.items[k + 1];
  }
  return nullptr;
}

class Reader {
 public:
  Reader(const std::string& path, const std::string& bytes)
      : path_(path), bytes_(bytes) {}

  absl::StatusOr<at::Tensor> Run();

 private:
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": ", what, " (at byte ", pos_, ")"));
  }
  bool Take(size_t n, const char** out) {
    if (bytes_.size() - pos_ < n) return false;
    *out = bytes_.data() + pos_;
    pos_ += n;
    return true;
  }
  absl::StatusOr<uint64_t> Unsigned(size_t n) {
    const char* p;
    if (!Take(n, &p)) return Error("truncated");
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(p[k])) << (8 * k);
    return v;
  }
  absl::StatusOr<std::string> Text(size_t length_bytes) {
    absl::StatusOr<uint64_t> n = Unsigned(length_bytes);
    if (!n.ok()) return n.status();
    const char* p;
    if (!Take(*n, &p)) return Error("truncated string");
    return std::string(p, *n);
  }
  absl::StatusOr<Ref> Pop() {
    if (stack_.empty()) return Error("pickle stack underflow");
    Ref v = stack_.back();
    stack_.pop_back();
    return v;
  }
  // The values above the topmost mark, removing them and the mark.
  absl::StatusOr<std::vector<Ref>> PopToMark() {
    std::vector<Ref> out;
    while (!stack_.empty() && stack_.back()->kind != Value::kMark) {
      out.insert(out.begin(), stack_.back());
      stack_.pop_back();
    }
    if (stack_.empty()) return Error("pickle mark missing");
    stack_.pop_back();
    return out;
  }
  absl::Status Step(unsigned char op);
  // BUILD on joblib's wrapper: the array's bytes follow in the file.
  absl::Status ReadArray(Value& wrapper);

  const std::string& path_;
  const std::string& bytes_;
  size_t pos_ = 0;
  std::vector<Ref> stack_;
  std::map<uint64_t, Ref> memo_;
  bool stopped_ = false;
  std::optional<at::Tensor> array_;
};

absl::Status Reader::ReadArray(Value& wrapper) {
  const Ref state = wrapper.state;
  const Ref shape = state ? Lookup(*state, "shape") : nullptr;
  const Ref order = state ? Lookup(*state, "order") : nullptr;
  const Ref dtype = state ? Lookup(*state, "dtype") : nullptr;
  if (!shape || shape->kind != Value::kTuple || !dtype ||
      dtype->kind != Value::kObject) {
    return Error("joblib array without a shape or dtype");
  }
  std::string type;
  if (!dtype->items.empty() && dtype->items[0]->kind == Value::kString)
    type = dtype->items[0]->s;
  std::vector<int64_t> sizes;
  for (const Ref& d : shape->items) {
    if (d->kind != Value::kInt || d->i < 0) return Error("bad array shape");
    sizes.push_back(d->i);
  }
  if (type != "u1" || sizes.size() != 3 || sizes[2] != 3 ||
      (order && order->s != "C")) {
    std::string shown;
    for (int64_t d : sizes) absl::StrAppend(&shown, shown.empty() ? "" : ", ", d);
    return Error(absl::StrCat("holds a ", type, " array of shape (", shown,
                              "), not an RGB image (uint8, (H, W, 3), C "
                              "order)"));
  }
  if (sizes[0] > kMaxSide || sizes[1] > kMaxSide) {
    return Error(absl::StrCat("image of ", sizes[0], " x ", sizes[1],
                              " pixels is larger than ", kMaxSide, " a side"));
  }
  if (Lookup(*state, "numpy_array_alignment_bytes")) {
    // joblib 1.2+: one byte giving the padding's length, then the padding.
    absl::StatusOr<uint64_t> padding = Unsigned(1);
    if (!padding.ok()) return padding.status();
    const char* skipped;
    if (!Take(*padding, &skipped)) return Error("truncated padding");
  }
  const int64_t count = sizes[0] * sizes[1] * sizes[2];
  const char* data;
  if (!Take(count, &data)) return Error("truncated array data");
  // host: data is read and kept on the host; batches move
  at::Tensor array = at::empty(sizes, at::kByte);
  std::memcpy(array.data_ptr<uint8_t>(), data, count);
  array_ = array;
  wrapper.kind = Value::kArray;
  return absl::OkStatus();
}

// One case per pickle opcode the files use, in one switch on purpose (about
// 170 lines): a dispatch table reads best whole.
absl::Status Reader::Step(unsigned char op) {
  auto push = [&](Ref v) { stack_.push_back(std::move(v)); };
  auto integer = [&](size_t n, bool is_signed) -> absl::Status {
    absl::StatusOr<uint64_t> v = Unsigned(n);
    if (!v.ok()) return v.status();
    Ref r = Make(Value::kInt);
    r->i = is_signed ? static_cast<int32_t>(*v) : static_cast<int64_t>(*v);
    push(r);
    return absl::OkStatus();
  };
  auto string = [&](size_t length_bytes, Value::Kind kind) -> absl::Status {
    absl::StatusOr<std::string> s = Text(length_bytes);
    if (!s.ok()) return s.status();
    Ref r = Make(kind);
    r->s = *s;
    push(r);
    return absl::OkStatus();
  };
  auto memo_put = [&](uint64_t key) -> absl::Status {
    if (stack_.empty()) return Error("memo of an empty stack");
    memo_[key] = stack_.back();
    return absl::OkStatus();
  };
  auto memo_get = [&](size_t n) -> absl::Status {
    absl::StatusOr<uint64_t> key = Unsigned(n);
    if (!key.ok()) return key.status();
    const auto it = memo_.find(*key);
    if (it == memo_.end()) return Error("unknown memo key");
    push(it->second);
    return absl::OkStatus();
  };
  auto tuple = [&](size_t n) -> absl::Status {
    if (stack_.size() < n) return Error("pickle stack underflow");
    Ref t = Make(Value::kTuple);
    t->items.assign(stack_.end() - n, stack_.end());
    stack_.resize(stack_.size() - n);
    push(t);
    return absl::OkStatus();
  };
  auto object = [&](Ref callable, Ref args) -> absl::Status {
    if (callable->kind != Value::kGlobal) return Error("call of a non-global");
    Ref r = Make(Value::kObject);
    r->s = callable->s;
    if (args->kind == Value::kTuple) r->items = args->items;
    push(r);
    return absl::OkStatus();
  };
  switch (op) {
    case 0x80: return Unsigned(1).status();  // PROTO
    case 0x95: return Unsigned(8).status();  // FRAME
    case 0x8c: return string(1, Value::kString);  // SHORT_BINUNICODE
    case 'X': return string(4, Value::kString);   // BINUNICODE
    case 0x8d: return string(8, Value::kString);  // BINUNICODE8
    case 'U': return string(1, Value::kString);   // SHORT_BINSTRING
    case 'T': return string(4, Value::kString);   // BINSTRING
    case 'C': return string(1, Value::kString);   // SHORT_BINBYTES
    case 'B': return string(4, Value::kString);   // BINBYTES
    case 0x94: return memo_put(memo_.size());     // MEMOIZE
    case 'q': {                                   // BINPUT
      absl::StatusOr<uint64_t> key = Unsigned(1);
      return key.ok() ? memo_put(*key) : key.status();
    }
    case 'r': {  // LONG_BINPUT
      absl::StatusOr<uint64_t> key = Unsigned(4);
      return key.ok() ? memo_put(*key) : key.status();
    }
    case 'h': return memo_get(1);  // BINGET
    case 'j': return memo_get(4);  // LONG_BINGET
    case 'K': return integer(1, false);  // BININT1
    case 'M': return integer(2, false);  // BININT2
    case 'J': return integer(4, true);   // BININT
    case 'G': {                          // BINFLOAT
      const char* p;
      if (!Take(8, &p)) return Error("truncated float");
      push(Make(Value::kFloat));
      return absl::OkStatus();
    }
    case 'N': push(Make(Value::kNone)); return absl::OkStatus();
    case 0x88:
    case 0x89: {  // NEWTRUE, NEWFALSE
      Ref r = Make(Value::kBool);
      r->i = op == 0x88;
      push(r);
      return absl::OkStatus();
    }
    case ')': push(Make(Value::kTuple)); return absl::OkStatus();
    case 0x85: return tuple(1);
    case 0x86: return tuple(2);
    case 0x87: return tuple(3);
    case '(': push(Make(Value::kMark)); return absl::OkStatus();
    case 't': {  // TUPLE
      absl::StatusOr<std::vector<Ref>> items = PopToMark();
      if (!items.ok()) return items.status();
      Ref t = Make(Value::kTuple);
      t->items = *std::move(items);
      push(t);
      return absl::OkStatus();
    }
    case '}': push(Make(Value::kDict)); return absl::OkStatus();
    case ']': push(Make(Value::kList)); return absl::OkStatus();
    case 's':
    case 'u':
    case 'a':
    case 'e': {  // SETITEM, SETITEMS, APPEND, APPENDS
      std::vector<Ref> items;
      if (op == 's' || op == 'a') {
        const size_t n = op == 's' ? 2 : 1;
        if (stack_.size() < n + 1) return Error("pickle stack underflow");
        items.assign(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
      } else {
        absl::StatusOr<std::vector<Ref>> marked = PopToMark();
        if (!marked.ok()) return marked.status();
        items = *std::move(marked);
      }
      if (stack_.empty()) return Error("pickle stack underflow");
      Value& target = *stack_.back();
      const Value::Kind want =
          op == 's' || op == 'u' ? Value::kDict : Value::kList;
      if (target.kind != want) return Error("items added to a non-container");
      target.items.insert(target.items.end(), items.begin(), items.end());
      return absl::OkStatus();
    }
    case 'c': {  // GLOBAL "module\nname\n"
      std::string name;
      for (int line = 0; line < 2; ++line) {
        const size_t end = bytes_.find('\n', pos_);
        if (end == std::string::npos) return Error("truncated global");
        absl::StrAppend(&name, line ? "." : "", bytes_.substr(pos_, end - pos_));
        pos_ = end + 1;
      }
      Ref g = Make(Value::kGlobal);
      g->s = name;
      push(g);
      return absl::OkStatus();
    }
    case 0x93: {  // STACK_GLOBAL
      absl::StatusOr<Ref> name = Pop();
      if (!name.ok()) return name.status();
      absl::StatusOr<Ref> module = Pop();
      if (!module.ok()) return module.status();
      Ref g = Make(Value::kGlobal);
      g->s = absl::StrCat((*module)->s, ".", (*name)->s);
      push(g);
      return absl::OkStatus();
    }
    case 'R':
    case 0x81: {  // REDUCE, NEWOBJ: recorded, never called
      absl::StatusOr<Ref> args = Pop();
      if (!args.ok()) return args.status();
      absl::StatusOr<Ref> callable = Pop();
      if (!callable.ok()) return callable.status();
      return object(*callable, *args);
    }
    case 'b': {  // BUILD
      absl::StatusOr<Ref> state = Pop();
      if (!state.ok()) return state.status();
      if (stack_.empty()) return Error("pickle stack underflow");
      Value& target = *stack_.back();
      if (target.kind != Value::kObject) return Error("state of a non-object");
      target.state = *state;
      if (target.s == "joblib.numpy_pickle.NumpyArrayWrapper") {
        if (array_) return Error("more than one array");
        return ReadArray(target);
      }
      return absl::OkStatus();
    }
    case '.': stopped_ = true; return absl::OkStatus();  // STOP
    default:
      return Error(absl::StrCat("unsupported pickle opcode 0x",
                                absl::Hex(op, absl::kZeroPad2)));
  }
}

absl::StatusOr<at::Tensor> Reader::Run() {
  if (bytes_.size() < 2 || static_cast<unsigned char>(bytes_[0]) != 0x80) {
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ": not a joblib file (no pickle header; of joblib's "
               "compressions only gzip is read)"));
  }
  while (!stopped_) {
    const char* op;
    if (!Take(1, &op)) return Error("truncated: no pickle STOP");
    if (absl::Status s = Step(static_cast<unsigned char>(*op)); !s.ok())
      return s;
  }
  if (!array_ || stack_.size() != 1 || stack_[0]->kind != Value::kArray) {
    return Error("the pickle holds no joblib numpy array");
  }
  return *array_;
}

}  // namespace

absl::StatusOr<at::Tensor> ReadJoblibImage(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadMaybeGzipFile(path);
  if (!bytes.ok()) return bytes.status();
  return Reader(path, *bytes).Run();
}

}  // namespace mdm::data
