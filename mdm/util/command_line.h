// Helpers every binary's main() shares: repeatable flags (gflags keeps only
// a flag's last value), user paths relative to where `bazel run` was
// called, and turning errors into one line on stderr and an exit code.
#ifndef MDM_UTIL_COMMAND_LINE_H_
#define MDM_UTIL_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mdm::util {

// Removes every "--name=value" and "--name value" from argv (before gflags
// parses it) and returns the values in order. Example: ExtractRepeatedFlag(
// "set", &argc, argv) on "--set=a.b=1 --set c=2" returns {"a.b=1", "c=2"}.
std::vector<std::string> ExtractRepeatedFlag(absl::string_view name, int* argc,
                                             char** argv);

// A path the user typed, resolved against $BUILD_WORKING_DIRECTORY when it
// is relative and `bazel run` set that variable (binaries start inside the
// runfiles tree); unchanged otherwise.
std::string ResolveUserPath(const std::string& path);

// OK when gflags left nothing but the program's name in argv (after
// ParseCommandLineFlags with remove_flags); otherwise InvalidArgument naming
// the first word that is no flag: every binary takes flags only.
absl::Status NoPositionalArguments(int argc, char** argv);

// What a tool's --help says before its flags.
struct ToolHelp {
  absl::string_view name;      // "train".
  absl::string_view summary;   // What the tool does, a sentence or two.
  absl::string_view examples;  // Example commands, one per line.
};

// The text --help prints: the summary, the examples, then MDM's own flags
// (those defined in files under mdm/, by name: type, default, help), then
// where the libraries' flags (LibTorch's, glog's, gflags') are: --helpfull.
std::string ToolHelpText(const ToolHelp& help);

// gflags::ParseCommandLineFlags with argv's flags removed, except that
// --help prints ToolHelpText and exits 0 (gflags lists every library's
// flags first); --helpfull, --helpshort, --version are gflags' own.
void ParseToolFlags(const ToolHelp& help, int* argc, char*** argv);

// InvalidArgument "--name is required: <what>" when `value` is empty.
absl::Status RequireFlag(absl::string_view name, absl::string_view value,
                         absl::string_view what);

// Runs `body`; on a non-OK status or an exception (a LibTorch check),
// prints "<program>: <message>" as one line on stderr and returns 1.
// Returns 0 on success.
int RunAndReport(absl::string_view program,
                 absl::FunctionRef<absl::Status()> body);

}  // namespace mdm::util

#endif  // MDM_UTIL_COMMAND_LINE_H_
