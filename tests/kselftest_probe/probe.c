// SPDX-License-Identifier: GPL-2.0
/*
 * Exercises the selftest header API: "probe SCENARIO" reports through it in
 * one way and exits the way the header makes it.  The same source is built
 * against our selftests/kselftest.h and against the kernel's, and the tests
 * compare the two outputs and exit codes byte for byte.
 *
 * Build with -DPROBE_NO_XPASS_FN for a header without
 * ksft_test_result_xpass() (Linux 6.12 and older).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

static const int codes[] = {
	KSFT_PASS, KSFT_FAIL, KSFT_XFAIL, KSFT_XPASS, KSFT_SKIP
};

static void all_pass(void)
{
	ksft_print_header();
	ksft_set_plan(4);
	ksft_test_result_pass("first\n");
	ksft_test_result(1, "second %d\n", 2);
	ksft_test_result_code(KSFT_PASS, "third", NULL);
	ksft_test_result_report(KSFT_PASS, "fourth\n");
	ksft_finished();
}

static void one_fail(void)
{
	ksft_print_header();
	ksft_set_plan(4);
	ksft_test_result_pass("good\n");
	ksft_test_result_fail("bad %s\n", "thing");
	ksft_test_result(0, "false condition\n");
	ksft_test_result_code(KSFT_FAIL, "coded_fail", NULL);
	ksft_finished();
}

static void code_each(const char *variant)
{
	char name[32];
	size_t i;

	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(codes));
	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		snprintf(name, sizeof(name), "code_%d", codes[i]);
		if (!strcmp(variant, "msg"))
			ksft_test_result_code(codes[i], name, "message %zu", i);
		else if (!strcmp(variant, "empty"))
			ksft_test_result_code(codes[i], name, "%s", "");
		else
			ksft_test_result_code(codes[i], name, NULL);
	}
	ksft_finished();
}

/* XFAIL, XPASS and SKIP only: whether the program passes is up to the header */
static void code_expected(void)
{
	ksft_print_header();
	ksft_set_plan(4);
	ksft_test_result_code(KSFT_XFAIL, "known_bug", "bug %d", 123);
	ksft_test_result_code(KSFT_XPASS, "fixed_bug", "bug %d", 456);
	ksft_test_result_code(KSFT_SKIP, "no_feature", "feature missing");
	ksft_test_result_code(KSFT_PASS, "passes", "with a note");
	ksft_finished();
}

static void code_unknown(void)
{
	ksft_print_header();
	ksft_set_plan(4);
	ksft_test_result_code(5, "code_5", NULL);
	ksft_test_result_code(-1, "code_minus_1", "with message");
	ksft_test_result_code(42, "code_42", "%s", "");
	ksft_test_result_code(KSFT_PASS, "still_counting", NULL);
	ksft_finished();
}

static void code_odd_messages(void)
{
	char big[1200];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ksft_print_header();
	ksft_set_plan(5);
	ksft_test_result_code(KSFT_FAIL, "newline", "line one\nline two");
	ksft_test_result_code(KSFT_SKIP, "trailing_newline", "reason\n");
	ksft_test_result_code(KSFT_FAIL, "long", "%s", big);
	errno = ENOENT;
	ksft_test_result_code(KSFT_FAIL, "errno", "open: %m");
	ksft_test_result_code(KSFT_FAIL, "hash", "a # SKIP inside");
	ksft_finished();
}

static void directives(void)
{
	ksft_print_header();
	ksft_set_plan(4);
	ksft_test_result_xfail("expected failure\n");
	ksft_test_result_skip("not here %s\n", "today");
	ksft_test_result_error("went wrong\n");
	ksft_test_result_pass("fine\n");
	ksft_finished();
}

static void xpass_fn(void)
{
	ksft_print_header();
	ksft_set_plan(2);
#ifndef PROBE_NO_XPASS_FN
	ksft_test_result_xpass("unexpectedly fine\n");
#else
	ksft_print_msg("no ksft_test_result_xpass()\n");
#endif
	ksft_test_result_pass("fine\n");
	ksft_finished();
}

static void report_each(void)
{
	size_t i;

	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(codes) + 1);
	for (i = 0; i < ARRAY_SIZE(codes); i++)
		ksft_test_result_report(codes[i], "report %d\n", codes[i]);
	ksft_test_result_report(7, "report unknown\n");
	ksft_test_result_report(KSFT_PASS, "after unknown\n");
	ksft_finished();
}

static void messages(void)
{
	ksft_print_header();
	ksft_print_msg("hello %s %d\n", "world", 42);
	errno = EACCES;
	ksft_print_msg("errno says %m\n");
	errno = ENOENT;
	ksft_perror("open /nonexistent");
	ksft_set_plan(1);
	ksft_print_msg("no newline");
	ksft_print_msg("\n");
	ksft_test_result_pass("done\n");
	ksft_finished();
}

static void exit_skip_before_plan(void)
{
	ksft_print_header();
	ksft_print_msg("checking\n");
	ksft_exit_skip("feature %s missing\n", "xyz");
}

static void exit_skip_after_plan(void)
{
	ksft_print_header();
	ksft_set_plan(3);
	ksft_test_result_pass("first\n");
	ksft_exit_skip("rest cannot run\n");
}

