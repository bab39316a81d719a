// The PostgreSQL connector tests need a server: RETENTION_TEST_PG holds its libpq
// connection string (scripts/test.sh starts a throwaway one with tests/postgres_server.sh).
// Without it the executable exits 77, which CTest reports as skipped, never as passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const char* dsn = std::getenv("RETENTION_TEST_PG");
  if (!dsn || !*dsn) {
    std::puts("SKIPPED: RETENTION_TEST_PG is not set");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
