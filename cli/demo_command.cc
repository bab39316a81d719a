// retention demo init: a synthetic deployment to try everything on.
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "cpam/generator.h"
#include "retention/clock.h"

namespace retention::cli {
namespace {

struct DemoCliOptions {
  std::string dir = "demo";
  int rows = 20000;
  std::string today;
  std::string policies;
  bool force = false;
};

int RunDemoInit(const DemoCliOptions& o) {
  demo::DemoOptions d;
  d.dir = o.dir;
  d.rows = o.rows;
  d.today = ParseAsOf(o.today, "--today");
  d.policies_dir = ResolvePoliciesDir(o.policies);
  d.force = o.force;
  auto s = demo::GenerateDemo(d);
  if (!s.ok()) throw Exit{kExitBadInput, s.status().message()};
  std::cout << fmt::format("demo: {} records in {}/data/cpam.db, {} files; configuration {}\n", s->records, o.dir,
                           s->files, s->config);
  std::cout << fmt::format("next: retention plan --config {}\n", s->config);
  return kExitOk;
}

}  // namespace

void AddDemoCommand(CLI::App& app, SetAction set_action) {
  CLI::App* demo = app.add_subcommand("demo", "A synthetic CPAM deployment to try the engine on");
  demo->require_subcommand(1);
  auto o = std::make_shared<DemoCliOptions>();
  CLI::App* init = demo->add_subcommand("init", "Generate the demo database, files, keys and configuration");
  init->add_option("--dir", o->dir, "Where to create it (default: demo)");
  init->add_option("--rows", o->rows, "Database rows in all")->check(CLI::Range(10, 50000000));
  init->add_option("--today", o->today, "Draw dates around this day (default: today)");
  init->add_option("--policies", o->policies, "Policy folder written into the configuration");
  init->add_flag("--force", o->force, "Replace an existing demo in --dir");
  init->footer(R"(
Creates DIR/config.yaml, DIR/data/cpam.db (10 tables of synthetic insured persons with
valid-format NIRs, some litigation, some missing dates), DIR/data/recordings (call
recordings named by date), DIR/data/cctv (footage dated by mtime), DIR/keys (owner-only).

Example:
  retention demo init --rows 20000 --dir demo && retention plan --config demo/config.yaml)");
  init->callback([o, set_action] { set_action([o] { return RunDemoInit(*o); }); });
}

}  // namespace retention::cli
