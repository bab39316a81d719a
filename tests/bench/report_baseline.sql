-- The hand-written counterpart of `retention report` on the demo: for each table, one
-- GROUP BY on its main date column counting what is due now, what lacks the date, and
-- each month in which the rest becomes due (SQLite's month arithmetic, not article 641:
-- a baseline for time, not for dates). @AS_OF@ is replaced by tests/bench/run.sh.
SELECT CASE WHEN fin_droits IS NULL THEN 'missing' WHEN fin_droits < date('@AS_OF@', '-5 years') THEN 'due' ELSE substr(date(fin_droits, '+5 years'), 1, 7) END AS b, count(*) FROM immatriculations GROUP BY b;
SELECT CASE WHEN fin_droits IS NULL THEN 'missing' WHEN fin_droits < date('@AS_OF@', '-5 years') THEN 'due' ELSE substr(date(fin_droits, '+5 years'), 1, 7) END AS b, count(*) FROM droits_maladie GROUP BY b;
SELECT CASE WHEN fin_droits IS NULL THEN 'missing' WHEN fin_droits < date('@AS_OF@', '-5 years') THEN 'due' ELSE substr(date(fin_droits, '+5 years'), 1, 7) END AS b, count(*) FROM beneficiaires_invalidite GROUP BY b;
SELECT CASE WHEN date_versement IS NULL THEN 'missing' WHEN date_versement < date('@AS_OF@', '-13 years') THEN 'delete' WHEN date_versement < date('@AS_OF@', '-3 years') THEN 'archive' ELSE substr(date(date_versement, '+3 years'), 1, 7) END AS b, count(*) FROM prestations_invalidite GROUP BY b;
SELECT CASE WHEN date_versement IS NULL THEN 'missing' WHEN date_versement < date('@AS_OF@', '-13 years') THEN 'delete' WHEN date_versement < date('@AS_OF@', '-3 years') THEN 'archive' ELSE substr(date(date_versement, '+3 years'), 1, 7) END AS b, count(*) FROM prestations_at_mp GROUP BY b;
SELECT CASE WHEN deces IS NULL THEN 'missing' WHEN deces < date('@AS_OF@', '-10 years') THEN 'delete' WHEN deces < date('@AS_OF@', '-5 years') THEN 'archive' ELSE substr(date(deces, '+5 years'), 1, 7) END AS b, count(*) FROM controle_medical GROUP BY b;
SELECT CASE WHEN envoye_le IS NULL THEN 'missing' WHEN envoye_le < date('@AS_OF@', '-1 years') THEN 'due' ELSE substr(date(envoye_le, '+1 years'), 1, 7) END AS b, count(*) FROM messages_ameli GROUP BY b;
SELECT CASE WHEN dernier_sejour IS NULL OR naissance IS NULL THEN 'missing' WHEN max(date(dernier_sejour, '+20 years'), date(naissance, '+28 years')) < '@AS_OF@' THEN 'due' ELSE substr(max(date(dernier_sejour, '+20 years'), date(naissance, '+28 years')), 1, 7) END AS b, count(*) FROM dossiers_medicaux GROUP BY b;
SELECT CASE WHEN cloture IS NULL THEN 'missing' WHEN cloture < date('@AS_OF@', '-10 years') THEN 'delete' WHEN cloture < date('@AS_OF@', '-2 years') THEN 'pseudonymise' ELSE substr(date(cloture, '+2 years'), 1, 7) END AS b, count(*) FROM accompagnements GROUP BY b;
SELECT CASE WHEN depart IS NULL THEN 'missing' WHEN depart < date('@AS_OF@', '-5 years') THEN 'due' ELSE substr(date(depart, '+5 years'), 1, 7) END AS b, count(*) FROM salaries GROUP BY b;
