// retention hold add|release|list and retention audit verify|show.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "deployment_loader.h"
#include "retention/certificate.h"
#include "journals.h"

namespace retention::cli {
namespace {

struct HoldOptions {
  std::string config, policies, subject, key, binding, rule, store, reason, author;
  int64_t id = 0;
  bool all = false;
};

// --author, else the operating system's name of the user running the command.
std::string Author(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* user = std::getenv("USER"); user && *user) return user;
  throw Exit{kExitBadInput, "cannot tell who you are: give --author"};
}

int RunHoldAdd(const HoldOptions& o) {
  int given = !o.subject.empty() + !o.key.empty() + !o.rule.empty() + !o.store.empty();
  if (given != 1) throw Exit{kExitBadInput, "give exactly one of --subject, --key (with --binding), --rule or --store"};
  if (!o.key.empty() && o.binding.empty()) throw Exit{kExitBadInput, "--key needs --binding"};
  if (o.key.empty() && !o.binding.empty()) throw Exit{kExitBadInput, "--binding goes with --key only"};
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
  OperatorHold::Kind kind = OperatorHold::Kind::kSubject;
  std::string value = o.subject;
  if (!o.key.empty()) {
    if (!loaded->deployment.FindBinding(o.binding)) throw Exit{kExitBadInput, fmt::format("unknown binding '{}'", o.binding)};
    kind = OperatorHold::Kind::kKey;
    value = o.key;
  } else if (!o.rule.empty()) {
    const Rule* r = loaded->policies.FindRule(o.rule);
    if (!r) throw Exit{kExitBadInput, fmt::format("unknown rule '{}'", o.rule)};
    kind = OperatorHold::Kind::kRule;
    value = r->id;
  } else if (!o.store.empty()) {
    if (!loaded->deployment.FindStore(o.store)) throw Exit{kExitBadInput, fmt::format("unknown store '{}'", o.store)};
    kind = OperatorHold::Kind::kStore;
    value = o.store;
  }
  auto id = loaded->state->AddHold(kind, value, o.binding, o.reason, Author(o.author));
  if (!id.ok()) throw Exit{kExitBadInput, id.status().message()};
  std::string on = kind == OperatorHold::Kind::kSubject ? "stored as a digest"
                   : kind == OperatorHold::Kind::kKey
                       ? fmt::format("stored as a digest; records of {}, in its table and its archive", BindingRecordsOf(o.binding))
                       : value;
  std::cout << fmt::format("hold {} placed on {} ({}): {}\n", *id, HoldKindName(kind), on, o.reason);
  return kExitOk;
}

int RunHoldRelease(const HoldOptions& o) {
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
  Status s = loaded->state->ReleaseHold(o.id, o.reason, Author(o.author));
  if (!s.ok()) throw Exit{kExitBadInput, s.message()};
  std::cout << fmt::format("hold {} released: {}\n", o.id, o.reason);
  return kExitOk;
}

int RunHoldList(const HoldOptions& o) {
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
  auto holds = loaded->state->Holds(o.all);
  if (!holds.ok()) throw Exit{kExitFailed, holds.status().message()};
  std::cout << fmt::format("{:>4}  {:<8} {:<24} {:<20} {:<21} {:<12} {}\n", "id", "kind", "on", "binding", "since", "by",
                           "reason");
  for (const auto& h : *holds) {
    bool digest = h.kind == OperatorHold::Kind::kSubject || h.kind == OperatorHold::Kind::kKey;
    std::cout << fmt::format("{:>4}  {:<8} {:<24} {:<20} {:<21} {:<12} {}{}\n", h.id, HoldKindName(h.kind),
                             digest ? "digest " + h.value.substr(0, 12) + "…" : h.value, h.binding, h.created_at, h.author,
                             h.reason,
                             h.released_at.empty() ? ""
                                                   : fmt::format(" (released {} by {}: {})", h.released_at,
                                                                 h.release_author, h.release_reason));
  }
  if (holds->empty()) std::cout << "no active holds\n";
  return kExitOk;
}

struct AuditOptions {
  std::string config, policies, format = "text";
  int64_t run = 0;
  std::string file, public_key, private_key;
};

int RunAuditVerify(const AuditOptions& o) {
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
  RecoverJournalsBeforeVerify(*loaded);
  auto v = loaded->state->VerifyAudit();
  if (!v.ok()) throw Exit{kExitFailed, v.status().message()};
  if (!v->ok) {
    std::cout << fmt::format("audit chain BROKEN at entry {}: {}\n", v->first_bad_id, v->problem);
    return kExitFailed;
  }
  std::cout << fmt::format("audit chain verified: {} entries, head {}\n", v->entries, v->head);
  if (v->anchor_note.empty())
    std::cout << fmt::format("anchors verified: {} in {}\n", v->anchors, loaded->deployment.anchor_file);
  else
    std::cout << "anchors: " << v->anchor_note << "\n";
  return kExitOk;
}

// Key pair for certificates: --private/--public, else the configuration's certificate_key.
int RunAuditKeygen(const AuditOptions& o) {
  std::string priv = o.private_key, pub = o.public_key;
  if (!o.config.empty() && (priv.empty() || pub.empty())) {
    auto loaded = LoadForCommand(o.config, o.policies, false, State::kNone);
    if (priv.empty()) priv = loaded->deployment.certificate_key_file;
    if (pub.empty()) pub = loaded->deployment.certificate_public_key_file;
  }
  if (priv.empty() || pub.empty())
    throw Exit{kExitBadInput, "give --private and --public, or a configuration whose certificate_key names both"};
  if (Status s = GenerateCertificateKeys(priv, pub); !s.ok()) throw Exit{kExitBadInput, s.message()};
  std::cout << fmt::format("Ed25519 key pair written: {} (private, 0600) and {} (public)\n", priv, pub);
  return kExitOk;
}

// A certificate's signature, and with --config its place in the audit chain.
int RunAuditVerifyCertificate(const AuditOptions& o) {
  std::unique_ptr<OpenedDeployment> loaded;
  std::string pub = o.public_key;
  if (!o.config.empty()) {
    loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
    if (pub.empty()) pub = loaded->deployment.certificate_public_key_file;
  }
  if (pub.empty()) throw Exit{kExitBadInput, "give --public-key, or a configuration whose certificate_key names 'public'"};
  auto c = VerifyCertificate(o.file, pub);
  if (!c.ok()) throw Exit{kExitBadInput, c.status().message()};
  if (!c->ok) {
    std::cout << fmt::format("certificate {} NOT VERIFIED: {}\n", o.file, c->problem);
    return kExitFailed;
  }
  std::cout << fmt::format("certificate {} verified: run {} ({}), signed with {}\n", o.file, c->run_id, c->status,
                           c->key_fingerprint);
  if (!loaded) return kExitOk;
  auto v = loaded->state->VerifyAudit();
  if (!v.ok()) throw Exit{kExitFailed, v.status().message()};
  auto entries = loaded->state->Audit(std::nullopt);
  if (!entries.ok()) throw Exit{kExitFailed, entries.status().message()};
  bool in_chain = c->audit_entries > 0 && c->audit_entries <= static_cast<int64_t>(entries->size()) &&
                  (*entries)[static_cast<size_t>(c->audit_entries - 1)].hash == c->audit_head;
  if (!v->ok || !in_chain) {
    std::cout << fmt::format("the audit chain does not hold the certificate's head (entry {}){}\n", c->audit_entries,
                             v->ok ? "" : ": chain BROKEN: " + v->problem);
    return kExitFailed;
  }
  std::cout << fmt::format("its head is entry {} of the verified audit chain\n", c->audit_entries);
  return kExitOk;
}

int RunAuditShow(const AuditOptions& o) {
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
  std::optional<int64_t> run;
  if (o.run > 0) run = o.run;
  auto entries = loaded->state->Audit(run);
  if (!entries.ok()) throw Exit{kExitFailed, entries.status().message()};
  if (o.format == "json") {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& e : *entries) {
      auto detail = nlohmann::ordered_json::parse(e.detail, nullptr, false);
      j.push_back({{"id", e.id}, {"run_id", e.run_id}, {"time", e.time}, {"kind", e.kind}, {"binding", e.binding},
                   {"rule_id", e.rule_id}, {"action", e.action}, {"count", e.count}, {"key_digests", e.key_digests},
                   {"policy_hash", e.policy_hash}, {"detail", detail.is_discarded() ? nullptr : detail},
                   {"prev_hash", e.prev_hash}, {"hash", e.hash}});
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{:>5} {:>4}  {:<20}  {:<20} {:<32} {:<26} {:<12} {:>6}  {}\n", "entry", "run", "time", "kind",
                           "binding", "rule", "action", "count", "hash");
  for (const auto& e : *entries)
    std::cout << fmt::format("{:>5} {:>4}  {:<20}  {:<20} {:<32} {:<26} {:<12} {:>6}  {}…\n", e.id, e.run_id, e.time, e.kind,
                             e.binding, e.rule_id, e.action, e.count, e.hash.substr(0, 16));
  return kExitOk;
}

}  // namespace

