// A store's text (a key, a file name) on one line: control characters escaped (\n, \t,
// \xNN), so that a file name cannot add lines to a plan or a report. Private.
#pragma once

#include <string>
#include <vector>

namespace retention::internal {

std::string OneLine(const std::string& text);
std::string OneLine(const std::vector<std::string>& texts);  // joined with ", "

}  // namespace retention::internal
