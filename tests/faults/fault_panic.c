// SPDX-License-Identifier: GPL-2.0
/* Reports one result, then panics the kernel through SysRq 'c'. */
#include <fcntl.h>
#include <unistd.h>
#include "kselftest.h"

int main(void)
{
	int fd;

	ksft_print_header();
	ksft_set_plan(3);
	ksft_test_result_pass("before_panic\n");
	fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (fd < 0)
		ksft_exit_fail_msg("cannot open /proc/sysrq-trigger\n");
	if (write(fd, "c", 1) != 1)
		ksft_exit_fail_msg("SysRq 'c' did not panic the kernel\n");
	ksft_test_result_fail("survived_panic\n");
	ksft_finished();
}
