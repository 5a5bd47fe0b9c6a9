// Keeps docs/configs.md's config reference (generated from experiment.proto
// by tools/config_reference.py) complete: every field of Experiment, as
// `block.field`, has a row there, and every row names a real field.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "mdm/proto/experiment.pb.h"

namespace mdm::proto {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;

std::set<std::string> FieldPaths() {
  std::set<std::string> paths;
  const Descriptor* experiment = Experiment::descriptor();
  for (int i = 0; i < experiment->field_count(); ++i) {
    const FieldDescriptor* block = experiment->field(i);
    if (block->message_type() == nullptr) {
      paths.insert(block->name());
      continue;
    }
    for (int j = 0; j < block->message_type()->field_count(); ++j) {
      paths.insert(block->name() + "." +
                   block->message_type()->field(j)->name());
    }
  }
  return paths;
}

TEST(ConfigReferenceTest, ThePageListsExactlyTheSchemasFields) {
  std::ifstream file("docs/configs.md");
  ASSERT_TRUE(file) << "docs/configs.md not found";
  std::stringstream text;
  text << file.rdbuf();
  std::set<std::string> rows;
  // Only the "Config reference" section, up to the next top-level section.
  const std::string all = text.str();
  const size_t begin = all.find("## Config reference");
  ASSERT_NE(begin, std::string::npos)
      << "docs/configs.md has no '## Config reference'";
  const std::string readme = all.substr(begin, all.find("\n## ", begin) - begin);
  const std::regex row(R"(\n\| `([a-z0-9_.]+)` \|)");
  for (std::sregex_iterator it(readme.begin(), readme.end(), row), end;
       it != end; ++it) {
    rows.insert((*it)[1]);
  }
  for (const std::string& path : FieldPaths()) {
    EXPECT_EQ(rows.count(path), 1u)
        << "docs/configs.md's config reference lacks " << path;
  }
  for (const std::string& path : rows) {
    if (path.find('.') == std::string::npos && path != "seed") continue;
    EXPECT_EQ(FieldPaths().count(path), 1u)
        << "docs/configs.md's config reference names " << path
        << ", which experiment.proto does not have";
  }
}

}  // namespace
}  // namespace mdm::proto
