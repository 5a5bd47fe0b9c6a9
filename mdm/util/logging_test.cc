// LibTorch's headers included after mdm/util/logging.h leave glog's macros
// in place: LOG and VLOG reach glog's sinks and follow its --v flag (c10's
// own LOG, in a LibTorch built without glog, reaches no sink, and its
// VLOG_IS_ON ignores --v).
#include "mdm/util/logging.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace mdm::util {
namespace {

class Collect : public google::LogSink {
 public:
  void send(google::LogSeverity /*severity*/, const char* /*full_filename*/,
            const char* /*base_filename*/, int /*line*/,
            const struct ::tm* /*tm_time*/, const char* message,
            size_t message_len) override {
    messages.emplace_back(message, message_len);
  }
  std::vector<std::string> messages;
};

TEST(LoggingTest, LogAndVlogGoThroughGlog) {
  Collect sink;
  google::AddLogSink(&sink);
  LOG(WARNING) << "sum " << at::ones({2}).sum().item<int>();
  FLAGS_v = 0;
  VLOG(1) << "not verbose enough";
  EXPECT_FALSE(VLOG_IS_ON(1));
  FLAGS_v = 1;
  VLOG(1) << "verbose";
  EXPECT_TRUE(VLOG_IS_ON(1));
  FLAGS_v = 0;
  google::RemoveLogSink(&sink);
  EXPECT_EQ(sink.messages, (std::vector<std::string>{"sum 2", "verbose"}));
}

}  // namespace
}  // namespace mdm::util
