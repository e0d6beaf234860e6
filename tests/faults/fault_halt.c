// SPDX-License-Identifier: GPL-2.0
/*
 * Reports one result, then halts the machine, as a kernel that cannot power
 * off does: the kernel stops but QEMU runs on, so only the console says so.
 */
#include <sys/reboot.h>
#include <unistd.h>
#include "kselftest.h"

int main(void)
{
	ksft_print_header();
	ksft_set_plan(2);
	ksft_test_result_pass("before_halt\n");
	sync();
	reboot(RB_HALT_SYSTEM);
	ksft_exit_fail_msg("reboot(RB_HALT_SYSTEM) returned: %m\n");
}