static void exit_skip_after_result(void)
{
	ksft_print_header();
	ksft_test_result_pass("unplanned\n");
	ksft_exit_skip("stop\n");
}

static void exit_fail_msg(void)
{
	ksft_print_header();
	ksft_set_plan(3);
	ksft_test_result_pass("first\n");
	ksft_test_result_skip("second\n");
	ksft_exit_fail_msg("setup %d failed\n", 3);
}

static void exit_fail_perror(void)
{
	ksft_print_header();
	ksft_set_plan(2);
	errno = EPERM;
	ksft_exit_fail_perror("setuid");
}

static void finished_short(void)
{
	ksft_print_header();
	ksft_set_plan(5);
	ksft_test_result_pass("one\n");
	ksft_test_result_code(KSFT_SKIP, "two", "skipped");
	ksft_finished();
}

static void finished_long(void)
{
	ksft_print_header();
	ksft_set_plan(1);
	ksft_test_result_pass("one\n");
	ksft_test_result_pass("two\n");
	ksft_finished();
}

static void exits(const char *which)
{
	ksft_print_header();
	ksft_set_plan(1);
	ksft_test_result_pass("one\n");
	if (!strcmp(which, "pass"))
		ksft_exit_pass();
	if (!strcmp(which, "fail"))
		ksft_exit_fail();
	if (!strcmp(which, "xfail"))
		ksft_exit_xfail();
	if (!strcmp(which, "xpass"))
		ksft_exit_xpass();
	if (!strcmp(which, "true"))
		ksft_exit(1);
	ksft_exit(0);
}

static void counters(void)
{
	ksft_print_header();
	ksft_set_plan(6);
	ksft_test_result_pass("a\n");
	ksft_test_result_code(KSFT_FAIL, "b", NULL);
	ksft_test_result_code(KSFT_XFAIL, "c", NULL);
	ksft_test_result_code(KSFT_SKIP, "d", NULL);
	ksft_test_result_error("e\n");
	ksft_inc_pass_cnt();
	ksft_inc_fail_cnt();
	ksft_inc_xfail_cnt();
	ksft_inc_xpass_cnt();
	ksft_inc_xskip_cnt();
	ksft_inc_error_cnt();
	ksft_print_msg("pass %d fail %d xfail %d xpass %d skip %d error %d num %u\n",
		       ksft_get_pass_cnt(), ksft_get_fail_cnt(),
		       ksft_get_xfail_cnt(), ksft_get_xpass_cnt(),
		       ksft_get_xskip_cnt(), ksft_get_error_cnt(),
		       ksft_test_num());
	ksft_print_cnts();
	ksft_exit_pass();
}

/* Lines printed before a fork() must not be printed twice (line buffering) */
static void fork_child(void)
{
	int status;
	pid_t pid;

	ksft_print_header();
	ksft_set_plan(2);
	ksft_print_msg("before fork");
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
	ksft_print_msg("\n");
	ksft_test_result_code(KSFT_PASS, "parent", NULL);
	pid = fork();
	if (pid == 0) {
		ksft_test_result_code(KSFT_PASS, "child", NULL);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	ksft_inc_pass_cnt();
	ksft_finished();
}

/* errno seen by the caller's %m is the caller's, whatever the header did first */
static void errno_in_format(void)
{
	ksft_print_header();
	ksft_set_plan(3);
	errno = EBUSY;
	ksft_test_result_pass("busy: %m\n");
	errno = EAGAIN;
	ksft_test_result_code(KSFT_SKIP, "again", "%m");
	errno = EINVAL;
	ksft_test_result_fail("inval: %m\n");
	errno = E2BIG;
	ksft_exit_fail_msg("big: %m\n");
}

static const struct {
	const char *name;
	void (*fn)(void);
} scenarios[] = {
	{ "all_pass", all_pass },
	{ "one_fail", one_fail },
	{ "code_expected", code_expected },
	{ "code_unknown", code_unknown },
	{ "code_odd_messages", code_odd_messages },
	{ "directives", directives },
	{ "xpass_fn", xpass_fn },
	{ "report_each", report_each },
	{ "messages", messages },
	{ "exit_skip_before_plan", exit_skip_before_plan },
	{ "exit_skip_after_plan", exit_skip_after_plan },
	{ "exit_skip_after_result", exit_skip_after_result },
	{ "exit_fail_msg", exit_fail_msg },
	{ "exit_fail_perror", exit_fail_perror },
	{ "finished_short", finished_short },
	{ "finished_long", finished_long },
	{ "counters", counters },
	{ "fork_child", fork_child },
	{ "errno_in_format", errno_in_format },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc == 3 && !strcmp(argv[1], "code_each")) {
		code_each(argv[2]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "exit")) {
		exits(argv[2]);
		return 0;
	}
	for (i = 0; argc == 2 && i < ARRAY_SIZE(scenarios); i++) {
		if (!strcmp(argv[1], scenarios[i].name)) {
			scenarios[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "usage: %s SCENARIO | code_each msg|empty|null | exit pass|fail|xfail|xpass|true|false\n",
		argv[0]);
	return 100;
}
