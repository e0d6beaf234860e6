// SPDX-License-Identifier: GPL-2.0
/* Reports one result, then never finishes. */
#include <unistd.h>
#include "kselftest.h"

int main(void)
{
	ksft_print_header();
	ksft_set_plan(2);
	ksft_test_result_pass("before_hang\n");
	for (;;)
		pause();
}
