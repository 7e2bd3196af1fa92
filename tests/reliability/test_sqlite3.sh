#!/bin/bash
# Debian's unmodified sqlite3 shell on a scripted workload (a file database:
# recursive CTE inserts, indexes, joins, group by, window functions, JSON,
# update/delete, vacuum): stdout, stderr and exit status identical with and
# without the library at rate 1 and at the default rate; its profiles readable,
# ending with the final dump.
. "$(dirname "$0")/lib.sh"
need_go
command -v sqlite3 >/dev/null || abort "sqlite3 is missing (Debian: apt-get install sqlite3)"
cat >"$TMP/sqlite.stdin" <<'SQL'
.bail on
.headers on
.mode list
create table a(id integer primary key, k text, v integer);
create table b(id integer primary key, a_id integer, payload blob);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 40000)
  insert into a(k, v) select printf('key-%06d', i), (i * 7919) % 1000 from n;
with recursive n(i) as (select 1 union all select i + 1 from n where i < 20000)
  insert into b(a_id, payload) select (i * 13) % 40000 + 1, zeroblob(i % 300) from n;
create index a_v on a(v);
create index b_a on b(a_id);
select count(*), sum(v), min(k), max(k) from a;
select v, count(*) c from a group by v order by c desc, v limit 5;
select count(*), sum(length(b.payload)) from a join b on b.a_id = a.id where a.v < 500;
select k, v, rank() over (order by v desc, k) r from a where id % 997 = 0 order by r limit 8;
select json_group_array(json_object('k', k, 'v', v)) from (select k, v from a where id <= 5);
update a set v = v + 1 where id % 3 = 0;
delete from b where id % 2 = 0;
select count(*), sum(v) from a;
select count(*) from b;
vacuum;
pragma integrity_check;
SQL
real_program sqlite -- sqlite3 test.db
check "sqlite3 printed its results ($(wc -l <"$TMP/sqlite.plain.out") lines)" grep -qx 'integrity_check' "$TMP/sqlite.plain.out"
finish
