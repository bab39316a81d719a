#include "retention/version.h"

namespace retention {

const char* Version() noexcept { return RETENTION_VERSION_STRING; }

}  // namespace retention
