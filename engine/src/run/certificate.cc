#include "retention/certificate.h"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/signature.h"
#include "retention/secrets.h"
#include "run/certificate_writer.h"
#include "yaml/yaml_reader.h"

namespace retention {
namespace {

using nlohmann::ordered_json;

ordered_json DetailOrNull(const std::string& detail) {
  if (detail.empty()) return nullptr;
  auto j = ordered_json::parse(detail, nullptr, false);
  return j.is_discarded() ? ordered_json(nullptr) : j;
}

std::string ActionsText(const Plan& plan, ordered_json* actions) {
  std::string text = fmt::format("{:<34} {:<30} {:<13} {:>8}\n", "binding", "rule", "action", "records");
  for (const auto& b : plan.bindings)
    for (const auto& [p, n] : b.applied) {
      actions->push_back({{"binding", b.binding}, {"store", b.store}, {"table", b.table}, {"rule", b.rule_id},
                          {"action", PhaseName(p)}, {"records", n}});
      text += fmt::format("{:<34} {:<30} {:<13} {:>8}\n", b.binding, b.rule_id, PhaseName(p), n);
    }
  for (const auto& b : plan.bindings) {
    if (b.parts_dropped) text += fmt::format("\nPARTITIONS DROPPED WHOLE {}: {} (audited in batches naming each)\n", b.binding, b.parts_dropped);
    if (!b.guard.empty()) text += fmt::format("\nNOT APPLIED {}: {}\n", b.binding, b.guard);
    if (b.not_approved) text += fmt::format("\nNOT IN THE APPROVED PLAN {}: {} records left as they are\n", b.binding, b.not_approved);
  }
  return text;
}

std::string ProofText(const ordered_json& j) {
  std::string text;
  if (!j["approval"].is_null())
    text += fmt::format("\nApproved plan {} approved by {} (digest {}).\n", j["approval"].value("plan_id", ""),
                        j["approval"].value("approved_by", ""), j["approval"].value("digest", ""));
  if (!j["allow_mass"].is_null()) {
    text += "\n--allow-mass was used. Guards it overrode:\n";
    ordered_json overridden = j["allow_mass"].value("overridden", ordered_json::object());
    for (const auto& [binding, why] : overridden.items())
      text += fmt::format("  {}: {}\n", binding, why.is_string() ? why.get<std::string>() : why.dump());
  }
  if (!j["lock_overrides"].is_null()) {
    text += "\nRetention locks overridden, relied on by this run:\n";
    for (const auto& o : j["lock_overrides"].value("overrides", ordered_json::array()))
      text += fmt::format("  {}: locked by entry {}, overridden by entry {} ({}, by {}: {}); {} record(s) acted on earlier "
                          "than the locked version allows\n", o.value("rule", ""), o.value("lock_entry", 0),
                          o.value("override_entry", 0), o.value("override_time", ""), o.value("override_author", ""),
                          o.value("override_reason", ""), o.value("records_earlier", 0));
  }
  if (!j["assumptions"].is_null()) {
    text += "\nAssumptions in force (assume: in the configuration):\n";
    ordered_json bindings = j["assumptions"].value("bindings", ordered_json::object());
    for (const auto& [binding, facts] : bindings.items())
      text += fmt::format("  {}: {}\n", binding, facts.dump());
  }
  return text;
}

}  // namespace

namespace internal {

Status WriteCertificate(const CertificateInput& in, const std::string& json_path, const std::string& text_path) {
  const RunOutcome& out = *in.outcome;
  // From the head this run verified when it started (the whole chain when that is
  // kFullVerifyDays old): the certificate says which.
  auto verification = in.state->VerifyAudit(ChainScope::kSinceVerified);
  if (!verification.ok()) return verification.status();
  auto entries = in.state->Audit(out.run_id);
  if (!entries.ok()) return entries.status();
  ordered_json j;
  j["certificate"] = "retention deletion certificate";
  j["run_id"] = out.run_id;
  j["status"] = in.status;
  j["as_of"] = out.plan.as_of.ToString();
  j["policy_set"] = out.plan.policy_hash;
  j["configuration"] = out.plan.config_hash;
  j["configuration_file"] = in.deployment->path;
  ordered_json actions = ordered_json::array();
  std::string text = fmt::format(
      "Deletion certificate\n====================\nRun {} ({}), as of {}\nPolicy set    {}\nConfiguration {}\n\n",
      out.run_id, in.status, out.plan.as_of.ToString(), out.plan.policy_hash, out.plan.config_hash);
  text += ActionsText(out.plan, &actions);
  j["actions"] = actions;
  j["approval"] = DetailOrNull(in.approval);
  j["allow_mass"] = DetailOrNull(in.allow_mass);
  j["assumptions"] = DetailOrNull(in.assumptions);
  j["lock_overrides"] = DetailOrNull(in.lock_overrides);
  text += ProofText(j);
  j["run_audit_entries"] = entries->size();
  j["audit_entries"] = verification->entries;
  j["audit_head"] = verification->head;
  j["audit_chain_verified"] = verification->ok;
  j["audit_macs_from"] = verification->macs_from;
  j["audit_full_verification_at"] = verification->full_at;
  text += fmt::format("\nAudit: {} entries for this run; chain of {} entries {} (head {}).\n"
                      "Batch entries' MACs recomputed from entry {} (every other entry's always); the whole chain last on {}.\n"
                      "Keys appear in the audit only as HMAC-SHA-256 digests under the deployment's audit key.\n",
                      entries->size(), verification->entries, verification->ok ? "verified" : "BROKEN", verification->head,
                      verification->macs_from, verification->full_at);
  if (!in.deployment->certificate_key_file.empty()) {
    auto pem = LoadKey(in.deployment->certificate_key_file, "");
    if (!pem.ok()) return Status::InvalidArgument("certificate key: " + pem.status().message());
    auto fingerprint = KeyFingerprint(*pem, true);
    if (!fingerprint.ok()) return fingerprint.status();
    auto signature = SignEd25519(*pem, j.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
    if (!signature.ok()) return signature.status();
    j["signature"] = {{"algorithm", "Ed25519"}, {"key", *fingerprint}, {"value", *signature}};
    text += fmt::format("Signed with Ed25519 (key {}): see the signature in {}.\n", *fingerprint, json_path);
  } else {
    text += "Not signed: the configuration names no certificate_key.\n";
  }
  std::ofstream(json_path) << j.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  std::ofstream(text_path) << text;
  return Status::Ok();
}

}  // namespace internal

Status GenerateCertificateKeys(const std::string& private_key_path, const std::string& public_key_path) {
  return internal::GenerateEd25519(private_key_path, public_key_path);
}

Result<CertificateCheck> VerifyCertificate(const std::string& certificate_path, const std::string& public_key_path) {
  auto text = internal::ReadFileText(certificate_path);
  if (!text) return Status::NotFound(fmt::format("cannot read {}", certificate_path));
  auto pem = internal::ReadFileText(public_key_path);
  if (!pem) return Status::NotFound(fmt::format("cannot read the public key {}", public_key_path));
  auto fingerprint = internal::KeyFingerprint(*pem, false);
  if (!fingerprint.ok()) return Status::InvalidArgument(public_key_path + ": " + fingerprint.status().message());
  CertificateCheck c;
  c.key_fingerprint = *fingerprint;
  auto j = ordered_json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(certificate_path + " is not a JSON certificate");
  if (j.contains("run_id") && j["run_id"].is_number_integer()) c.run_id = j["run_id"].get<int64_t>();
  if (j.contains("status") && j["status"].is_string()) c.status = j["status"].get<std::string>();
  if (j.contains("audit_entries") && j["audit_entries"].is_number_integer()) c.audit_entries = j["audit_entries"].get<int64_t>();
  if (j.contains("audit_head") && j["audit_head"].is_string()) c.audit_head = j["audit_head"].get<std::string>();
  auto sig = j.find("signature");
  if (sig == j.end() || !sig->is_object() || !sig->contains("value") || !(*sig)["value"].is_string()) {
    c.problem = "the certificate is not signed";
    return c;
  }
  std::string value = (*sig)["value"].get<std::string>();
  if (sig->value("key", "") != *fingerprint) {
    c.problem = fmt::format("the certificate was signed with key {}, not {}", sig->value("key", "?"), *fingerprint);
    return c;
  }
  j.erase("signature");
  auto ok = internal::VerifyEd25519(*pem, j.dump(-1, ' ', false, ordered_json::error_handler_t::replace), value);
  if (!ok.ok()) return ok.status();
  c.ok = *ok;
  if (!c.ok) c.problem = "the signature does not match: the certificate was changed after it was signed";
  return c;
}

}  // namespace retention
