// The one place that reads the wall clock, behind an interface so that runs and
// tests can inject a date. The evaluator never uses it: it takes an as-of date.
#pragma once

#include <ctime>

#include "retention/date.h"

namespace retention {

class Clock {
 public:
  virtual ~Clock() = default;
  // Today's civil date in Europe/Paris.
  virtual Date Today() const = 0;
};

// The system clock.
const Clock& SystemClock();

// The civil date of an instant in Europe/Paris (timestamps from stores are reduced so).
Date DateInParis(std::time_t instant);

// A clock that always says `today` (tests, replays).
class FixedClock : public Clock {
 public:
  explicit FixedClock(Date today) : today_(today) {}
  Date Today() const override { return today_; }

 private:
  Date today_;
};

}  // namespace retention
