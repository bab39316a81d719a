#include "run/approval.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "crypto/signature.h"

namespace retention {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::optional<Phase> ActionFromName(const std::string& s) {
  for (Phase p : {Phase::kArchive, Phase::kPseudonymise, Phase::kDelete})
    if (s == PhaseName(p)) return p;
  return std::nullopt;
}

std::string SetDigest(const std::vector<std::string>& sorted_digests) {
  std::string text;
  for (const auto& d : sorted_digests) text += d + "\n";
  return internal::Sha256Hex(text);
}

// The plan's JSON for the reviewer, without the sample keys (raw identifiers).
ordered_json PlanWithoutKeys(const Plan& plan) {
  auto j = ordered_json::parse(PlanToJson(plan));
  for (auto& b : j["bindings"]) {
    if (b.contains("due"))
      for (auto& [action, summary] : b["due"].items()) summary.erase("sample_keys");
    for (const char* field : {"held", "operator_held"})
      if (b.contains(field) && b[field].is_object()) b[field].erase("sample_keys");  // null: not computed (--fast)
  }
  return j;
}

// Checked access to the saved JSON: every field present with its type.
struct Reader {
  std::string problem;
  const json* Field(const json& j, const char* name, json::value_t type) {
    if (!problem.empty()) return nullptr;
    auto it = j.find(name);
    bool number = type == json::value_t::number_integer;
    if (it == j.end() || !(it->type() == type || (number && it->is_number_unsigned())))
      problem = fmt::format("the approval has no valid '{}'", name);
    return problem.empty() ? &*it : nullptr;
  }
  std::string String(const json& j, const char* name) {
    auto* f = Field(j, name, json::value_t::string);
    return f ? f->get<std::string>() : "";
  }
  Date DateOf(const json& j, const char* name) {
    auto d = Date::Parse(String(j, name));
    if (!d && problem.empty()) problem = fmt::format("the approval's '{}' is not a date", name);
    return d.value_or(Date());
  }
};

Status ReadSets(Reader& r, const json& sets, ApprovedPlan* p) {
  for (const auto& s : sets) {
    if (!s.is_object()) return Status::InvalidArgument("an approval set is not an object");
    std::string binding = r.String(s, "binding");
    auto action = ActionFromName(r.String(s, "action"));
    const json* count = r.Field(s, "count", json::value_t::number_integer);
    const json* keys = r.Field(s, "keys", json::value_t::array);
    std::string digest = r.String(s, "digest");
    if (!r.problem.empty()) return Status::InvalidArgument(r.problem);
    if (!action) return Status::InvalidArgument("an approval set names no action");
    ApprovedSet& set = p->sets[binding][*action];
    set.count = count->get<int64_t>();
    set.digest = digest;
    for (const auto& k : *keys) {
      if (!k.is_string()) return Status::InvalidArgument("an approval key digest is not a string");
      set.key_digests.insert(k.get<std::string>());
    }
  }
  return Status::Ok();
}

}  // namespace

std::string ApprovalCanonical(const ApprovedPlan& p) {
  ordered_json j;
  j["plan_id"] = p.plan_id;
  j["created"] = p.created.ToString();
  j["expires"] = p.expires.ToString();
  j["as_of"] = p.as_of.ToString();
  j["policy_set"] = p.policy_hash;
  j["configuration"] = p.config_hash;
  ordered_json sets = ordered_json::array();
  for (const auto& [binding, actions] : p.sets)
    for (const auto& [action, set] : actions)
      sets.push_back({{"binding", binding}, {"action", PhaseName(action)}, {"count", set.count}, {"digest", set.digest},
                      {"keys", std::vector<std::string>(set.key_digests.begin(), set.key_digests.end())}});
  j["sets"] = sets;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<ApprovedPlan> ParseApprovedPlan(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("approval") || !j["approval"].is_object())
    return Status::InvalidArgument("not a plan saved by `retention plan --save`");
  const json& a = j["approval"];
  Reader r;
  ApprovedPlan p;
  p.plan_id = r.String(a, "plan_id");
  p.created = r.DateOf(a, "created");
  p.expires = r.DateOf(a, "expires");
  p.as_of = r.DateOf(a, "as_of");
  p.policy_hash = r.String(a, "policy_set");
  p.config_hash = r.String(a, "configuration");
  p.mac = r.String(a, "mac");
  const json* sets = r.Field(a, "sets", json::value_t::array);
  if (!r.problem.empty()) return Status::InvalidArgument(r.problem);
  if (Status s = ReadSets(r, *sets, &p); !s.ok()) return s;
  return p;
}

