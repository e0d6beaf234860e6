// SPDX-License-Identifier: GPL-2.0
/*
 * Taints the kernel the way a WARN() does.  Stock Debian kernels have no
 * lkdtm, so no WARN can be provoked on purpose; writing a taint flag to
 * /proc/sys/kernel/tainted (root may add flags) has the same effect on
 * what the orchestrator watches.  All subtests pass.
 */
#include <stdio.h>
#include "kselftest.h"

#define TAINT_WARN (1 << 9)

int main(void)
{
	FILE *f;

	ksft_print_header();
	ksft_set_plan(1);
	f = fopen("/proc/sys/kernel/tainted", "w");
	if (!f)
		ksft_exit_skip("cannot open /proc/sys/kernel/tainted\n");
	fprintf(f, "%d\n", TAINT_WARN);
	fclose(f);
	ksft_test_result_pass("tainted_with_warn_flag\n");
	ksft_finished();
}
