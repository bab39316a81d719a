#include "retention/clock.h"

#include "date/date_internal.h"

namespace retention {
namespace {

class SystemClockImpl : public Clock {
 public:
  Date Today() const override { return DateInParis(std::time(nullptr)); }
};

}  // namespace

// No localtime and no TZ: a library must not change process-wide state (date.h).
Date DateInParis(std::time_t now) { return DateInParisAt(FloorDiv(static_cast<int64_t>(now), 60)); }

const Clock& SystemClock() {
  static const SystemClockImpl clock;
  return clock;
}

}  // namespace retention
