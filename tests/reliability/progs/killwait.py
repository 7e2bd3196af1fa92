"""killwait.py SIGNAL LINE DELAY_S OUT -- CMD...: runs CMD (stdout to OUT),
waits until its stdout has a line LINE, sleeps DELAY_S, sends it SIGNAL and
prints the raw wait status (as waitpid returns it, core flag included) and
the milliseconds from the signal to the process's end. The child starts with
the four exit signals at their default disposition, whatever this shell had
(a non-interactive shell ignores SIGINT and SIGQUIT in background jobs)."""
import os
import signal
import sys
import time

sig = getattr(signal, "SIG" + sys.argv[1])
line, delay, out = sys.argv[2].encode(), float(sys.argv[3]), sys.argv[4]
cmd = sys.argv[6:]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(s, signal.SIG_DFL)
    os.close(r)
    os.dup2(w, 1)
    os.close(w)
    os.execvp(cmd[0], cmd)
os.close(w)
seen = b""
with open(out, "wb") as f:
    deadline = time.time() + 30
    while line + b"\n" not in seen and time.time() < deadline:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        seen += chunk
        f.write(chunk)
    time.sleep(delay)
    sent = time.monotonic()
    os.kill(pid, sig)
    _, status = os.waitpid(pid, 0)
    ended = time.monotonic()
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        f.write(chunk)
print(status, int((ended - sent) * 1000))