void AddHoldCommand(CLI::App& app, SetAction set_action) {
  CLI::App* hold = app.add_subcommand("hold", "Operator holds: suspend every action on a subject, record, rule or store");
  hold->require_subcommand(1);
  auto o = std::make_shared<HoldOptions>();
  CLI::App* add = hold->add_subcommand("add", "Place a hold (with a reason)");
  add->add_option("--config,-c", o->config, "The deployment configuration")->required();
  add->add_option("--subject", o->subject, "A person's identifier (e.g. a NIR); stored only as a digest");
  add->add_option("--key", o->key, "A record's key in --binding; stored only as a digest");
  add->add_option("--binding", o->binding,
                  "The binding of --key (its archive view, NAME@archive, names the same records)");
  add->add_option("--rule", o->rule, "A policy rule id or catalog id");
  add->add_option("--store", o->store, "A store name");
  add->add_option("--reason", o->reason, "Why (shown in plans, kept in the state database)")->required();
  add->add_option("--author", o->author, "Who places it (default: your user name); recorded in the audit chain");
  add->footer("Examples:\n  retention hold add -c deploy.yaml --subject 180017512345678 --reason \"demande CNIL n°42\"\n"
              "  retention hold add -c deploy.yaml --rule F05.prestations --reason \"contrôle URSSAF en cours\"");
  add->callback([o, set_action] { set_action([o] { return RunHoldAdd(*o); }); });

  auto r = std::make_shared<HoldOptions>();
  CLI::App* release = hold->add_subcommand("release", "Release a hold (with a reason)");
  release->add_option("ID", r->id, "The hold's id (see `hold list`)")->required();
  release->add_option("--config,-c", r->config, "The deployment configuration")->required();
  release->add_option("--reason", r->reason, "Why it is released")->required();
  release->add_option("--author", r->author, "Who releases it (default: your user name)");
  release->callback([r, set_action] { set_action([r] { return RunHoldRelease(*r); }); });

  auto l = std::make_shared<HoldOptions>();
  CLI::App* list = hold->add_subcommand("list", "List active holds");
  list->add_option("--config,-c", l->config, "The deployment configuration")->required();
  list->add_flag("--all", l->all, "Include released holds");
  list->callback([l, set_action] { set_action([l] { return RunHoldList(*l); }); });
}

