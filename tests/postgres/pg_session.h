// A plain libpq session for the PostgreSQL tests, to set up and check rows: connects to
// RETENTION_TEST_PG, owns a fresh schema (random name) and drops it with CASCADE when it
// goes away, and loads rows with COPY FROM STDIN.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "postgres/pg_handle.h"
#include "retention/status.h"

namespace retention::testing {

// A status that must be OK (its message shown when it is not).
inline void RequireOk(const Status& status) {
  INFO(status.message());
  REQUIRE(status.ok());
}

// The value of a result that must be OK.
template <typename T>
T ValueOf(Result<T> result) {
  RequireOk(result.status());
  return std::move(result).value();
}

class PgSession {
 public:
  using Cell = std::optional<std::string>;
  using Rows = std::vector<std::vector<Cell>>;

  PgSession() {
    std::random_device rd;
    std::mt19937_64 gen(rd());
    schema_ = fmt::format("rt_{:016x}", gen());
    owned_.reset(PQconnectdb(std::getenv("RETENTION_TEST_PG")));
    conn_ = owned_.get();
    INFO(PQerrorMessage(conn_));
    REQUIRE(PQstatus(conn_) == CONNECTION_OK);
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    Exec("SET TimeZone = 'UTC'");  // the connector must not depend on the session that wrote the rows
    Exec("CREATE SCHEMA " + schema_);
  }
  ~PgSession() { pg::ResultPtr(PQexec(conn_, ("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE").c_str())); }
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  const std::string& schema() const { return schema_; }
  // A schema-qualified table name.
  std::string T(const std::string& table) const { return schema_ + "." + table; }

  void Exec(const std::string& sql) {
    pg::ResultPtr r(PQexec(conn_, sql.c_str()));
    ExecStatusType st = PQresultStatus(r.get());
    std::string error = PQresultErrorMessage(r.get());
    INFO(sql << ": " << error);
    REQUIRE((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK));
  }

  Rows Query(const std::string& sql) {
    pg::ResultPtr owned(PQexec(conn_, sql.c_str()));
    const PGresult* r = owned.get();
    INFO(sql << ": " << PQresultErrorMessage(r));
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    Rows out;
    out.reserve(static_cast<size_t>(PQntuples(r)));
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<Cell> row;
      for (int c = 0; c < PQnfields(r); ++c) row.push_back(PQgetisnull(r, i, c) ? Cell() : Cell(PQgetvalue(r, i, c)));
      out.push_back(std::move(row));
    }
    return out;
  }

  // The first column of every row, NULL as "NULL".
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    for (const auto& row : Query(sql)) out.push_back(row.at(0).value_or("NULL"));
    return out;
  }

  std::string Scalar(const std::string& sql) {
    auto rows = Query(sql);
    REQUIRE(rows.size() == 1);
    return rows[0].at(0).value_or("NULL");
  }

  // COPY table FROM STDIN (text format) with the rows `rows` produces: values must hold
  // no tab, newline or backslash; nullopt is NULL. Sent in chunks of about 1 MiB.
  void Copy(const std::string& table, const std::function<void(const std::function<void(const std::vector<Cell>&)>&)>& rows) {
    {
      pg::ResultPtr start(PQexec(conn_, ("COPY " + table + " FROM STDIN").c_str()));
      INFO(PQresultErrorMessage(start.get()));
      REQUIRE(PQresultStatus(start.get()) == PGRES_COPY_IN);
    }
    std::string buffer;
    auto flush = [&] {
      INFO(PQerrorMessage(conn_));
      REQUIRE(PQputCopyData(conn_, buffer.data(), static_cast<int>(buffer.size())) == 1);
      buffer.clear();
    };
    rows([&](const std::vector<Cell>& v) {
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) buffer += '\t';
        buffer += v[i] ? *v[i] : "\\N";
      }
      buffer += '\n';
      if (buffer.size() > (1u << 20)) flush();
    });
    if (!buffer.empty()) flush();
    REQUIRE(PQputCopyEnd(conn_, nullptr) == 1);
    pg::ResultPtr end(PQgetResult(conn_));
    INFO(PQresultErrorMessage(end.get()));
    CHECK(PQresultStatus(end.get()) == PGRES_COMMAND_OK);
    while (pg::ResultPtr more{PQgetResult(conn_)}) {
    }
  }

 private:
  std::string schema_;
  pg::Connection owned_;
  PGconn* conn_ = nullptr;  // owned_.get()
};

}  // namespace retention::testing
