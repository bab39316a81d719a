// Test helpers: a temporary directory and a small SQLite handle for setting up data.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/records.h"

namespace retention::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("retention-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

class SqliteDb {
 public:
  explicit SqliteDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + path);
  }
  ~SqliteDb() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(m + " in: " + sql);
    }
  }
  // Inserts rows of text/NULL values with one prepared statement.
  void Insert(const std::string& table, size_t columns, const std::function<void(const std::function<void(const std::vector<Value>&)>&)>& rows) {
    std::string marks;
    for (size_t i = 0; i < columns; ++i) marks += i ? ",?" : "?";
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_, ("INSERT INTO " + table + " VALUES (" + marks + ")").c_str(), -1, &stmt, nullptr);
    Exec("BEGIN");
    rows([&](const std::vector<Value>& v) {
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i]) sqlite3_bind_text(stmt, static_cast<int>(i + 1), v[i]->c_str(), -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(stmt, static_cast<int>(i + 1));
      }
      sqlite3_step(stmt);
      sqlite3_reset(stmt);
    });
    Exec("COMMIT");
    sqlite3_finalize(stmt);
  }
  // The first column of every row, as text ("NULL" for NULL).
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db_));
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      auto t = sqlite3_column_text(stmt, 0);
      out.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::string One(const std::string& sql) {
    auto c = Column(sql);
    return c.empty() ? "" : c.front();
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace retention::testing