void AddAuditCommand(CLI::App& app, SetAction set_action) {
  CLI::App* audit = app.add_subcommand("audit", "The tamper-evident audit trail of applied batches");
  audit->require_subcommand(1);
  auto v = std::make_shared<AuditOptions>();
  CLI::App* verify = audit->add_subcommand("verify", "Recompute the keyed chain, check holds, runs and anchors");
  verify->add_option("--config,-c", v->config, "The deployment configuration")->required();
  verify->footer("Exit codes: 0 verified, 1 broken (the first bad entry is named), 2 bad input.");
  verify->callback([v, set_action] { set_action([v] { return RunAuditVerify(*v); }); });
  auto s = std::make_shared<AuditOptions>();
  CLI::App* show = audit->add_subcommand("show", "List audit entries (keys appear only as digests)");
  show->add_option("--config,-c", s->config, "The deployment configuration")->required();
  show->add_option("--run", s->run, "Only the entries of this run");
  show->add_option("--format", s->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  show->callback([s, set_action] { set_action([s] { return RunAuditShow(*s); }); });
  auto k = std::make_shared<AuditOptions>();
  CLI::App* keygen = audit->add_subcommand("keygen", "Generate the Ed25519 key pair that signs certificates");
  keygen->add_option("--config,-c", k->config, "Write the files its certificate_key names");
  keygen->add_option("--private", k->private_key, "The private key file to create (0600)");
  keygen->add_option("--public", k->public_key, "The public key file to create");
  keygen->footer("Neither file may exist. Keep the private key owner-only; give the public key to auditors.");
  keygen->callback([k, set_action] { set_action([k] { return RunAuditKeygen(*k); }); });
  auto c = std::make_shared<AuditOptions>();
  CLI::App* vc = audit->add_subcommand("verify-certificate", "Check a run certificate's Ed25519 signature");
  vc->add_option("FILE", c->file, "The certificate (run-N.json)")->required();
  vc->add_option("--public-key", c->public_key, "The public key (PEM); default: the configuration's");
  vc->add_option("--config,-c", c->config, "Also check that the audit chain holds the certificate's head");
  vc->footer("Exit codes: 0 verified, 1 not verified (unsigned, changed, other key, not in the chain), 2 bad input.");
  vc->callback([c, set_action] { set_action([c] { return RunAuditVerifyCertificate(*c); }); });
}

}  // namespace retention::cli
