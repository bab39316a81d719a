// UTF-8 well-formedness: every text the engine reads from a file or an operator.
#pragma once

#include <cstddef>
#include <string_view>

namespace retention::internal {

// The offset of the first byte that is not well-formed UTF-8 (overlong forms, surrogates
// and code points past U+10FFFF included), or std::string::npos when the text is UTF-8.
size_t FirstInvalidUtf8(std::string_view text);

}  // namespace retention::internal
