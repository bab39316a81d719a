// Date arithmetic the engine shares between its own files (private to the engine; the
// public dates are retention/date.h).
#pragma once

#include <cstdint>

namespace retention {

// a / b rounded toward negative infinity (b > 0): the day or minute an instant before
// the epoch falls in.
int64_t FloorDiv(int64_t a, int64_t b);

// Summer time in Europe/Paris in one year: [start, end) in minutes since the epoch (UTC).
// The one rule for Paris, behind ParisUtcOffsetMinutes (retention/date.h); empty
// (start == end) in a year without summer time (before 1976).
struct SummerTime {
  int64_t start = 0, end = 0;
};
SummerTime ParisSummerTime(int year);

}  // namespace retention
