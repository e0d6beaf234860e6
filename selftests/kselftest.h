/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal, header-only reporting helpers for the page-residency selftests.
 *
 * The function names and the TAP 13 lines they print follow the API that
 * tests under tools/testing/selftests use, so a test written against this
 * header also builds against the kernel's own selftest header:
 *
 *	ksft_print_header();		"TAP version 13"
 *	ksft_set_plan(n);		"1..n"
 *	ksft_print_msg(fmt, ...);	"# ..."
 *	ksft_test_result(cond, fmt, ...);
 *	ksft_test_result_pass(fmt, ...);	"ok N ..."
 *	ksft_test_result_fail(fmt, ...);	"not ok N ..."
 *	ksft_test_result_skip(fmt, ...);	"ok N # SKIP ..."
 *	ksft_test_result_xfail(fmt, ...);	"ok N # XFAIL ..."
 *	ksft_test_result_xpass(fmt, ...);	"ok N # XPASS ..."
 *	ksft_test_result_error(fmt, ...);	"not ok N # error ..."
 *	ksft_test_result_code(code, name, fmt, ...);
 *					"ok N name # SKIP reason" and so on
 *	ksft_finished();		exit, pass iff every planned test passed
 *	ksft_exit_pass() and friends	print the totals and exit
 *	ksft_exit_fail_msg(fmt, ...);	"Bail out! ..."
 *	ksft_exit_skip(fmt, ...);	"1..0 # SKIP ..." or "ok N # SKIP ..."
 *
 * As with the kernel's header, the fmt strings of the ksft_test_result_*()
 * and ksft_print_msg() family carry their own trailing newline, while
 * ksft_test_result_code() appends it itself.  Tests in this suite report
 * every result through ksft_test_result_code() so that SKIP and XFAIL lines
 * carry the subtest name as well as the reason.
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
	if (ksft_plan != ksft_test_num())
		printf("# Planned tests != run tests (%u != %u)\n",
		       ksft_plan, ksft_test_num());
	printf("# Totals: pass:%u fail:%u xfail:%u xpass:%u skip:%u error:%u\n",
	       ksft_cnt.ksft_pass, ksft_cnt.ksft_fail, ksft_cnt.ksft_xfail,
	       ksft_cnt.ksft_xpass, ksft_cnt.ksft_xskip, ksft_cnt.ksft_error);
}

/*
 * Print "<prefix><number><infix>" followed by the caller's message.  errno
 * is preserved so that callers may use %m in their format.
 */
static inline void ksft_vreport(const char *prefix, unsigned int num,
				const char *infix, const char *fmt,
				va_list args)
{
	int saved_errno = errno;

	printf("%s%u%s", prefix, num, infix);
	errno = saved_errno;
	vprintf(fmt, args);
	errno = saved_errno;
}

static inline __printf(1, 2) void ksft_print_msg(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list args;

	printf("# ");
	va_start(args, fmt);
	errno = saved_errno;
	vprintf(fmt, args);
	va_end(args);
	errno = saved_errno;
}

static inline void ksft_perror(const char *msg)
{
	ksft_print_msg("%s: %s (%d)\n", msg, strerror(errno), errno);
}

static inline __printf(1, 2) void ksft_test_result_pass(const char *fmt, ...)
{
	va_list args;

	ksft_cnt.ksft_pass++;
	va_start(args, fmt);
	ksft_vreport("ok ", ksft_test_num(), " ", fmt, args);
	va_end(args);
}

static inline __printf(1, 2) void ksft_test_result_fail(const char *fmt, ...)
{
	va_list args;

	ksft_cnt.ksft_fail++;
	va_start(args, fmt);
	ksft_vreport("not ok ", ksft_test_num(), " ", fmt, args);
	va_end(args);
}

