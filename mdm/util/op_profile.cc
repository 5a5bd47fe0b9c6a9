#include "mdm/util/op_profile.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include "absl/strings/str_format.h"

namespace mdm::util {
namespace {

using Clock = std::chrono::steady_clock;

struct Frame {
  std::string name;
  Clock::time_point start;
  double children_s = 0;
};

struct ThreadProfile {
  std::vector<Frame> stack;
  std::map<std::string, OpProfile::Row> rows;
};

thread_local ThreadProfile profile;

std::unique_ptr<at::ObserverContext> Enter(const at::RecordFunction& fn) {
  profile.stack.push_back({fn.name(), Clock::now()});
  return nullptr;
}

void Leave(const at::RecordFunction& fn, at::ObserverContext*) {
  if (profile.stack.empty()) return;  // Entered before the profile began.
  Frame frame = std::move(profile.stack.back());
  profile.stack.pop_back();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - frame.start).count();
  OpProfile::Row& row = profile.rows[frame.name];
  row.name = frame.name;
  ++row.calls;
  row.self_s += seconds - frame.children_s;
  const bool nested_in_itself =
      std::any_of(profile.stack.begin(), profile.stack.end(),
                  [&](const Frame& f) { return f.name == frame.name; });
  if (!nested_in_itself) row.total_s += seconds;
  if (!profile.stack.empty()) profile.stack.back().children_s += seconds;
}

}  // namespace

OpProfile::OpProfile()
    : handle_(at::addThreadLocalCallback(
          at::RecordFunctionCallback(Enter, Leave)
              .scopes({at::RecordScope::FUNCTION,
                       at::RecordScope::BACKWARD_FUNCTION}))) {
  profile = ThreadProfile();
}

OpProfile::~OpProfile() { at::removeCallback(handle_); }

std::vector<OpProfile::Row> OpProfile::Rows() const {
  std::vector<Row> rows;
  for (const auto& [name, row] : profile.rows) rows.push_back(row);
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.self_s > b.self_s; });
  return rows;
}

std::string OpProfile::Table(int top) const {
  const std::vector<Row> rows = Rows();
  double all = 0;
  for (const Row& row : rows) all += row.self_s;
  std::string out = absl::StrFormat("%-44s %7s %10s %6s %10s\n", "operator",
                                    "calls", "self ms", "self%", "total ms");
  for (int i = 0; i < top && i < static_cast<int>(rows.size()); ++i) {
    const Row& r = rows[i];
    absl::StrAppendFormat(&out, "%-44s %7d %10.1f %5.1f%% %10.1f\n",
                          r.name.substr(0, 44), r.calls, 1e3 * r.self_s,
                          all > 0 ? 100 * r.self_s / all : 0.0,
                          1e3 * r.total_s);
  }
  absl::StrAppendFormat(&out, "%-44s %7s %10.1f\n", "all operators", "",
                        1e3 * all);
  return out;
}

}  // namespace mdm::util
