# Workload for test_python.sh: threads, fork, subprocess and the sqlite3
# module in one unmodified Debian python3. Output is deterministic, so the
# test compares it byte for byte with a run without the library.
import hashlib
import os
import sqlite3
import subprocess
import sys
import threading

# Threads: each builds and hashes its own data (allocation-heavy), results
# printed in a fixed order after join.
results = [None] * 8


def work(i):
    d = {}
    for k in range(20000):
        d["key%d-%d" % (i, k)] = [k] * (k % 7)
    blob = "".join(sorted(d)).encode()
    results[i] = hashlib.sha256(blob).hexdigest()[:16]


threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for i, r in enumerate(results):
    print("thread", i, r)

# sqlite3 module: a file database in the working directory.
con = sqlite3.connect("py.db")
con.execute("create table t(id integer primary key, name text, v real)")
con.executemany("insert into t(name, v) values(?, ?)",
                (("n%d" % i, i * 0.5) for i in range(50000)))
con.execute("create index t_name on t(name)")
con.commit()
print("sqlite rows", con.execute("select count(*), sum(v) from t").fetchone())
print("sqlite like", con.execute("select count(*) from t where name like 'n12%'").fetchone())
con.close()

# fork without exec: the child works and reports through a pipe.
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    s = sum(len(str(i)) for i in range(200000))
    os.write(w, ("child sum %d\n" % s).encode())
    os._exit(0)
os.close(w)
with os.fdopen(r) as f:
    print(f.read().strip())
_, status = os.waitpid(pid, 0)
print("child status", os.waitstatus_to_exitcode(status))

# A forked child that exits through the normal interpreter exit (atexit runs).
pid = os.fork()
if pid == 0:
    x = [list(range(100)) for _ in range(1000)]
    sys.stdout.flush()
    sys.exit(3)
_, status = os.waitpid(pid, 0)
print("child2 status", os.waitstatus_to_exitcode(status))

# subprocess: another interpreter and a coreutils pipeline, both inherit the
# environment (and so LD_PRELOAD).
out = subprocess.run([sys.executable, "-I", "-c",
                      "import json; print(json.dumps({str(i): i * i for i in range(5000)})[:40])"],
                     capture_output=True, text=True, check=True).stdout
print("subprocess python", out.strip())
out = subprocess.run("seq 1 30000 | sort -r | sha256sum", shell=True,
                     capture_output=True, text=True, check=True).stdout
print("subprocess shell", out.split()[0][:16])
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
data = b"".join(b"line %d\n" % i for i in range(20000))
o, _ = p.communicate(data)
print("popen cat", len(o), p.returncode)
sys.exit(0)