/* Report a pass when @condition is true, a failure otherwise. */
#define ksft_test_result(condition, fmt, ...) do {			\
	if (!!(condition))						\
		ksft_test_result_pass(fmt, ##__VA_ARGS__);		\
	else								\
		ksft_test_result_fail(fmt, ##__VA_ARGS__);		\
} while (0)

static inline __printf(1, 2) void ksft_test_result_xfail(const char *fmt, ...)
{
	va_list args;

	ksft_cnt.ksft_xfail++;
	va_start(args, fmt);
	ksft_vreport("ok ", ksft_test_num(), " # XFAIL ", fmt, args);
	va_end(args);
}

static inline __printf(1, 2) void ksft_test_result_xpass(const char *fmt, ...)
{
	va_list args;

	ksft_cnt.ksft_xpass++;
	va_start(args, fmt);
	ksft_vreport("ok ", ksft_test_num(), " # XPASS ", fmt, args);
	va_end(args);
}

static inline __printf(1, 2) void ksft_test_result_skip(const char *fmt, ...)
{
	va_list args;

	ksft_cnt.ksft_xskip++;
	va_start(args, fmt);
	ksft_vreport("ok ", ksft_test_num(), " # SKIP ", fmt, args);
	va_end(args);
}

static inline __printf(1, 2) void ksft_test_result_error(const char *fmt, ...)
{
	va_list args;

	ksft_cnt.ksft_error++;
	va_start(args, fmt);
	ksft_vreport("not ok ", ksft_test_num(), " # error ", fmt, args);
	va_end(args);
}

/* Report through one of the functions above, chosen by a KSFT_* code. */
#define ksft_test_result_report(code, fmt, ...) do {			\
	switch (code) {							\
	case KSFT_PASS:							\
		ksft_test_result_pass(fmt, ##__VA_ARGS__);		\
		break;							\
	case KSFT_FAIL:							\
		ksft_test_result_fail(fmt, ##__VA_ARGS__);		\
		break;							\
	case KSFT_XFAIL:						\
		ksft_test_result_xfail(fmt, ##__VA_ARGS__);		\
		break;							\
	case KSFT_XPASS:						\
		ksft_test_result_xpass(fmt, ##__VA_ARGS__);		\
		break;							\
	case KSFT_SKIP:							\
		ksft_test_result_skip(fmt, ##__VA_ARGS__);		\
		break;							\
	default:							\
		ksft_test_result_error(fmt, ##__VA_ARGS__);		\
		break;							\
	}								\
} while (0)

/*
 * Report subtest @name with a KSFT_* @code.  The optional message (no
 * trailing newline needed) becomes the reason of a SKIP, XFAIL or XPASS
 * directive; for a pass or a failure it is printed as a "# name: ..."
 * diagnostic line just before the result, keeping the result line itself
 * free of anything but the name.
 */
static inline __printf(3, 4) void ksft_test_result_code(int code,
							const char *name,
							const char *fmt, ...)
{
	const char *status = "ok";
	const char *directive = NULL;
	int saved_errno = errno;
	char msg[512] = "";
	va_list args;

	if (fmt) {
		va_start(args, fmt);
		vsnprintf(msg, sizeof(msg), fmt, args);
		va_end(args);
		/* a stray trailing newline would break the result line */
		msg[strcspn(msg, "\n")] = '\0';
	}

	switch (code) {
	case KSFT_PASS:
		ksft_cnt.ksft_pass++;
		break;
	case KSFT_FAIL:
		ksft_cnt.ksft_fail++;
		status = "not ok";
		break;
	case KSFT_XFAIL:
		ksft_cnt.ksft_xfail++;
		directive = "XFAIL";
		break;
	case KSFT_XPASS:
		ksft_cnt.ksft_xpass++;
		directive = "XPASS";
		break;
	case KSFT_SKIP:
		ksft_cnt.ksft_xskip++;
		directive = "SKIP";
		break;
	default:
		ksft_cnt.ksft_error++;
		status = "not ok";
		directive = "error";
		break;
	}

	if (directive) {
		printf("%s %u %s # %s%s%s\n", status, ksft_test_num(), name,
		       directive, msg[0] ? " " : "", msg);
	} else {
		if (msg[0])
			printf("# %s: %s\n", name, msg);
		printf("%s %u %s\n", status, ksft_test_num(), name);
	}
	errno = saved_errno;
}

static inline __noreturn void ksft_exit_pass(void)
{
	ksft_print_cnts();
	exit(KSFT_PASS);
}

static inline __noreturn void ksft_exit_fail(void)
{
	ksft_print_cnts();
	exit(KSFT_FAIL);
}

static inline __noreturn void ksft_exit_xfail(void)
{
	ksft_print_cnts();
	exit(KSFT_XFAIL);
}

static inline __noreturn void ksft_exit_xpass(void)
{
	ksft_print_cnts();
	exit(KSFT_XPASS);
}

/* Exit with success when @condition is true, with failure otherwise. */
#define ksft_exit(condition) do {					\
	if (!!(condition))						\
		ksft_exit_pass();					\
	else								\
		ksft_exit_fail();					\
} while (0)

/*
 * Exit with success iff every planned test was run and none of them failed
 * or errored (skips, XFAILs and XPASSes count as fine).
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

	printf("Bail out! ");
	va_start(args, fmt);
	errno = saved_errno;
	vprintf(fmt, args);
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
 * test so that the numbering stays consistent.
 */
static inline __printf(1, 2) __noreturn void ksft_exit_skip(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list args;

	if (ksft_plan || ksft_test_num()) {
		ksft_cnt.ksft_xskip++;
		printf("ok %u # SKIP ", ksft_test_num());
	} else {
		printf("1..0 # SKIP ");
	}
	if (fmt) {
		va_start(args, fmt);
		errno = saved_errno;
		vprintf(fmt, args);
		va_end(args);
	}
	if (ksft_test_num())
		ksft_print_cnts();
	exit(KSFT_SKIP);
}

#endif /* __KSELFTEST_H */
