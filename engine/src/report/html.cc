#include "report/html.h"

#include <fmt/format.h>

namespace retention::html {

std::string Esc(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Patterns(const std::string& id) {
  return fmt::format(
      "<defs>"
      "<pattern id=\"{0}-archive\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">"
      "<rect width=\"8\" height=\"8\" fill=\"#3b6ea8\"/></pattern>"
      "<pattern id=\"{0}-pseudonymise\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">"
      "<rect width=\"8\" height=\"8\" fill=\"#f0a340\"/><path d=\"M0 8L8 0M-2 2L2 -2M6 10L10 6\" stroke=\"#6b4210\" "
      "stroke-width=\"1.5\"/></pattern>"
      "<pattern id=\"{0}-delete\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">"
      "<rect width=\"8\" height=\"8\" fill=\"#c8453c\"/><path d=\"M0 0L8 8M8 0L0 8\" stroke=\"#fff\" stroke-width=\"1.2\"/>"
      "</pattern></defs>",
      id);
}

std::string Legend(const std::string& id, int left) {
  std::string out;
  int x = left;
  for (const char* action : {"archive", "pseudonymise", "delete"}) {
    out += fmt::format("<rect x=\"{}\" y=\"6\" width=\"14\" height=\"14\" fill=\"url(#{}-{})\" stroke=\"#333\"/>"
                       "<text x=\"{}\" y=\"18\" class=\"legend\">{}</text>",
                       x, id, action, x + 20, action);
    x += 130;
  }
  return out;
}

namespace {
constexpr const char* kStyle = R"(
body{font-family:"DejaVu Sans",Arial,sans-serif;color:#1d1d1d;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;border-bottom:3px solid #3b6ea8;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #bbb}
h3{font-size:1.05em}h4{margin:.8em 0 .2em}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef2f7}td:not(:first-child){font-variant-numeric:tabular-nums}
.stamp{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:.85em;background:#f6f6f6;padding:8px}
.stamp dt{font-weight:bold}.stamp dd{margin:0;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:8px}
.card{border:1px solid #bbb;border-radius:4px;padding:6px 10px;min-width:120px;font-size:.85em}
.card .n{font-size:1.6em;font-weight:bold}
.card.archive,.card.pseudonymise,.card.delete{border-top:5px solid #3b6ea8}.card.pseudonymise{border-top-color:#f0a340}.card.delete{border-top-color:#c8453c}
.chart{width:100%;height:auto;border:1px solid #ddd;margin-top:.5em}
.chart .grid{stroke:#ddd}.chart .axis,.chart .legend{font-size:11px;fill:#333}.chart .legend{font-size:12px}.chart .value{font-size:10px;fill:#111}
blockquote{margin:.3em 0 .3em 1em;padding-left:.8em;border-left:3px solid #999;font-style:italic}
.basis,.note{font-size:.85em;color:#444}
code{font-size:.9em}
@media print{body{max-width:none;margin:0}section{break-inside:auto}.chart,table.data{break-inside:avoid}h2{break-after:avoid}}
)";
}  // namespace

std::string Page(const std::string& title, const std::string& body) {
  return fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>"
                     "<meta name=\"viewport\" content=\"width=device-width\"><style>{1}</style></head>\n"
                     "<body><h1>{0}</h1>\n{2}</body></html>\n",
                     Esc(title), kStyle, body);
}

}  // namespace retention::html
