// The register view: every fiche with its rules, to check the encoding against the
// register side by side (quote, reading, phases, kind, decision).
#include <algorithm>

#include <fmt/format.h>

#include "report/html.h"
#include "retention/report.h"

namespace retention {
namespace {

std::vector<const Policy*> Sorted(const PolicySet& set) {
  std::vector<const Policy*> out;
  for (const auto& p : set.policies) out.push_back(&p);
  std::sort(out.begin(), out.end(), [](const Policy* a, const Policy* b) {
    return std::tie(a->fiche, a->document) < std::tie(b->fiche, b->document);
  });
  // The register's fiches first (1..87), then the other documents (fiche 0).
  std::stable_partition(out.begin(), out.end(), [](const Policy* p) { return p->fiche != 0; });
  return out;
}

std::string Name(const Policy& p) { return p.fiche ? fmt::format("Fiche {}", p.fiche) : p.document; }

std::string Phases(const Rule& r) {
  std::vector<std::string> names;
  for (Phase p : r.phases) names.push_back(PhaseName(p));
  return fmt::format("{}", fmt::join(names, " → "));
}

std::string Kind(const Rule& r) { return r.manual ? "manual: " + r.manual_reason : "executable"; }

std::string Line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

std::string RegisterMarkdown(const PolicySet& set) {
  std::string out = fmt::format("# The register as encoded\n\nPolicy set `{}`. For each fiche, its rules: the quoted text, "
                                "the reading the engine applies, its phases, whether it is executable or manual (and why), "
                                "and the decision taken where the text allows two readings.\n",
                                set.hash);
  for (const Policy* p : Sorted(set)) {
    out += fmt::format("\n## {}: {}\n\n", Name(*p), Line(p->title));
    if (!p->legal_basis.empty()) out += fmt::format("Legal basis: {}\n\n", fmt::join(p->legal_basis, "; "));
    for (const Rule& r : p->rules) {
      out += fmt::format("### `{}`\n\n> {}\n\n", r.id, Line(r.source));
      if (!r.implements.empty()) out += fmt::format("- Catalog rules: {}\n", fmt::join(r.implements, ", "));
      out += fmt::format("- Kind: {}\n", Line(Kind(r)));
      if (!r.manual) out += fmt::format("- Reading: {}\n- Facts: {}\n- Phases: {}\n", Line(r.summary), fmt::join(r.facts, ", "), Phases(r));
      if (!r.decision.empty()) out += fmt::format("- Decision: {}\n", Line(r.decision));
      out += "\n";
    }
  }
  return out;
}

std::string RegisterHtml(const PolicySet& set) {
  using html::Esc;
  std::string body = fmt::format("<p>Policy set <code>{}</code>. For each fiche, its rules: the quoted text, the reading the "
                                 "engine applies, its phases, whether it is executable or manual (and why), and the decision "
                                 "taken where the text allows two readings.</p>",
                                 Esc(set.hash));
  for (const Policy* p : Sorted(set)) {
    body += fmt::format("<section class=\"fiche\"><h2>{}: {}</h2>", Esc(Name(*p)), Esc(p->title));
    if (!p->legal_basis.empty())
      body += fmt::format("<p class=\"basis\">Legal basis: {}</p>", Esc(fmt::format("{}", fmt::join(p->legal_basis, "; "))));
    body += "<table><thead><tr><th>Rule</th><th>Text of the register</th><th>Reading</th><th>Kind</th><th>Decision</th>"
            "</tr></thead><tbody>";
    for (const Rule& r : p->rules)
      body += fmt::format("<tr><td><code>{}</code></td><td><blockquote lang=\"fr\">{}</blockquote></td><td>{}{}</td>"
                          "<td>{}</td><td>{}</td></tr>",
                          Esc(r.id), Esc(r.source), Esc(r.manual ? "" : r.summary),
                          r.manual ? "" : fmt::format("<br><small>facts: {}; phases: {}</small>",
                                                      Esc(fmt::format("{}", fmt::join(r.facts, ", "))), Esc(Phases(r))),
                          Esc(Kind(r)), Esc(r.decision));
    body += "</tbody></table></section>\n";
  }
  return html::Page("The register as encoded", body);
}

}  // namespace retention
