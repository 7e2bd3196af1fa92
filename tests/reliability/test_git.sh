#!/bin/bash
# Debian's unmodified git in a fresh repository: init, add, several commits,
# branch, merge, log with patches and stats, gc (forks pack-objects, which
# uses threads), fsck. Dates and identity are fixed, so the output (hashes
# included) is the same in every run: stdout, stderr and exit status identical
# with and without the library at rate 1 and at the default rate; every
# process's profiles readable, each ending with its final dump.
. "$(dirname "$0")/lib.sh"
need_go
command -v git >/dev/null || abort "git is missing (Debian: apt-get install git)"
cat >"$TMP/git-workload.sh" <<'SH'
set -e
export GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.com GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@example.com
export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
export GIT_CONFIG_NOSYSTEM=1 HOME=$PWD GIT_PAGER=cat
git -c init.defaultBranch=main init -q repo
cd repo
git config pack.threads 2
for i in 1 2 3; do
    seq 1 $((i * 2000)) | sed "s/^/line $i /" >"file$i.txt"
    git add "file$i.txt"
    git commit -q -m "commit $i"
done
git checkout -q -b side
sed -i 's/line 1 1$/changed/' file1.txt
git commit -q -am "side change"
git checkout -q main
echo extra >>file2.txt
git commit -q -am "main change"
git merge -q --no-edit side
git log --stat --format='%H %s' | head -c 100000
git diff --stat HEAD~3 HEAD
git gc -q
git count-objects -v | grep -v size
git fsck --full --no-progress && echo fsck ok
SH
real_program git -- bash "$TMP/git-workload.sh"
check "git printed its log" grep -q 'fsck ok' "$TMP/git.plain.out"
check "git rate 1: git ran as several processes ($(pids "$TMP/git.rate1" | wc -l) wrote profiles, want >= 10)" \
    test "$(pids "$TMP/git.rate1" | wc -l)" -ge 10
finish
