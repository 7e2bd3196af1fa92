#!/usr/bin/python3
"""Compares CPython regrtest JUnit results test by test (used by run_cpython.sh).

  junit_outcomes.py outcomes JUNIT.xml      prints "<outcome> <test id>" per test case
  junit_outcomes.py compare PLAIN.txt NAME:RUN.txt...
      prints a per-test report and the summary counts; exit 1 if a test that
      passed plain did not pass (failed, errored, or is missing: hung, crashed)
      in a heapprof run.

Outcomes: pass (also an expected failure), skip, fail, error (also an
unexpected success). A module that times out or whose worker dies leaves no
test cases in the XML: its tests come out as "missing" in the comparison.
"""
import sys
import xml.etree.ElementTree as ET


def outcome(case):
    if case.find('error') is not None:
        return 'error'
    if case.find('failure') is not None:
        return 'fail'
    if case.find('skipped') is not None:
        return 'skip'
    if case.find('outcome') is not None:  # UNEXPECTED_SUCCESS
        return 'error'
    return 'pass'


def outcomes_from_xml(path):
    found = {}
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        print(f'peer: cannot read {path}: {exc}', file=sys.stderr)
        return found
    for case in root.iter('testcase'):
        name = case.get('name')
        if not name:  # started, never finished: the worker died in it
            continue
        # A name seen twice (a test class run by two modules) keeps the worst.
        this = outcome(case)
        if found.get(name) in ('fail', 'error'):
            continue
        found[name] = this
    return found


def read_outcomes(path):
    found = {}
    with open(path) as f:
        for line in f:
            kind, _, name = line.rstrip('\n').partition(' ')
            if name:
                found[name] = kind
    return found


def module_of(test_id):
    """test.test_os.FileTests.test_access -> test.test_os (package modules keep their package)."""
    return test_id.rsplit('.', 2)[0]


def compare(plain_path, runs):
    plain = read_outcomes(plain_path)
    passed_plain = {t for t, o in plain.items() if o == 'pass'}
    counts = {o: sum(1 for v in plain.values() if v == o) for o in ('pass', 'skip', 'fail', 'error')}
    print(f'plain: {len(plain)} test cases: '
          f'{counts["pass"]} passed, {counts["skip"]} skipped, '
          f'{counts["fail"]} failed, {counts["error"]} errors')
    for t in sorted(t for t, o in plain.items() if o in ('fail', 'error')):
        print(f'  plain {plain[t]} (not in the exclusion list; not compared): {t}')
    bad = 0
    for spec in runs:
        name, _, path = spec.partition(':')
        got = read_outcomes(path)
        regressions = sorted(t for t in passed_plain if got.get(t, 'missing') != 'pass')
        passed = sum(1 for t in passed_plain if got.get(t) == 'pass')
        skipped = sum(1 for t in passed_plain if got.get(t) == 'skip')
        print(f'{name}: {len(got)} test cases; of the {len(passed_plain)} that passed plain, '
              f'{passed} passed, {len(regressions)} did not')
        # A module with no test case at all hung or crashed: one line for it.
        by_module = {}
        for t in passed_plain:
            by_module.setdefault(module_of(t), []).append(t)
        gone = {m for m, ts in by_module.items() if all(t not in got for t in ts)}
        for m in sorted(gone):
            print(f'  REGRESSION {name}: module {m}: none of its {len(by_module[m])} test cases '
                  f'reported (it hung past the timeout or its process died; see its log)')
        for t in regressions:
            if module_of(t) not in gone:
                print(f'  REGRESSION {name}: {got.get(t, "missing")}: {t}')
        if skipped:
            print(f'  ({skipped} of them were skipped under {name})')
        bad += len(regressions)
    return 1 if bad else 0


def main(argv):
    if len(argv) == 3 and argv[1] == 'outcomes':
        for name, kind in sorted(outcomes_from_xml(argv[2]).items()):
            print(kind, name)
        return 0
    if len(argv) >= 4 and argv[1] == 'compare':
        return compare(argv[2], argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
