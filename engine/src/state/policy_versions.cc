// Policy versions (the texts of each set a plan or run used, under its meaning's id)
// and rule locks (entries of the keyed chain), in the state database.
#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "retention/policy_change.h"
#include "state/state_db.h"
#include "yaml/utf8.h"

namespace retention {
namespace {

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string FilesJson(const PolicySet& set) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : set.texts) files.push_back({{"name", f.name}, {"text", f.text}});
  return Dump(files);
}

std::string VersionMacText(const std::string& id, const std::string& vocabulary, const std::string& files) {
  return fmt::format("policy_version\n{}\n{}\n{}", id, vocabulary, files);
}

std::string SetMacText(const std::string& policy_hash, const std::string& version) {
  return fmt::format("policy_set\n{}\n{}", policy_hash, version);
}

nlohmann::json Detail(const AuditEntry& e) {
  auto d = nlohmann::json::parse(e.detail, nullptr, false);
  return d.is_object() ? d : nlohmann::json::object();
}

}  // namespace

// Inside the caller's transaction.
Status StateDb::Impl::SaveVersion(const PolicySet& set, const std::string& id) const {
  std::string files = FilesJson(set), now = NowUtc();
  Status s = Exec("INSERT INTO policy_versions (id, first_used, vocabulary, files, mac) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT DO NOTHING",
                  {id, now, set.vocabulary_text, files, Mac(VersionMacText(id, set.vocabulary_text, files))});
  if (!s.ok()) return s;
  return Exec("INSERT INTO policy_sets (policy_hash, version, first_used, mac) VALUES (?, ?, ?, ?) "
              "ON CONFLICT DO NOTHING",
              {set.hash, id, now, Mac(SetMacText(set.hash, id))});
}

Status StateDb::RecordPolicyVersion(const PolicySet& set, bool plan) {
  std::string id = PolicyVersionId(set);
  return impl_->Transaction([&]() -> Status {
    if (Status s = impl_->SaveVersion(set, id); !s.ok()) return s;
    if (!plan) return Status::Ok();
    return impl_->Exec("UPDATE policy_sets SET plans = plans + 1, last_planned = ? WHERE policy_hash = ?",
                       {NowUtc(), set.hash});
  });
}

Result<std::vector<PolicyVersionRecord>> StateDb::PolicyVersions() const {
  std::vector<PolicyVersionRecord> out;
  Status s = impl_->Query("SELECT id, first_used FROM policy_versions ORDER BY rowid", {},
                          [&](const StateRow& r) { out.push_back({r[0].value_or(""), r[1].value_or(""), {}, 0, "", {}}); });
  if (!s.ok()) return s;
  auto runs = Runs();
  if (!runs.ok()) return runs.status();
  for (auto& v : out) {
    s = impl_->Query("SELECT policy_hash, plans, last_planned FROM policy_sets WHERE version = ? ORDER BY rowid",
                     {v.id}, [&](const StateRow& r) {
                       v.policy_hashes.push_back(r[0].value_or(""));
                       v.plans += ParseInt(r[1]).value_or(0);
                       v.last_planned = std::max(v.last_planned, r[2].value_or(""));
                     });
    if (!s.ok()) return s;
    for (const auto& run : *runs)
      if (std::find(v.policy_hashes.begin(), v.policy_hashes.end(), run.policy_hash) != v.policy_hashes.end())
        v.runs.push_back(run);
  }
  return out;
}

