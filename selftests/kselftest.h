/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal, header-only reporting helpers for the page-residency selftests.
 *
 * The function names, the TAP 13 lines they print, the counters they keep
 * and the exit codes follow the kernel's own selftest header (as it behaves
 * in Linux 7.3, under tools/testing/selftests/), so a test written against
 * this header builds and reports the same against the kernel's.
 * tests/test_kselftest_upstream.py checks that, line for line:
 *
 *	ksft_print_header();		"TAP version 13"
 *	ksft_set_plan(n);		"1..n"
 *	ksft_print_msg(fmt, ...);	"# ..."
 *	ksft_perror(what);		"# what: strerror (errno)"
 *	ksft_test_result(cond, fmt, ...);
 *	ksft_test_result_pass(fmt, ...);	"ok N ..."
 *	ksft_test_result_fail(fmt, ...);	"not ok N ..."
 *	ksft_test_result_skip(fmt, ...);	"ok N # SKIP ..."
 *	ksft_test_result_xfail(fmt, ...);	"ok N # XFAIL ..."
 *	ksft_test_result_xpass(fmt, ...);	"ok N # XPASS ..."
 *	ksft_test_result_error(fmt, ...);	"not ok N # error ..."
 *	ksft_test_result_report(code, fmt, ...);
 *	ksft_test_result_code(code, name, fmt, ...);
 *		"ok N name", "ok N name #  message", "ok N name # SKIP reason"
 *	ksft_finished();		exit, pass iff no planned test failed
 *	ksft_exit_pass() and friends	print the totals and exit
 *	ksft_exit_fail_msg(fmt, ...);	"Bail out! ..."
 *	ksft_exit_skip(fmt, ...);	"1..0 # SKIP ..." or "ok N # SKIP ..."
 *
 * The fmt strings of the ksft_test_result_*(), ksft_print_msg() and
 * ksft_exit_*() families carry their own trailing newline, while
 * ksft_test_result_code() ends the line itself.
 *
 * Where Linux 6.12's header behaves differently, this one follows 7.3:
 *  - ksft_finished() counts an XPASS as a success (6.12: a failure);
 *  - ksft_exit_skip() after a plan numbers its result N, not N + 1;
 *  - the totals are preceded by a "# N skipped test(s) detected." line
 *    when something was skipped (6.12 prints no such line);
 *  - ksft_test_result_xpass() exists and ksft_test_result_report() handles
 *    KSFT_XPASS (6.12 has neither).
 *
 * Unlike both, every function here leaves errno as it found it on return
 * (they only promise it for the caller's %m).
 */
#ifndef __KSELFTEST_H
#define __KSELFTEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
#endif

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_XFAIL	2
#define KSFT_XPASS	3
#define KSFT_SKIP	4

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

#ifndef __noreturn
#define __noreturn	_Noreturn
#endif

struct ksft_count {
	unsigned int ksft_pass;
	unsigned int ksft_fail;
	unsigned int ksft_xfail;
	unsigned int ksft_xpass;
	unsigned int ksft_xskip;
	unsigned int ksft_error;
};

static struct ksft_count ksft_cnt;
static unsigned int ksft_plan;

static inline unsigned int ksft_test_num(void)
{
	return ksft_cnt.ksft_pass + ksft_cnt.ksft_fail +
	       ksft_cnt.ksft_xfail + ksft_cnt.ksft_xpass +
	       ksft_cnt.ksft_xskip + ksft_cnt.ksft_error;
}

static inline void ksft_inc_pass_cnt(void) { ksft_cnt.ksft_pass++; }
static inline void ksft_inc_fail_cnt(void) { ksft_cnt.ksft_fail++; }
static inline void ksft_inc_xfail_cnt(void) { ksft_cnt.ksft_xfail++; }
static inline void ksft_inc_xpass_cnt(void) { ksft_cnt.ksft_xpass++; }
static inline void ksft_inc_xskip_cnt(void) { ksft_cnt.ksft_xskip++; }
static inline void ksft_inc_error_cnt(void) { ksft_cnt.ksft_error++; }

static inline int ksft_get_pass_cnt(void) { return ksft_cnt.ksft_pass; }
static inline int ksft_get_fail_cnt(void) { return ksft_cnt.ksft_fail; }
static inline int ksft_get_xfail_cnt(void) { return ksft_cnt.ksft_xfail; }
static inline int ksft_get_xpass_cnt(void) { return ksft_cnt.ksft_xpass; }
static inline int ksft_get_xskip_cnt(void) { return ksft_cnt.ksft_xskip; }
static inline int ksft_get_error_cnt(void) { return ksft_cnt.ksft_error; }

static inline void ksft_print_header(void)
{
	/*
	 * stdout is fully buffered when it is a pipe or a file.  Switch to
	 * line buffering so that a fork() does not print pending lines
	 * twice and a crash does not lose the last result.
	 */
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* a runner that nests our output prints the version line itself */
	if (!getenv("KSFT_TAP_LEVEL"))
		printf("TAP version 13\n");
}

static inline void ksft_set_plan(unsigned int plan)
{
	ksft_plan = plan;
	printf("1..%u\n", plan);
}

static inline void ksft_print_cnts(void)
{
	unsigned int run = ksft_test_num();

	/* 7.3 prints this hint; 6.12 does not */
	if (ksft_cnt.ksft_xskip)
		printf(
			"# %u skipped test(s) detected. Consider enabling relevant config options to improve coverage.\n",
			ksft_cnt.ksft_xskip);
	if (run != ksft_plan)
		printf("# Planned tests != run tests (%u != %u)\n",
		       ksft_plan, run);
	printf("# Totals: pass:%u fail:%u xfail:%u xpass:%u skip:%u error:%u\n",
	       ksft_cnt.ksft_pass, ksft_cnt.ksft_fail, ksft_cnt.ksft_xfail,
	       ksft_cnt.ksft_xpass, ksft_cnt.ksft_xskip, ksft_cnt.ksft_error);
}

/*
 * Print the caller's message; errno is set back to @saved_errno before the
 * message is formatted (so %m works) and again afterwards.
 */
static inline void ksft_vtail(int saved_errno, const char *fmt, va_list args)
{
	errno = saved_errno;
	vprintf(fmt, args);
	errno = saved_errno;
}

static inline __printf(1, 2) void ksft_print_msg(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list args;

	fputs("# ", stdout);
	va_start(args, fmt);
	ksft_vtail(saved_errno, fmt, args);
	va_end(args);
}

static inline void ksft_perror(const char *msg)
{
	ksft_print_msg("%s: %s (%d)\n", msg, strerror(errno), errno);
}

/*
 * Count one result in *@counter, then print "<status> N<directive>" and the
 * caller's message.  Every ksft_test_result_*() function is one of these.
 */
#define KSFT_RESULT_FN(fn, counter, status, directive)			\
static inline __printf(1, 2) void fn(const char *fmt, ...)		\
{									\
	int saved_errno = errno;					\
	va_list args;							\
									\
	ksft_cnt.counter++;						\
	printf("%s %u%s ", status, ksft_test_num(), directive);	\
	va_start(args, fmt);						\
	ksft_vtail(saved_errno, fmt, args);				\
	va_end(args);							\
}

KSFT_RESULT_FN(ksft_test_result_pass, ksft_pass, "ok", "")
KSFT_RESULT_FN(ksft_test_result_fail, ksft_fail, "not ok", "")
KSFT_RESULT_FN(ksft_test_result_xfail, ksft_xfail, "ok", " # XFAIL")
/* not in 6.12 */
KSFT_RESULT_FN(ksft_test_result_xpass, ksft_xpass, "ok", " # XPASS")
KSFT_RESULT_FN(ksft_test_result_skip, ksft_xskip, "ok", " # SKIP")
KSFT_RESULT_FN(ksft_test_result_error, ksft_error, "not ok", " # error")

#undef KSFT_RESULT_FN

/* Report a pass when @condition is true, a failure otherwise. */
#define ksft_test_result(condition, fmt, ...) do {			\
	if (!!(condition))						\
		ksft_test_result_pass(fmt, ##__VA_ARGS__);		\
	else								\
		ksft_test_result_fail(fmt, ##__VA_ARGS__);		\
} while (0)

/*
 * Report through one of the functions above, chosen by a KSFT_* code.  A
 * value that is no KSFT_* code reports nothing and counts nothing, as with
 * the kernel's header (6.12's also ignores KSFT_XPASS).
 */
#define ksft_test_result_report(code, fmt, ...) do {			\
	int ksft_code_ = (code);					\
									\
	if (ksft_code_ == KSFT_PASS)					\
		ksft_test_result_pass(fmt, ##__VA_ARGS__);		\
	else if (ksft_code_ == KSFT_FAIL)				\
		ksft_test_result_fail(fmt, ##__VA_ARGS__);		\
	else if (ksft_code_ == KSFT_XFAIL)				\
		ksft_test_result_xfail(fmt, ##__VA_ARGS__);		\
	else if (ksft_code_ == KSFT_XPASS)				\
		ksft_test_result_xpass(fmt, ##__VA_ARGS__);		\
	else if (ksft_code_ == KSFT_SKIP)				\
		ksft_test_result_skip(fmt, ##__VA_ARGS__);		\
} while (0)

/*
 * Report subtest @name with a KSFT_* @code on one line, which the function
 * ends itself.  @fmt may be NULL for no message.  A message (printed as it
 * is, without a newline of its own) follows a directive as its reason:
 * "ok N name # SKIP reason", also "# XFAIL" and "# XPASS".  For a pass or a
 * failure it follows "#" and two spaces, which marks it as diagnostic data
 * rather than a directive: "not ok N name #  message".  Any @code that is
 * not a KSFT_* one is reported and counted as a failure.
 */
static inline __printf(3, 4) void ksft_test_result_code(int code,
							const char *name,
							const char *fmt, ...)
{
	const char *status = "ok";
	const char *sep = fmt ? " #  " : "";
	int saved_errno = errno;
	va_list args;

	switch (code) {
	case KSFT_PASS:
		ksft_cnt.ksft_pass++;
		break;
	case KSFT_XFAIL:
		ksft_cnt.ksft_xfail++;
		sep = " # XFAIL ";
		break;
	case KSFT_XPASS:
		ksft_cnt.ksft_xpass++;
		sep = " # XPASS ";
		break;
	case KSFT_SKIP:
		ksft_cnt.ksft_xskip++;
		sep = " # SKIP ";
		break;
	default:		/* KSFT_FAIL, and any unknown code */
		ksft_cnt.ksft_fail++;
		status = "not ok";
		break;
	}

	printf("%s %u %s%s", status, ksft_test_num(), name, sep);
	if (fmt) {
		va_start(args, fmt);
		ksft_vtail(saved_errno, fmt, args);
		va_end(args);
	}
	putchar('\n');
	errno = saved_errno;
}

/* Print the totals and exit with @code: each ksft_exit_<result>() is one */
#define KSFT_EXIT_FN(fn, code)						\
static inline __noreturn void fn(void)					\
{									\
	ksft_print_cnts();						\
	exit(code);							\
}

KSFT_EXIT_FN(ksft_exit_pass, KSFT_PASS)
KSFT_EXIT_FN(ksft_exit_fail, KSFT_FAIL)
KSFT_EXIT_FN(ksft_exit_xfail, KSFT_XFAIL)
KSFT_EXIT_FN(ksft_exit_xpass, KSFT_XPASS)

/* Exit with success when @condition is true, with failure otherwise. */
#define ksft_exit(condition) do {					\
	if (!!(condition))						\
		ksft_exit_pass();					\
	else								\
		ksft_exit_fail();					\
} while (0)

/*
 * Exit with success iff the number of planned tests equals the number of
 * passes, XFAILs, XPASSes and skips: none failed or errored, none missing.
 * (6.12 leaves XPASS out of the sum, so an XPASS fails the program there.)
 */
#define ksft_finished()							\
	ksft_exit(ksft_plan == ksft_cnt.ksft_pass +			\
			       ksft_cnt.ksft_xfail +			\
			       ksft_cnt.ksft_xpass +			\
			       ksft_cnt.ksft_xskip)

static inline __printf(1, 2) __noreturn void ksft_exit_fail_msg(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list args;

	fputs("Bail out! ", stdout);
	va_start(args, fmt);
	ksft_vtail(saved_errno, fmt, args);
	va_end(args);

	ksft_print_cnts();
	exit(KSFT_FAIL);
}

static inline __noreturn void ksft_exit_fail_perror(const char *msg)
{
	ksft_exit_fail_msg("%s: %s (%d)\n", msg, strerror(errno), errno);
}

/*
 * Skip the rest of the program.  Before any plan or result this is the TAP
 * "skip everything" plan; afterwards it is reported as one more skipped
 * test, numbered like any other (6.12 numbers it one too high), and the
 * totals follow.
 */
static inline __printf(1, 2) __noreturn void ksft_exit_skip(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list args;

	if (ksft_plan || ksft_test_num()) {
		ksft_cnt.ksft_xskip++;
		printf("ok %u # SKIP ", ksft_test_num());
	} else {
		fputs("1..0 # SKIP ", stdout);
	}
	if (fmt) {
		va_start(args, fmt);
		ksft_vtail(saved_errno, fmt, args);
		va_end(args);
	}
	if (ksft_test_num())
		ksft_print_cnts();
	exit(KSFT_SKIP);
}

#endif /* __KSELFTEST_H */
