/* README.md's configuration table and the options table in src/base/config.c
 * must agree: the same variables, and the same default for each.
 *
 * The README rows are the lines that begin with "| `HEAPPROF_"; a row's first
 * cell is the backticked name, its second cell begins with the backticked
 * default (`524288`) or says "unset". CMake passes the README's path as
 * HP_README_PATH; the file is read when the test runs, so editing the README
 * needs no rebuild to be checked. The comparison itself is tested first on
 * made-up READMEs, so a check that can no longer fail is noticed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/config.h"

#ifndef HP_README_PATH
#error "HP_README_PATH must name README.md (set by tests/CMakeLists.txt)"
#endif

/* Variables the README may document that the library does not read, so they
 * are not in the options table. They are kept out of it on purpose: the
 * table drives the loader, and an entry it had to skip would be a second,
 * unchecked definition of a variable whose default and parsing live elsewhere.
 *   HEAPPROF_LIB: read by the wrapper, scripts/heapprof (the library to
 *   preload; documented in its --help and in the README's install section). */
static const char *const k_read_elsewhere[] = {"HEAPPROF_LIB"};

static int read_elsewhere(const char *name)
{
    for (size_t i = 0; i < sizeof k_read_elsewhere / sizeof k_read_elsewhere[0]; i++)
        if (strcmp(k_read_elsewhere[i], name) == 0)
            return 1;
    return 0;
}

/* The disagreements found, one line each. */
typedef struct report {
    char text[4096];
    size_t len;
    int count;
} report;

static void say(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(report *r, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->count++;
    r->len += (size_t)snprintf(r->text + r->len, sizeof r->text - r->len, "%s\n", line);
    if (r->len >= sizeof r->text)
        r->len = sizeof r->text - 1; /* cut: the count still says how many */
}

#define MAX_ROWS 64
typedef struct row {
    char name[64];
    char dflt[128];
} row;

/* Copies the text up to `stop` (not included) into out; NULL when `stop` does
 * not come before the end of the line or the text does not fit. */
static const char *copy_until(const char *p, char stop, char *out, size_t size)
{
    size_t n = 0;
    while (p[n] != stop && p[n] != '\n' && p[n] != '\0')
        n++;
    if (p[n] != stop || n >= size)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return p + n + 1;
}

/* The README's rows; a row that cannot be read is a disagreement. */
static size_t readme_rows(const char *text, row *rows, report *r)
{
    static const char prefix[] = "| `HEAPPROF_";
    size_t n = 0;
    for (const char *line = text; *line != '\0';) {
        const char *next = strchr(line, '\n');
        next = next != NULL ? next + 1 : line + strlen(line);
        if (strncmp(line, prefix, sizeof prefix - 1) == 0) {
            row w;
            const char *p = copy_until(line + 3, '`', w.name, sizeof w.name);
            if (p == NULL || strncmp(p, " | ", 3) != 0) {
                say(r, "README: unreadable row: %.60s", line);
            } else {
                p += 3;
                int backticked = *p == '`' && copy_until(p + 1, '`', w.dflt, sizeof w.dflt) != NULL;
                if (!backticked && strncmp(p, HP_OPTION_UNSET, strlen(HP_OPTION_UNSET)) == 0)
                    snprintf(w.dflt, sizeof w.dflt, "%s", HP_OPTION_UNSET);
                else if (!backticked)
                    snprintf(w.dflt, sizeof w.dflt, "(a cell that begins with neither `value` nor unset)");
                if (n < MAX_ROWS)
                    rows[n++] = w;
                else
                    say(r, "README: more than %d rows", MAX_ROWS);
            }
        }
        line = next;
    }
    return n;
}

/* Every disagreement between a README text and the options table. */
static void compare(const char *text, report *r)
{
    static row rows[MAX_ROWS];
    size_t n = readme_rows(text, rows, r);
    for (size_t i = 0; i < n; i++) {
        const hp_option_info *o = NULL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(rows[j].name, rows[i].name) == 0)
                say(r, "%s: two rows in the README", rows[i].name);
        for (unsigned k = 0; k < hp_option_count() && o == NULL; k++)
            if (strcmp(hp_option_at(k)->name, rows[i].name) == 0)
                o = hp_option_at(k);
        if (o == NULL) {
            if (!read_elsewhere(rows[i].name))
                say(r, "%s: in the README, not in the options table (src/base/config.c)", rows[i].name);
        } else if (strcmp(o->default_text, rows[i].dflt) != 0) {
            say(r, "%s: default is \"%s\" in the options table, \"%s\" in the README", o->name, o->default_text,
                rows[i].dflt);
        }
    }
    for (unsigned k = 0; k < hp_option_count(); k++) {
        const hp_option_info *o = hp_option_at(k);
        size_t i = 0;
        while (i < n && strcmp(rows[i].name, o->name) != 0)
            i++;
        if (i == n)
            say(r, "%s: in the options table, not in the README", o->name);
    }
}

