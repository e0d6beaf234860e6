// SPDX-License-Identifier: GPL-2.0
/* Runs after the faults: proves the run went on in a fresh VM. */
#include "kselftest.h"

int main(void)
{
	ksft_print_header();
	ksft_set_plan(2);
	ksft_test_result_pass("after_first\n");
	ksft_test_result_pass("after_second\n");
	ksft_finished();
}
