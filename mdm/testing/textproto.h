// Inline textproto configs for tests: ParseTextProtoOrDie<Experiment>(R"pb(
//   diffusion { sde_type: CLD } )pb").
#ifndef MDM_TESTING_TEXTPROTO_H_
#define MDM_TESTING_TEXTPROTO_H_

#include <google/protobuf/text_format.h>

#include <string>

#include "absl/strings/string_view.h"
#include "mdm/util/logging.h"

namespace mdm::testing {

template <typename Message>
Message ParseTextProtoOrDie(absl::string_view text) {
  Message message;
  CHECK(google::protobuf::TextFormat::ParseFromString(std::string(text),
                                                      &message))
      << "invalid textproto in test: " << text;
  return message;
}

}  // namespace mdm::testing

#endif  // MDM_TESTING_TEXTPROTO_H_
