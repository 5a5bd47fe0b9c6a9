// Reading protobuf text format (textproto) with one error line: the first
// parse error, as "<source>:<line>:<column>: <message>", in the returned
// status, and nothing printed by protobuf itself.
#ifndef MDM_PROTO_TEXT_FORMAT_H_
#define MDM_PROTO_TEXT_FORMAT_H_

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mdm::proto {

// Parses `text` into `message`: replacing it (a field given twice is an
// error) or, with `merge`, overwriting the fields it names.
// `source_name` (a file name, say) prefixes the error.
absl::Status ParseTextFormat(absl::string_view text,
                             absl::string_view source_name,
                             google::protobuf::Message& message,
                             bool merge = false);

}  // namespace mdm::proto

#endif  // MDM_PROTO_TEXT_FORMAT_H_
