// SPDX-License-Identifier: GPL-2.0
/* Reports two of four results, then dies of SIGSEGV. */
#include <signal.h>
#include <stdio.h>
#include "kselftest.h"

int main(void)
{
	ksft_print_header();
	ksft_set_plan(4);
	ksft_test_result_pass("one\n");
	ksft_test_result_pass("two\n");
	fflush(stdout);
	raise(SIGSEGV);
	return 0;
}