Result<std::string> StateDb::FindPolicyVersion(const std::string& prefix) const {
  if (prefix.size() < 8 || prefix.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Status::InvalidArgument(fmt::format("'{}' is not a policy version (8 or more hex digits, from `retention "
                                               "policies history`)", prefix));
  std::vector<std::string> found;
  Status s = impl_->Query("SELECT id FROM policy_versions WHERE substr(id, 1, ?) = ?",
                          {std::to_string(prefix.size()), prefix}, [&](const StateRow& r) { found.push_back(r[0].value_or("")); });
  if (!s.ok()) return s;
  if (found.size() != 1)
    return Status::NotFound(fmt::format("{} recorded policy version(s) start with '{}'", found.size(), prefix));
  return found.front();
}

Result<PolicySet> StateDb::LoadPolicyVersion(const std::string& id) const {
  std::optional<std::pair<std::string, std::string>> texts;
  std::string mac;
  Status s = impl_->Query("SELECT vocabulary, files, mac FROM policy_versions WHERE id = ?", {id}, [&](const StateRow& r) {
    texts.emplace(r[0].value_or(""), r[1].value_or(""));
    mac = r[2].value_or("");
  });
  if (!s.ok()) return s;
  if (!texts) return Status::NotFound(fmt::format("policy version {} is not recorded in the state database", id));
  if (impl_->Mac(VersionMacText(id, texts->first, texts->second)) != mac)
    return Status::FailedPrecondition(fmt::format("policy version {} was edited in the state database", id.substr(0, 12)));
  auto files = nlohmann::json::parse(texts->second, nullptr, false);
  std::vector<PolicyText> list;
  if (files.is_array())
    for (const auto& f : files)
      if (f.is_object() && f.contains("name") && f["name"].is_string() && f.contains("text") && f["text"].is_string())
        list.push_back({f["name"].get<std::string>(), f["text"].get<std::string>()});
  if (list.empty()) return Status::NotFound(fmt::format("policy version {} was recorded without its texts", id.substr(0, 12)));
  LoadResult loaded = LoadPolicyTexts(texts->first, list, fmt::format("version {}", id.substr(0, 12)));
  if (HasErrors(loaded.diagnostics))
    return Status::FailedPrecondition(fmt::format("policy version {} no longer loads: {}", id.substr(0, 12),
                                                  loaded.diagnostics.front().ToString()));
  if (PolicyVersionId(loaded.policies) != id)
    return Status::FailedPrecondition(fmt::format("policy version {} loads with another meaning", id.substr(0, 12)));
  return std::move(loaded.policies);
}

Status StateDb::LockRules(const PolicySet& set, const std::vector<std::string>& rule_ids, const std::string& reason,
                          const std::string& author) {
  if (reason.empty() || author.empty()) return Status::InvalidArgument("a lock needs a reason and an author");
  if (internal::FirstInvalidUtf8(reason) != std::string::npos || internal::FirstInvalidUtf8(author) != std::string::npos)
    return Status::InvalidArgument("a lock's reason and author are UTF-8 text");
  if (set.texts.empty()) return Status::InvalidArgument("the policy set's texts are needed to lock it (LoadPolicies)");
  std::string version = PolicyVersionId(set);
  Status s = impl_->Transaction([&]() -> Status {
    if (Status v = impl_->SaveVersion(set, version); !v.ok()) return v;
    for (const auto& id : rule_ids) {
      const Rule* rule = set.FindRule(id);
      if (!rule) return Status::InvalidArgument(fmt::format("unknown rule '{}'", id));
      AuditEntry e;
      e.kind = audit_kind::kPolicyLock;
      e.rule_id = rule->id;
      e.policy_hash = set.hash;
      e.detail = Dump({{"version", version}, {"rule_hash", RuleMeaningHash(*rule, set.vocabulary)}, {"reason", reason},
                       {"author", author}});
      if (Status a = impl_->AppendEntry(e); !a.ok()) return a;
    }
    return Status::Ok();
  });
  return s.ok() ? impl_->WriteAnchor(0) : s;
}

Status StateDb::UnlockRules(const std::vector<std::string>& rule_ids, const std::string& reason,
                            const std::string& author) {
  if (reason.empty() || author.empty()) return Status::InvalidArgument("an override needs a reason and an author");
  if (internal::FirstInvalidUtf8(reason) != std::string::npos || internal::FirstInvalidUtf8(author) != std::string::npos)
    return Status::InvalidArgument("an override's reason and author are UTF-8 text");
  Status s = impl_->Transaction([&]() -> Status {
    auto locks = PolicyLocks();
    if (!locks.ok()) return locks.status();
    for (const auto& id : rule_ids) {
      auto it = std::find_if(locks->begin(), locks->end(),
                             [&](const PolicyLock& l) { return l.rule_id == id && l.override_entry == 0; });
      if (it == locks->end()) return Status::NotFound(fmt::format("rule '{}' is not locked", id));
      AuditEntry e;
      e.kind = audit_kind::kPolicyUnlock;
      e.rule_id = id;
      e.detail = Dump({{"lock", it->entry}, {"version", it->version}, {"reason", reason}, {"author", author}});
      if (Status a = impl_->AppendEntry(e); !a.ok()) return a;
    }
    return Status::Ok();
  });
  return s.ok() ? impl_->WriteAnchor(0) : s;
}

Result<std::vector<PolicyLock>> StateDb::PolicyLocks() const {
  auto entries = impl_->Entries("WHERE kind IN (?, ?) ORDER BY id", {audit_kind::kPolicyLock, audit_kind::kPolicyUnlock});
  if (!entries.ok()) return entries.status();
  std::map<std::string, PolicyLock> by_rule;
  for (const auto& e : *entries) {
    auto d = Detail(e);
    if (e.kind == audit_kind::kPolicyLock) {
      by_rule[e.rule_id] = PolicyLock{e.id, e.rule_id, d.value("version", ""), d.value("rule_hash", ""),
                                      d.value("reason", ""), d.value("author", ""), e.time, 0, "", "", ""};
      continue;
    }
    auto it = by_rule.find(e.rule_id);
    if (it == by_rule.end() || it->second.override_entry != 0) continue;
    it->second.override_entry = e.id;
    it->second.override_reason = d.value("reason", "");
    it->second.override_author = d.value("author", "");
    it->second.override_time = e.time;
  }
  std::vector<PolicyLock> out;
  for (auto& [rule, lock] : by_rule) out.push_back(std::move(lock));
  return out;
}

// Every recorded version and file hash still under its MAC, and every locked version present.
AuditVerification StateDb::Impl::VerifyVersions(AuditVerification v, const std::vector<AuditEntry>& entries) const {
  auto broken = [&](std::string problem) {
    v.ok = false;
    v.problem = std::move(problem);
    return v;
  };
  std::map<std::string, bool> versions;
  std::map<std::string, std::string> sets;  // policy (files) hash → version
  std::string problem;
  Status s = Query("SELECT id, vocabulary, files, mac FROM policy_versions", {}, [&](const StateRow& r) {
    std::string id = r[0].value_or("");
    versions[id] = true;
    if (problem.empty() && Mac(VersionMacText(id, r[1].value_or(""), r[2].value_or(""))) != r[3].value_or(""))
      problem = fmt::format("policy version {} was edited in the state database", id.substr(0, 12));
  });
  if (s.ok())
    s = Query("SELECT policy_hash, version, mac FROM policy_sets", {}, [&](const StateRow& r) {
      sets[r[0].value_or("")] = r[1].value_or("");
      if (problem.empty() && Mac(SetMacText(r[0].value_or(""), r[1].value_or(""))) != r[2].value_or(""))
        problem = fmt::format("the policy set {} was assigned another version in the state database", r[0].value_or(""));
    });
  if (!s.ok()) return broken(s.message());
  if (!problem.empty()) return broken(problem);
  for (const auto& e : entries) {
    // A run names the version it used (runs recorded before versions existed do not).
    std::string used = e.kind == audit_kind::kRunStart ? Detail(e).value("policy_version", "") : "";
    if (!used.empty() && (!versions.count(used) || sets[e.policy_hash] != used)) {
      v.first_bad_id = e.id;
      return broken(fmt::format("policy version {} used by run {} was deleted from the state database",
                                used.substr(0, 12), e.run_id));
    }
    if (e.kind != audit_kind::kPolicyLock) continue;
    std::string version = Detail(e).value("version", "");
    if (!versions.count(version)) {
      v.first_bad_id = e.id;
      return broken(fmt::format("policy version {} locked by entry {} was deleted from the state database",
                                version.substr(0, 12), e.id));
    }
  }
  return v;
}

}  // namespace retention
