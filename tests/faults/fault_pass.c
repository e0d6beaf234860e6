// SPDX-License-Identifier: GPL-2.0
/* Two passing subtests: results that every fault must leave intact. */
#include "kselftest.h"

int main(void)
{
	ksft_print_header();
	ksft_set_plan(2);
	ksft_test_result_pass("first\n");
	ksft_test_result_pass("second\n");
	ksft_finished();
}