namespace internal {

std::string ApprovalJson(const Plan& plan, const DueDigests& due, const std::string& key, Date created, int days) {
  ApprovedPlan p;
  p.plan_id = RandomHex(16);
  p.created = created;
  p.expires = created.AddDays(days);
  p.as_of = plan.as_of;
  p.policy_hash = plan.policy_hash;
  p.config_hash = plan.config_hash;
  for (const auto& [binding, actions] : due)
    for (auto [action, digests] : actions) {
      std::sort(digests.begin(), digests.end());
      ApprovedSet& set = p.sets[binding][action];
      set.count = static_cast<int64_t>(digests.size());
      set.digest = SetDigest(digests);
      set.key_digests.insert(digests.begin(), digests.end());
    }
  ordered_json approval = ordered_json::parse(ApprovalCanonical(p));
  approval["mac"] = HmacSha256Hex(key, ApprovalCanonical(p));
  ordered_json out = PlanWithoutKeys(plan);
  out["approval"] = approval;
  return out.dump(2);
}

Status CheckApproval(const ApprovedPlan& p, const StateDb& state, const std::string& policy_hash,
                     const std::string& config_hash, Date today, Date as_of) {
  auto refuse = [](std::string why) { return Status::FailedPrecondition("approved plan refused: " + why); };
  if (p.approved_by.empty()) return Status::InvalidArgument("an approved plan needs who approved it (--approved-by)");
  if (state.Digest(ApprovalCanonical(p)) != p.mac)
    return refuse("it was edited after it was saved, or saved under another audit key (its MAC does not verify)");
  for (const auto& [binding, actions] : p.sets)
    for (const auto& [action, set] : actions)
      if (set.count != static_cast<int64_t>(set.key_digests.size()) ||
          set.digest != SetDigest({set.key_digests.begin(), set.key_digests.end()}))
        return refuse(fmt::format("its {} set of {} does not match its count or digest", PhaseName(action), binding));
  if (p.policy_hash != policy_hash || p.config_hash != config_hash)
    return refuse("it was made with other policies or another configuration: make and approve a new plan");
  if (p.created > today) return refuse(fmt::format("it is dated {}, after today ({})", p.created.ToString(), today.ToString()));
  if (p.as_of > as_of)
    return refuse(fmt::format("it is as of {}, after the run's date ({})", p.as_of.ToString(), as_of.ToString()));
  if (today > p.expires) return refuse(fmt::format("it expired on {}: make and approve a new plan", p.expires.ToString()));
  auto used = state.ApprovalUsedBy(p.plan_id);
  if (!used.ok()) return used.status();
  if (*used) return refuse(fmt::format("plan {} was already used by run {}: a plan is used once", p.plan_id, **used));
  return Status::Ok();
}

std::string ApprovalDetail(const ApprovedPlan& p) {
  ordered_json sets = ordered_json::array();
  for (const auto& [binding, actions] : p.sets)
    for (const auto& [action, set] : actions)
      sets.push_back({{"binding", binding}, {"action", PhaseName(action)}, {"count", set.count}, {"digest", set.digest}});
  return ordered_json{{"plan_id", p.plan_id}, {"approved_by", p.approved_by}, {"digest", p.mac},
                      {"created", p.created.ToString()}, {"expires", p.expires.ToString()}, {"as_of", p.as_of.ToString()},
                      {"sets", sets}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace internal
}  // namespace retention
