// glog's LOG, VLOG and CHECK for MDM's code, whichever LibTorch it is built
// against: include this header, never <glog/logging.h> itself.
//
// A LibTorch built with glog (Debian's) logs through it. One built without
// (PyTorch's wheels: C10_USE_GLOG unset) defines LOG, VLOG, CHECK, ... of
// its own in c10/util/Logging.h, and whichever of the two headers comes
// last wins. This one includes c10's first and then puts glog's macros in
// their place, so that MDM's messages go through glog (its flags, its log
// files, its LogSinks) with either LibTorch.
#ifndef MDM_UTIL_LOGGING_H_
#define MDM_UTIL_LOGGING_H_

#include <c10/util/Logging.h>

#include "mdm/util/logging.h"

#ifndef C10_USE_GLOG
#undef CHECK
#undef DCHECK
#undef DLOG
#undef LOG
#undef LOG_IF
#undef VLOG
#undef VLOG_IF
#undef VLOG_IS_ON
#endif  // C10_USE_GLOG

#include <glog/logging.h>

#endif  // MDM_UTIL_LOGGING_H_
