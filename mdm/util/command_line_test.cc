#include "mdm/util/command_line.h"

#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace mdm::util
