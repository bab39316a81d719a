// The files store against real directories, real symbolic links and real permissions:
// nothing outside the store is touched, nothing archived is overwritten, and every file
// a batch deletes is either recorded or found again in the store's trash.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <catch2/catch.hpp>

#include "retention/connectors.h"
#include "retention/plan.h"
#include "support/shipped.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;
namespace fs = std::filesystem;

namespace {

void Write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string Content(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every regular file under `dir`, relative, sorted (links listed, never followed).
std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file() || it->is_symlink()) out.push_back(fs::relative(it->path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// One files store opened through the registry, as a run opens it, with one binding.
struct Store {
  StoreConfig config;
  Binding binding;
  std::unique_ptr<Connector> connector;

  Store(const fs::path& dir, const std::string& name, const std::string& glob = "*") {
    config.name = name;
    config.type = "files";
    config.directory = dir.string();
    binding.name = name + ".binding";
    binding.store = name;
    binding.glob = glob;
    Reopen();
  }
  // A new connector on the same directory, as the next run opens it.
  void Reopen() {
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto c = registry.Open(config);
    REQUIRE(c.ok());
    connector = std::move(*c);
  }
  Result<std::vector<std::string>> Scan() {
    ScanRequest scan;
    scan.binding = &binding;
    std::vector<std::string> keys;
    Status s = connector->Scan(scan, [&](std::vector<RawRecord>& batch) {
      for (const auto& r : batch) keys.push_back(r.key);
      return true;
    });
    if (!s.ok()) return s;
    return keys;
  }
  Result<ApplyResult> Apply(Phase action, const std::vector<std::string>& keys, Connector* archive = nullptr) {
    ApplyRequest req;
    req.binding = &binding;
    req.action = action;
    req.keys = keys;
    req.run_id = "run-7";
    req.archive_target = archive;
    return connector->Apply(req);
  }
};

// Runs `body` without root's power to bypass permissions (in a child as "nobody" when
// the tests run as root) and returns what it reported.
std::string WithoutRootPowers(const std::function<std::string()>& body) {
  if (geteuid() != 0) return body();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    std::string out = "cannot drop root privileges";
    if (setgroups(0, nullptr) == 0 && setgid(65534) == 0 && setuid(65534) == 0) out = body();
    [[maybe_unused]] auto n = write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  return out;
}

}  // namespace

TEST_CASE("files: a directory swapped for a symbolic link between scan and apply deletes nothing outside the store",
          "[files][safety]") {
  TempDir dir;
  Write(dir.path() / "store/cam1/a.mp4", "a");
  Write(dir.path() / "store/cam1/b.mp4", "b");
  Write(dir.path() / "outside/a.mp4", "precious a");
  Write(dir.path() / "outside/b.mp4", "precious b");
  Store store(dir.path() / "store", "cameras");
  auto keys = store.Scan();
  REQUIRE(keys.ok());
  REQUIRE(*keys == std::vector<std::string>{"cam1/a.mp4", "cam1/b.mp4"});
  fs::rename(dir.path() / "store/cam1", dir.path() / "moved");
  fs::create_directory_symlink(dir.path() / "outside", dir.path() / "store/cam1");
  auto r = store.Apply(Phase::kDelete, *keys);
  REQUIRE(r.ok());
  CHECK(r->applied.empty());
  REQUIRE(r->failed.size() == 2);
  CHECK(r->failed[0].reason.find("symbolic link") != std::string::npos);
  CHECK(r->failed[0].reason.find("a.mp4") == std::string::npos);
  CHECK(Files(dir.path() / "outside") == std::vector<std::string>{"a.mp4", "b.mp4"});
  CHECK(Content(dir.path() / "outside/a.mp4") == "precious a");
  CHECK(Files(dir.path() / "moved") == std::vector<std::string>{"a.mp4", "b.mp4"});
}

TEST_CASE("files: a file replaced under the same name after the scan is not the record evaluated and is kept",
          "[files][safety]") {
  TempDir dir;
  Write(dir.path() / "store/old.wav", "recorded 2019");
  Store store(dir.path() / "store", "calls");
  auto keys = store.Scan();
  REQUIRE(keys.ok());
  fs::remove(dir.path() / "store/old.wav");
  Write(dir.path() / "store/old.wav", "recorded today");
  auto r = store.Apply(Phase::kDelete, *keys);
  REQUIRE(r.ok());
  CHECK(r->applied.empty());
  CHECK(r->skipped == std::vector<std::string>{"old.wav"});
  CHECK(Content(dir.path() / "store/old.wav") == "recorded today");
}

TEST_CASE("files: a symbolic link in the store is reported and never followed", "[files][safety]") {
  TempDir dir;
  Write(dir.path() / "store/cam1/a.mp4", "a");
  Write(dir.path() / "outside/x.mp4", "x");
  fs::create_directories(dir.path() / "store/cam2");
  fs::create_directory_symlink(dir.path() / "outside", dir.path() / "store/cam2/link");
  Store store(dir.path() / "store", "cameras");
  auto count = store.connector->Count(store.binding);
  REQUIRE_FALSE(count.ok());
  CHECK(count.status().message().find("'cam2/link' is a symbolic link") != std::string::npos);
  CHECK_FALSE(store.Scan().ok());
  CHECK(fs::exists(dir.path() / "outside/x.mp4"));
}

TEST_CASE("files: a directory the engine cannot read is reported and never silently skipped", "[files][safety]") {
  TempDir dir;
  Write(dir.path() / "store/open/a.mp4", "a");
  Write(dir.path() / "store/closed/b.mp4", "b");
  fs::permissions(dir.path(), fs::perms::all);  // the child below must reach the store
  fs::permissions(dir.path() / "store", fs::perms::all);
  fs::permissions(dir.path() / "store/open", fs::perms::all);
  fs::permissions(dir.path() / "store/closed", fs::perms::none);
  Store store(dir.path() / "store", "cameras");
  std::string out = WithoutRootPowers([&] {
    auto count = store.connector->Count(store.binding);
    return count.ok() ? "counted " + std::to_string(*count) : count.status().message();
  });
  fs::permissions(dir.path() / "store/closed", fs::perms::owner_all);
  CHECK(out.find("cannot read directory 'closed'") != std::string::npos);
  CHECK(out.find("Permission denied") != std::string::npos);
}

TEST_CASE("files: one undeletable file does not hide what the rest of its batch deleted", "[files][safety]") {
  TempDir dir;
  for (const char* f : {"a/1.wav", "a/2.wav", "locked/3.wav", "z/4.wav"}) Write(dir.path() / "store" / f, f);
  for (const char* d : {"", "/store", "/store/a", "/store/z"}) fs::permissions(dir.path().string() + d, fs::perms::all);
  fs::permissions(dir.path() / "store/locked", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                                    fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  Store store(dir.path() / "store", "calls");
  auto keys = store.Scan();
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 4);
  std::string out = WithoutRootPowers([&] {
    auto r = store.Apply(Phase::kDelete, *keys);
    if (!r.ok()) return "error: " + r.status().message();
    std::string s;
    for (const auto& k : r->applied) s += "applied " + k + "\n";
    for (const auto& f : r->failed) s += "failed " + f.key + ": " + f.reason + "\n";
    Status c = store.connector->Confirm(r->staged);
    return s + (c.ok() ? "confirmed" : c.message());
  });
  CHECK(out ==
        "applied a/1.wav\napplied a/2.wav\napplied z/4.wav\n"
        "failed locked/3.wav: cannot move the file to the trash: Permission denied\nconfirmed");
  CHECK(Files(dir.path() / "store") == std::vector<std::string>{"locked/3.wav"});
  fs::permissions(dir.path() / "store/locked", fs::perms::owner_all);
}

TEST_CASE("files: a run records the files its partial batch deleted before failing", "[files][safety]") {
  TempDir dir;
  for (const char* f : {"cctv/a/1.mp4", "cctv/locked/2.mp4", "cctv/z/3.mp4"}) {
    Write(dir.path() / f, f);
    struct timespec times[2] = {{1577880000, 0}, {1577880000, 0}};  // 2020-01-01T12:00:00Z
    REQUIRE(utimensat(AT_FDCWD, (dir.path() / f).c_str(), times, 0) == 0);
  }
  for (const char* d : {"", "/cctv", "/cctv/a", "/cctv/z"}) fs::permissions(dir.path().string() + d, fs::perms::all);
  fs::permissions(dir.path() / "cctv/locked", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                                                  fs::perms::others_exec);
  DeploymentLoad load = LoadDeploymentText(R"(state: state.db
stores:
  cameras: {type: files, directory: cctv}
bindings:
  - {rule: F86.videosurveillance, store: cameras, glob: "*.mp4", facts: {collecte: {mtime: true}}}
)", "deploy.yaml", dir.path().string(), Shipped());
  REQUIRE_FALSE(HasErrors(load.diagnostics));
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  auto stores = Stores::Open(load.deployment, registry);
  REQUIRE(stores.ok());
  const PolicySet& policies = Shipped();
  std::string out = WithoutRootPowers([&] {
    ExecuteOptions o;
    o.as_of = *Date::Parse("2026-11-22");
    o.apply = true;
    o.run_id = "run-1";
    std::string recorded;
    o.on_batch = [&](const AppliedBatch& b) {
      for (const auto& k : b.keys) recorded += k + " ";
      return Status::Ok();
    };
    auto plan = Execute(load.deployment, policies, *stores, o);
    return "recorded " + recorded + "| " + (plan.ok() ? "ok" : plan.status().message());
  });
  fs::permissions(dir.path() / "cctv/locked", fs::perms::owner_all);
  CHECK(out ==
        "recorded a/1.mp4 z/3.mp4 | binding F86.videosurveillance: 1 record(s) could not be changed (cannot move "
        "the file to the trash: Permission denied); the 2 changed are recorded");
  CHECK(Files(dir.path() / "cctv") == std::vector<std::string>{"locked/2.mp4"});
}

TEST_CASE("files: archiving a recycled name with other content keeps both files", "[files][archive]") {
  TempDir dir;
  Store source(dir.path() / "scans", "scans");
  Store archive(dir.path() / "archive", "scans_archive");
  source.binding.archive = ArchiveSettings{"scans_archive", "old"};
  auto archive_once = [&](const std::string& content) {
    Write(dir.path() / "scans/2020/p_20200229.pdf", content);
    auto keys = source.Scan();
    REQUIRE(keys.ok());
    auto r = source.Apply(Phase::kArchive, *keys, archive.connector.get());
    REQUIRE(r.ok());
    CHECK(r->applied == std::vector<std::string>{"2020/p_20200229.pdf"});
    CHECK(r->failed.empty());
    REQUIRE(source.connector->Confirm(r->staged).ok());
  };
  archive_once("first scan");
  // The same size as the first, or not; with the SHA-256 of the content (sha256sum).
  auto [second, hash] = GENERATE(table<std::string, std::string>(
      {{"other scan", "617db4b4abe9f2b30adbcd6378b73e8b54653e76928413c735a581517680784f"},
       {"a longer second scan", "1d3c666f2bddc7b8abcd1b64803b601fcb3e6738c7f77d72594f4c4549f1ba04"}}));
  archive_once(second);
  std::string version = "sha256-" + hash;
  CHECK(Files(dir.path() / "archive") ==
        std::vector<std::string>{"old/2020/p_20200229.pdf", "old/2020/" + version + "/p_20200229.pdf"});
  CHECK(Content(dir.path() / "archive/old/2020/p_20200229.pdf") == "first scan");
  CHECK(Content(dir.path() / "archive/old/2020" / version / "p_20200229.pdf") == second);
  CHECK(Files(dir.path() / "scans").empty());
}

TEST_CASE("files: the same content archived twice is one owner-only archived file with its modification time",
          "[files][archive]") {
  TempDir dir;
  Store source(dir.path() / "scans", "scans");
  Store archive(dir.path() / "archive", "scans_archive");
  source.binding.archive = ArchiveSettings{"scans_archive", ""};
  for (int round = 0; round < 2; ++round) {  // the rerun after a crash between copy and delete
    Write(dir.path() / "scans/p_20200229.pdf", "the scan");
    struct timespec times[2] = {{1582977600, 0}, {1582977600, 0}};  // 2020-02-29T12:00:00Z
    REQUIRE(utimensat(AT_FDCWD, (dir.path() / "scans/p_20200229.pdf").c_str(), times, 0) == 0);
    fs::permissions(dir.path() / "scans/p_20200229.pdf", fs::perms::all);
    auto keys = source.Scan();
    REQUIRE(keys.ok());
    auto r = source.Apply(Phase::kArchive, *keys, archive.connector.get());
    REQUIRE(r.ok());
    CHECK(r->applied == std::vector<std::string>{"p_20200229.pdf"});
    REQUIRE(source.connector->Confirm(r->staged).ok());
  }
  CHECK(Files(dir.path() / "archive") == std::vector<std::string>{"p_20200229.pdf"});
  CHECK(Content(dir.path() / "archive/p_20200229.pdf") == "the scan");
  struct stat st;
  REQUIRE(stat((dir.path() / "archive/p_20200229.pdf").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_mtim.tv_sec == 1582977600);
}

TEST_CASE("files: the delete in the archive store acts on exactly the archived file it evaluated", "[files][archive]") {
  TempDir dir;
  Write(dir.path() / "archive/2020/p.pdf", "first");
  Write(dir.path() / "archive/2020/sha256-abc/p.pdf", "second");
  Store archive(dir.path() / "archive", "scans_archive");
  auto keys = archive.Scan();
  REQUIRE(keys.ok());
  REQUIRE(*keys == std::vector<std::string>{"2020/p.pdf", "2020/sha256-abc/p.pdf"});
  fs::remove(dir.path() / "archive/2020/p.pdf");
  Write(dir.path() / "archive/2020/p.pdf", "archived after the scan");
  auto r = archive.Apply(Phase::kDelete, *keys);
  REQUIRE(r.ok());
  CHECK(r->applied == std::vector<std::string>{"2020/sha256-abc/p.pdf"});
  CHECK(r->skipped == std::vector<std::string>{"2020/p.pdf"});
  REQUIRE(archive.connector->Confirm(r->staged).ok());
  CHECK(Files(dir.path() / "archive") == std::vector<std::string>{"2020/p.pdf"});
  CHECK(Content(dir.path() / "archive/2020/p.pdf") == "archived after the scan");
}

TEST_CASE("files: deleted files wait in the store's trash until the batch is recorded and a crashed batch is recovered",
          "[files][recovery]") {
  TempDir dir;
  const std::string odd = std::string("line\nbreak \xff\xfe%.wav");  // a newline, non-UTF-8 bytes, a '%'
  for (const std::string f : {"a/1.wav", "b/2.wav", "keep.wav"}) Write(dir.path() / "store" / f, f);
  Write(dir.path() / "store/a" / odd, "odd");
  Store store(dir.path() / "store", "calls");
  auto keys = store.Scan();
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 4);
  std::vector<std::string> due = {"a/1.wav", "a/" + odd, "b/2.wav"};
  auto r = store.Apply(Phase::kDelete, due);
  REQUIRE(r.ok());
  CHECK(r->applied == due);
  REQUIRE_FALSE(r->staged.empty());
  CHECK(Files(dir.path() / "store/a").empty());
  auto left = store.Scan();  // the trash holds no records
  REQUIRE(left.ok());
  CHECK(*left == std::vector<std::string>{"keep.wav"});
  const fs::path trash = dir.path() / "store/.retention-trash";
  CHECK(Files(trash) == std::vector<std::string>{"run-7/0/0", "run-7/0/1", "run-7/0/2", "run-7/0/journal"});
  CHECK(Content(trash / "run-7/0/journal") ==
        "retention-trash 1\nrun run-7\nbinding calls.binding\naction delete\n"
        "file 0 a/1.wav\nfile 1 a/line%0Abreak%20\xff\xfe%25.wav\nfile 2 b/2.wav\n");
  struct stat st;
  REQUIRE(stat((trash / "run-7/0/journal").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // The process died before recording the batch: the next run finds it.
  store.Reopen();
  auto found = store.connector->Recover();
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  const StagedBatch& b = found->front();
  CHECK(b.id == r->staged);
  CHECK(b.run_id == "run-7");
  CHECK(b.binding == "calls.binding");
  CHECK(b.action == Phase::kDelete);
  CHECK(b.keys == due);
  REQUIRE(store.connector->Confirm(b.id).ok());
  CHECK_FALSE(fs::exists(trash / "run-7"));
  auto again = store.connector->Recover();
  REQUIRE(again.ok());
  CHECK(again->empty());
  CHECK(Files(dir.path() / "store") == std::vector<std::string>{"keep.wav"});
}

TEST_CASE("files: recovery finishes a recorded batch silently and reports only the files a batch really moved",
          "[files][recovery]") {
  TempDir dir;
  const fs::path trash = dir.path() / "store/.retention-trash";
  // Recorded, then interrupted while unlinking: nothing to report, the rest is unlinked.
  Write(trash / "run-3/0/journal.confirmed", "retention-trash 1\nrun run-3\nbinding b\naction delete\nfile 0 x.wav\n");
  Write(trash / "run-3/0/0", "x");
  // Interrupted while moving: file 1 was never moved (it is still in the store).
  Write(trash / "run-4/0/journal",
        "retention-trash 1\nrun run-4\nbinding b\naction archive\nfile 0 y.wav\nfile 1 z.wav\n");
  Write(trash / "run-4/0/0", "y");
  Write(dir.path() / "store/z.wav", "z");
  Store store(dir.path() / "store", "calls");
  auto found = store.connector->Recover();
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  CHECK(found->front().id == "run-4/0");
  CHECK(found->front().action == Phase::kArchive);
  CHECK(found->front().keys == std::vector<std::string>{"y.wav"});
  CHECK_FALSE(fs::exists(trash / "run-3"));
  REQUIRE(store.connector->Confirm("run-4/0").ok());
  CHECK(Files(dir.path() / "store") == std::vector<std::string>{"z.wav"});
  CHECK_FALSE(store.connector->Confirm("../../etc").ok());
}

TEST_CASE("files: a batch interrupted while its journal was written moved nothing and is dropped",
          "[files][recovery]") {
  TempDir dir;
  const fs::path trash = dir.path() / "store/.retention-trash";
  Write(trash / "run-5/0/journal.partial", "retention-trash 1\nrun ru");  // killed mid-write
  Write(trash / "run-6/0/journal.partial", "");                          // killed right after open
  Write(trash / "run-6/1/journal.partial", "retention-trash 1\n");
  Write(trash / "run-6/1/0", "a file moved without a named journal cannot be explained");
  Write(dir.path() / "store/x.wav", "x");
  Store store(dir.path() / "store", "calls");
  auto found = store.connector->Recover();
  REQUIRE_FALSE(found.ok());  // run-6/1 holds a file: left for a person, never guessed
  CHECK_THAT(found.status().message(), Catch::Contains("run-6/1 holds files but no journal"));
  fs::remove_all(trash / "run-6/1");
  found = store.connector->Recover();
  REQUIRE(found.ok());
  CHECK(found->empty());
  CHECK_FALSE(fs::exists(trash / "run-5"));
  CHECK_FALSE(fs::exists(trash / "run-6"));
  CHECK(Files(dir.path() / "store") == std::vector<std::string>{"x.wav"});
}

TEST_CASE("files: a trash batch names the deployment that staged it", "[files][recovery]") {
  TempDir dir;
  Write(dir.path() / "store/a/1.wav", "1");
  Store store(dir.path() / "store", "calls");
  REQUIRE(store.Scan().ok());
  ApplyRequest req;
  req.binding = &store.binding;
  req.action = Phase::kDelete;
  req.keys = {"a/1.wav"};
  req.run_id = "run-7";
  req.key_digest = [](const std::string& k) { return "digest of " + k; };
  auto r = store.connector->Apply(req);
  REQUIRE(r.ok());
  REQUIRE(r->applied == req.keys);
  CHECK(Content(dir.path() / "store/.retention-trash/run-7/0/journal") ==
        std::string("retention-trash 1\nrun run-7\nbinding calls.binding\naction delete\nowner digest%20of%20") +
            kJournalOwner + "\nfile 0 a/1.wav\n");
  store.Reopen();
  auto found = store.connector->Recover();
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  CHECK(found->front().owner == std::string("digest of ") + kJournalOwner);
  CHECK(found->front().keys == req.keys);
}
