// Date arithmetic the engine shares between its own files (private to the engine; the
// public dates are retention/date.h).
#pragma once

#include <cstdint>

namespace retention {

// a / b rounded toward negative infinity (b > 0): the day or minute an instant before
// the epoch falls in.
int64_t FloorDiv(int64_t a, int64_t b);

}  // namespace retention
