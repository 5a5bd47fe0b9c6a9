#include "mdm/util/command_line.h"

#include <c10/util/Exception.h>
#include <gflags/gflags.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace mdm::util {
namespace {

// The first line of an exception message: LibTorch's add a stack trace.
std::string FirstLine(absl::string_view message) {
  const size_t newline = message.find('\n');
  return std::string(message.substr(0, newline));
}

}  // namespace

std::vector<std::string> ExtractRepeatedFlag(absl::string_view name, int* argc,
                                             char** argv) {
  std::vector<std::string> values;
  const std::string with_value = absl::StrCat("--", name, "=");
  const std::string bare = absl::StrCat("--", name);
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, with_value)) {
      values.emplace_back(arg.substr(with_value.size()));
    } else if (arg == bare && i + 1 < *argc) {
      values.emplace_back(argv[++i]);
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  argv[kept] = nullptr;
  return values;
}

std::string ResolveUserPath(const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  const char* working_dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (working_dir == nullptr || *working_dir == '\0') return path;
  return (std::filesystem::path(working_dir) / path).string();
}

std::string ToolHelpText(const ToolHelp& help) {
  std::string text = absl::StrCat(help.name, ": ", help.summary, "\n\nExamples:\n");
  for (absl::string_view line : absl::StrSplit(help.examples, '\n')) {
    if (!line.empty()) absl::StrAppend(&text, "  ", line, "\n");
  }
  absl::StrAppend(&text, "\nFlags:\n");
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  std::sort(flags.begin(), flags.end(), [](const auto& a, const auto& b) {
    return a.name < b.name;
  });
  for (const gflags::CommandLineFlagInfo& flag : flags) {
    // MDM's sources: mdm/..., or external/<repo>/mdm/... in a workspace
    // that depends on MDM.
    if (!absl::StartsWith(flag.filename, "mdm/") &&
        !absl::StrContains(flag.filename, "/mdm/")) {
      continue;
    }
    std::string default_value = flag.default_value;
    double number = 0;
    if (flag.type == "string") {
      default_value = absl::StrCat("\"", default_value, "\"");
    } else if (flag.type == "double" &&
               absl::SimpleAtod(default_value, &number)) {
      default_value = absl::StrFormat("%g", number);  // 1e-05, not 1.0...1e-05.
    }
    absl::StrAppend(&text, "  --", flag.name, " (", flag.type, ", default ",
                    default_value, ")\n      ", flag.description, "\n");
  }
  absl::StrAppend(&text,
                  "\nThe libraries' flags (LibTorch, glog, gflags): --helpfull\n");
  return text;
}

void ParseToolFlags(const ToolHelp& help, int* argc, char*** argv) {
  gflags::SetUsageMessage(std::string(help.summary));
  gflags::ParseCommandLineNonHelpFlags(argc, argv, /*remove_flags=*/true);
  std::string asked;
  if (gflags::GetCommandLineOption("help", &asked) && asked == "true") {
    std::cout << ToolHelpText(help);
    std::exit(0);
  }
  gflags::HandleCommandLineHelpFlags();
}

absl::Status RequireFlag(absl::string_view name, absl::string_view value,
                         absl::string_view what) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " is required: ", what));
}

absl::Status NoPositionalArguments(int argc, char** argv) {
  if (argc <= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "unexpected argument '", argv[1],
      "': every input is a flag (--name=value; --help lists them)"));
}

int RunAndReport(absl::string_view program,
                 absl::FunctionRef<absl::Status()> body) {
  std::string error;
  try {
    const absl::Status status = body();
    if (status.ok()) return 0;
    error = std::string(status.message());
  } catch (const c10::Error& e) {
    error = FirstLine(e.what_without_backtrace());
  } catch (const std::exception& e) {
    error = FirstLine(e.what());
  }
  // One line, whatever the message held.
  std::cerr << program << ": " << absl::StrReplaceAll(error, {{"\n", " "}})
            << std::endl;
  return 1;
}

}  // namespace mdm::util
