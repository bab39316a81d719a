// The canonical form of a rule (what it means, not how it is written), the version of
// a policy set, and the per-rule diff of two sets in meaning.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "policy/compiled_rule.h"
#include "retention/policy_change.h"

namespace retention {
namespace {

using nlohmann::ordered_json;
using internal::CondExpr;
using internal::DateExpr;

// One text per length: counted in months or days (a year is 12 months, article 641 CPC;
// a week 7 days), then written in the largest unit that divides it: 12m is 1y, 14d is 2w.
std::string DurationCanon(Duration d) {
  bool months = d.unit == DurationUnit::kYears || d.unit == DurationUnit::kMonths;
  int64_t n = int64_t{d.count} * (d.unit == DurationUnit::kYears ? 12 : d.unit == DurationUnit::kWeeks ? 7 : 1);
  int64_t big = months ? 12 : 7;
  if (n % big == 0) return fmt::format("{}{}", n / big, months ? "y" : "w");
  return fmt::format("{}{}", n, months ? "m" : "d");
}

std::string Canon(const DateExpr& e) {
  switch (e.kind) {
    case DateExpr::Kind::kFact: return e.fact;
    case DateExpr::Kind::kLiteral: return e.literal.ToString();
    case DateExpr::Kind::kOffset: return fmt::format("{} + {}", Canon(e.args[0]), DurationCanon(e.offset));
    case DateExpr::Kind::kMax:
    case DateExpr::Kind::kMin: {
      std::vector<std::string> parts;
      for (const auto& a : e.args) parts.push_back(Canon(a));
      std::sort(parts.begin(), parts.end());  // max and min do not depend on the order
      return fmt::format("{}({})", e.kind == DateExpr::Kind::kMax ? "max" : "min", fmt::join(parts, ", "));
    }
    case DateExpr::Kind::kEndOfMonth: return "end_of_month(" + Canon(e.args[0]) + ")";
    case DateExpr::Kind::kEndOfYear: return "end_of_year(" + Canon(e.args[0]) + ")";
  }
  return {};
}

std::string Canon(const CondExpr& c) {
  static const char* kCmp[] = {"<", "<=", ">", ">=", "==", "!="};
  switch (c.kind) {
    case CondExpr::Kind::kFlag:
    case CondExpr::Kind::kKnown: return c.fact;
    case CondExpr::Kind::kEnumEq: return fmt::format("{} {} {}", c.fact, c.negate ? "!=" : "==", c.word);
    case CondExpr::Kind::kCompare:
      return fmt::format("{} {} {}", Canon(c.dates[0]), kCmp[static_cast<int>(c.cmp)], Canon(c.dates[1]));
    case CondExpr::Kind::kNot: return "not (" + Canon(c.args[0]) + ")";
    case CondExpr::Kind::kAnd:
    case CondExpr::Kind::kOr: {
      std::vector<std::string> parts;
      for (const auto& a : c.args) parts.push_back("(" + Canon(a) + ")");
      std::sort(parts.begin(), parts.end());
      return fmt::format("{}", fmt::join(parts, c.kind == CondExpr::Kind::kAnd ? " and " : " or "));
    }
  }
  return {};
}

ordered_json EndCanon(const internal::EndSpec& end) {
  if (end.cases.empty() && end.otherwise) return Canon(*end.otherwise);
  std::vector<std::string> cases;
  for (const auto& c : end.cases) cases.push_back("when " + Canon(c.when) + ": " + Canon(c.date));
  std::sort(cases.begin(), cases.end());  // the longest applicable case wins, whatever the order
  ordered_json j{{"cases", cases}};
  j["otherwise"] = end.otherwise ? ordered_json(Canon(*end.otherwise)) : ordered_json(nullptr);
  return j;
}

ordered_json PhaseCanon(const internal::PhaseSpec& p) {
  ordered_json j;
  j["phase"] = PhaseName(p.kind);
  if (p.from) j["from"] = Canon(*p.from);
  if (p.when) j["when"] = Canon(*p.when);
  if (p.until) j["until"] = EndCanon(*p.until);
  if (p.length) j["for"] = DurationCanon(*p.length);
  return j;
}

std::string HoldCanon(const internal::HoldSpec& h) {
  std::string s = fmt::format("when {} until {}", Canon(h.when), h.until);
  if (h.then) s += ", then through " + Canon(*h.then);
  return s;
}

std::string FactCanon(const FactDefinition& d) {
  std::string s = FactTypeName(d.type);
  if (d.scope == FactScope::kDeployment) s += ", deployment";
  if (!d.values.empty()) s += fmt::format(" [{}]", fmt::join(d.values, ", "));
  return s;
}

ordered_json RuleJson(const Rule& rule, const Vocabulary& vocabulary) {
  ordered_json j;
  j["id"] = rule.id;
  std::vector<std::string> implements = rule.implements;
  std::sort(implements.begin(), implements.end());
  j["implements"] = implements;
  j["manual"] = rule.manual;
  ordered_json phases = ordered_json::array();
  std::vector<std::string> holds;
  if (rule.compiled) {
    for (const auto& p : rule.compiled->phases) phases.push_back(PhaseCanon(p));
    for (const auto& h : rule.compiled->holds) holds.push_back(HoldCanon(h));
  }
  std::sort(holds.begin(), holds.end());
  j["phases"] = phases;
  j["holds"] = holds;
  std::vector<std::string> names = rule.facts;
  std::sort(names.begin(), names.end());
  ordered_json facts = ordered_json::object();
  for (const auto& f : names)
    if (const FactDefinition* d = vocabulary.Find(f)) facts[f] = FactCanon(*d);
  j["facts"] = facts;
  return j;
}

std::string Dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

std::string Text(const ordered_json& j) { return j.is_string() ? j.get<std::string>() : j.is_null() ? "-" : Dump(j); }

// Whitespace collapsed: a reflowed quotation is the same quotation.
std::string Collapse(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Added and removed items of two sorted lists of strings, as lines.
void ListChanges(const char* what, const ordered_json& before, const ordered_json& after, std::vector<std::string>* out) {
  std::set<std::string> a, b;
  for (const auto& x : before) a.insert(Text(x));
  for (const auto& x : after) b.insert(Text(x));
  for (const auto& x : a)
    if (!b.count(x)) out->push_back(fmt::format("{} removed: {}", what, x));
  for (const auto& x : b)
    if (!a.count(x)) out->push_back(fmt::format("{} added: {}", what, x));
}

void PhaseChanges(const ordered_json& before, const ordered_json& after, std::vector<std::string>* out) {
  std::map<std::string, ordered_json> a, b;
  for (const auto& p : before) a[p["phase"].get<std::string>()] = p;
  for (const auto& p : after) b[p["phase"].get<std::string>()] = p;
  std::vector<std::string> order_a, order_b;
  for (const auto& p : before) order_a.push_back(p["phase"].get<std::string>());
  for (const auto& p : after) order_b.push_back(p["phase"].get<std::string>());
  for (const auto& [name, p] : a)
    if (!b.count(name)) out->push_back(fmt::format("phase {} removed", name));
  for (const auto& [name, p] : b)
    if (!a.count(name)) out->push_back(fmt::format("phase {} added: {}", name, Dump(p)));
  for (const auto& [name, p] : b) {
    auto it = a.find(name);
    if (it == a.end()) continue;
    for (const char* key : {"from", "when", "until", "for"}) {
      ordered_json x = it->second.contains(key) ? it->second[key] : ordered_json(nullptr);
      ordered_json y = p.contains(key) ? p[key] : ordered_json(nullptr);
      if (x == y) continue;
      if (x.is_object() && y.is_object() && std::string(key) == "until") {
        ListChanges(fmt::format("phase {}: case", name).c_str(), x["cases"], y["cases"], out);
        if (x["otherwise"] != y["otherwise"])
          out->push_back(fmt::format("phase {}: otherwise {} -> {}", name, Text(x["otherwise"]), Text(y["otherwise"])));
        continue;
      }
      out->push_back(fmt::format("phase {}: {} {} -> {}", name, key, Text(x), Text(y)));
    }
  }
}

std::vector<std::string> RuleChanges(const ordered_json& a, const ordered_json& b) {
  std::vector<std::string> out;
  if (a["manual"] != b["manual"])
    out.push_back(a["manual"].get<bool>() ? "manual -> executable" : "executable -> manual");
  PhaseChanges(a["phases"], b["phases"], &out);
  ListChanges("hold", a["holds"], b["holds"], &out);
  ListChanges("implements", a["implements"], b["implements"], &out);
  for (const auto& [name, def] : b["facts"].items())
    if (a["facts"].contains(name) && a["facts"][name] != def)
      out.push_back(fmt::format("fact {}: {} -> {}", name, Text(a["facts"][name]), Text(def)));
  return out;
}

}  // namespace

std::string RuleCanonical(const Rule& rule, const Vocabulary& vocabulary) { return Dump(RuleJson(rule, vocabulary)); }

std::string RuleMeaningHash(const Rule& rule, const Vocabulary& vocabulary) {
  return "sha256:" + internal::Sha256Hex(RuleCanonical(rule, vocabulary));
}

std::string PolicyVersionId(const PolicySet& set) {
  std::map<std::string, std::string> rules;
  for (const Rule* r : set.AllRules()) rules[r->id] = RuleCanonical(*r, set.vocabulary);
  std::string all;
  for (const auto& [id, canonical] : rules) all += id + "\n" + canonical + "\n";
  return internal::Sha256Hex(all);
}

const char* RuleChangeKindName(RuleChange::Kind kind) {
  switch (kind) {
    case RuleChange::Kind::kAdded: return "added";
    case RuleChange::Kind::kRemoved: return "removed";
    case RuleChange::Kind::kChanged: return "changed";
    case RuleChange::Kind::kTextOnly: return "text only";
  }
  return "?";
}

std::vector<std::string> PolicyDiff::RulesToRecompute() const {
  std::vector<std::string> out;
  for (const auto& r : rules)
    if (r.kind != RuleChange::Kind::kTextOnly) out.push_back(r.rule_id);
  return out;
}

PolicyDiff DiffPolicies(const PolicySet& old_set, const PolicySet& new_set) {
  PolicyDiff diff;
  diff.old_version = PolicyVersionId(old_set);
  diff.new_version = PolicyVersionId(new_set);
  std::map<std::string, std::pair<const Rule*, const Rule*>> rules;
  for (const Rule* r : old_set.AllRules()) rules[r->id].first = r;
  for (const Rule* r : new_set.AllRules()) rules[r->id].second = r;
  for (const auto& [id, pair] : rules) {
    auto [a, b] = pair;
    RuleChange change;
    change.rule_id = id;
    if (!a || !b) {
      change.kind = a ? RuleChange::Kind::kRemoved : RuleChange::Kind::kAdded;
      change.changes.push_back(a ? "rule removed (its records are no longer governed by it)"
                                 : fmt::format("rule added: {}", b->summary));
      diff.rules.push_back(std::move(change));
      continue;
    }
    ordered_json x = RuleJson(*a, old_set.vocabulary), y = RuleJson(*b, new_set.vocabulary);
    if (x != y) {
      change.changes = RuleChanges(x, y);
      if (change.changes.empty()) change.changes.push_back("canonical form changed");
    } else if (Collapse(a->source) != Collapse(b->source)) {
      change.kind = RuleChange::Kind::kTextOnly;
      change.changes.push_back("quoted text changed (meaning unchanged)");
    } else {
      continue;
    }
    diff.rules.push_back(std::move(change));
  }
  return diff;
}

}  // namespace retention
