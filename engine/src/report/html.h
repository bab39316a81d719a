// The HTML pieces the report and the register view share (private to src/report/).
#pragma once

#include <string>

namespace retention::html {

std::string Esc(const std::string& text);  // &, <, >, " escaped
// SVG <defs>: one pattern per action, named "<id>-archive"..., distinct without colour.
std::string Patterns(const std::string& id);
// The chart's legend: a swatch and the action's name, on one line at the top.
std::string Legend(const std::string& id, int left);
// A complete page: inline style, no script, nothing fetched.
std::string Page(const std::string& title, const std::string& body);

}  // namespace retention::html
