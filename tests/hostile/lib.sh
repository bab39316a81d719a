# Helpers for the hostile-input cases (cases.tsv); sourced in each case's fresh directory.
# R: the retention executable; SRC: the source tree.
P="$SRC/policies"

# ./pol: a copy of the shipped policies, for a case to spoil.
policies() { cp -r "$P" pol; F01=$(echo pol/01_*/F01.yaml); }

# ./audit.key: an owner-only audit key.
audit_key() { printf 'k3y-for-tests\n' > audit.key; chmod 600 audit.key; }

# ./main.db: the table of base.yaml, with the rows given as SQL values, e.g. "(1, 'x', '2020-01-01')".
droits() {
  sqlite3 main.db "CREATE TABLE droits (id TEXT PRIMARY KEY, nir TEXT, fin_droits TEXT);
                   INSERT INTO droits VALUES $1;"
}

# A configuration derived from base.yaml by a sed expression.
config() { sed "$1" base.yaml > c.yaml; }

# A path longer than PATH_MAX (4096).
long_path() { printf 'x/%.0s' $(seq 1 2100); printf 'c.yaml'; }

# The demo state: one applied run of base.yaml (record 1 deleted), then the given SQL on state.db.
applied_run() {
  audit_key
  droits "('1', 'a', '2020-01-01'), ('2', 'b', '2030-01-01')"
  "$R" run --config base.yaml --policies "$P" --as-of 2024-01-02 > /dev/null 2>&1 || return 1
  sqlite3 state.db "$1"
}
