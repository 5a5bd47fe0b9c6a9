#include "mdm/util/command_line.h"

#include <c10/util/Exception.h>
#include <gflags/gflags.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

DEFINE_int32(test_widgets, 3, "How many widgets.");
DEFINE_string(test_name, "w", "The widgets' name.");
DEFINE_double(test_tolerance, 1e-5, "How close.");

namespace mdm::util {
namespace {

using ::testing::ElementsAre;

TEST(CommandLineTest, ExtractsEveryOccurrenceAndKeepsTheRest) {
  std::vector<std::string> args = {"prog", "--set=a.b=1", "--config=x", "--set",
                                   "c=2",  "--settle=3",  "pos"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  EXPECT_THAT(ExtractRepeatedFlag("set", &argc, argv.data()),
              ElementsAre("a.b=1", "c=2"));
  ASSERT_EQ(argc, 4);
  EXPECT_STREQ(argv[1], "--config=x");
  EXPECT_STREQ(argv[2], "--settle=3");
  EXPECT_STREQ(argv[3], "pos");
  EXPECT_EQ(argv[4], nullptr);
}

TEST(CommandLineTest, ResolvesRelativePathsAgainstBazelsWorkingDirectory) {
  unsetenv("BUILD_WORKING_DIRECTORY");
  EXPECT_EQ(ResolveUserPath("configs/a.textproto"), "configs/a.textproto");
  setenv("BUILD_WORKING_DIRECTORY", "/home/me/mdm", 1);
  EXPECT_EQ(ResolveUserPath("configs/a.textproto"),
            "/home/me/mdm/configs/a.textproto");
  EXPECT_EQ(ResolveUserPath("/abs/path"), "/abs/path");
  EXPECT_EQ(ResolveUserPath(""), "");
  unsetenv("BUILD_WORKING_DIRECTORY");
}

TEST(CommandLineTest, ReportsStatusesAndExceptionsAsOneLine) {
  EXPECT_EQ(RunAndReport("prog", [] { return absl::OkStatus(); }), 0);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(
      RunAndReport("prog", [] { return absl::NotFoundError("no such\nfile"); }),
      1);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "prog: no such file\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunAndReport("prog",
                         []() -> absl::Status {
                           TORCH_CHECK(false, "shapes disagree");
                           return absl::OkStatus();
                         }),
            1);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "prog: shapes disagree\n");
}

// --help: the tool, its examples and MDM's flags, by name; the libraries'
// flags (glog's here, LibTorch's caffe2_* on Debian's) only under
// --helpfull.
TEST(CommandLineTest, HelpShowsTheToolsOwnFlagsFirst) {
  const std::string text =
      ToolHelpText({.name = "prog",
                    .summary = "Does things.",
                    .examples = "prog --test_widgets=4\nprog --test_name=x"});
  EXPECT_THAT(text, ::testing::StartsWith(
                        "prog: Does things.\n\nExamples:\n"
                        "  prog --test_widgets=4\n  prog --test_name=x\n\n"
                        "Flags:\n"));
  const size_t name = text.find("  --test_name (string, default \"w\")\n"
                                "      The widgets' name.\n");
  const size_t widgets = text.find(
      "  --test_widgets (int32, default 3)\n      How many widgets.\n");
  ASSERT_NE(name, std::string::npos) << text;
  EXPECT_NE(text.find("  --test_tolerance (double, default 1e-05)\n"),
            std::string::npos)
      << text;
  ASSERT_NE(widgets, std::string::npos) << text;
  EXPECT_LT(name, widgets);
  gflags::CommandLineFlagInfo glog_flag;
  ASSERT_TRUE(gflags::GetCommandLineFlagInfo("logtostderr", &glog_flag));
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("logtostderr")));
  EXPECT_THAT(text, ::testing::EndsWith("--helpfull\n"));
}

TEST(CommandLineTest, AMissingRequiredFlagSaysSo) {
  EXPECT_TRUE(RequireFlag("checkpoint", "runs/a", "a run").ok());
  EXPECT_EQ(RequireFlag("checkpoint", "", "a run directory or checkpoint")
                .message(),
            "--checkpoint is required: a run directory or checkpoint");
}

}  // namespace
}  // namespace mdm::util
