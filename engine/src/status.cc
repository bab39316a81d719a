#include "retention/status.h"

#include <cstdio>
#include <cstdlib>

namespace retention::detail {

void BadResultAccess(const Status& status) noexcept {
  std::fprintf(stderr, "retention: value() called on an error result: %s\n", status.message().c_str());
  std::abort();
}

}  // namespace retention::detail