/* A README that agrees with the table, with one row changed by `edit`:
 * 'd' drops row `which`, 'v' gives it another default, 'u' says unset,
 * 'p' writes its default without backticks. */
static void fake_readme(char *out, size_t size, int edit, unsigned which)
{
    size_t len = (size_t)snprintf(out, size, "# x\n\n| Variable | Default |\n|---|---|\n");
    for (unsigned k = 0; k < hp_option_count(); k++) {
        const hp_option_info *o = hp_option_at(k);
        const char *d = o->default_text;
        if (k == which && edit == 'd')
            continue;
        if (k == which && edit == 'v')
            d = "12345";
        if (k == which && edit == 'u')
            d = HP_OPTION_UNSET;
        if (k == which && edit == 'p')
            len += (size_t)snprintf(out + len, size - len, "| `%s` | %s (why) | x |\n", o->name, d);
        else if (strcmp(d, HP_OPTION_UNSET) == 0)
            len += (size_t)snprintf(out + len, size - len, "| `%s` | unset: nothing | x |\n", o->name);
        else
            len += (size_t)snprintf(out + len, size - len, "| `%s` | `%s` (why) | x |\n", o->name, d);
        assert_true(len < size);
    }
}

static unsigned first_with_default(void)
{
    for (unsigned k = 0; k < hp_option_count(); k++)
        if (strcmp(hp_option_at(k)->default_text, HP_OPTION_UNSET) != 0)
            return k;
    fail_msg("no option has a default");
    return 0;
}

static int disagreements(const char *text)
{
    report r = {.len = 0, .count = 0};
    r.text[0] = '\0';
    compare(text, &r);
    return r.count;
}

/* The check itself: silent on an agreeing README, loud on each kind of drift. */
static void test_compare_catches_drift(void **state)
{
    (void)state;
    static char text[16384], more[16384 + 256];
    unsigned k = first_with_default();
    fake_readme(text, sizeof text, 0, 0);
    assert_int_equal(disagreements(text), 0);
    fake_readme(text, sizeof text, 'd', 0); /* a variable missing from the README */
    assert_int_equal(disagreements(text), 1);
    fake_readme(text, sizeof text, 'v', k); /* another default */
    assert_int_equal(disagreements(text), 1);
    fake_readme(text, sizeof text, 'u', k); /* "unset" where the library has a default */
    assert_int_equal(disagreements(text), 1);
    fake_readme(text, sizeof text, 'p', k); /* a default cell that cannot be read */
    assert_int_equal(disagreements(text), 1);

    fake_readme(text, sizeof text, 0, 0);
    snprintf(more, sizeof more, "%s| `HEAPPROF_NOT_READ` | `1` | x |\n", text); /* missing from the table */
    assert_int_equal(disagreements(more), 1);
    snprintf(more, sizeof more, "%s| `HEAPPROF_LIB` | unset: the wrapper searches | x |\n", text);
    assert_int_equal(disagreements(more), 0); /* read by the wrapper: excluded */
    snprintf(more, sizeof more, "%s| `%s` | `%s` | x |\n", text, hp_option_at(k)->name,
             hp_option_at(k)->default_text);
    assert_int_equal(disagreements(more), 1); /* the same variable twice */
}

/* An excluded variable must really be one the library does not read. */
static void test_exclusions_not_in_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_read_elsewhere / sizeof k_read_elsewhere[0]; i++)
        for (unsigned k = 0; k < hp_option_count(); k++)
            assert_string_not_equal(hp_option_at(k)->name, k_read_elsewhere[i]);
}

static void test_readme_matches_table(void **state)
{
    (void)state;
    FILE *f = fopen(HP_README_PATH, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", HP_README_PATH);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);

    report r = {.len = 0, .count = 0};
    r.text[0] = '\0';
    compare(text, &r);
    free(text);
    if (r.count != 0)
        fail_msg("%s and src/base/config.c disagree (%d):\n%s", HP_README_PATH, r.count, r.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_catches_drift),
        cmocka_unit_test(test_exclusions_not_in_table),
        cmocka_unit_test(test_readme_matches_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
