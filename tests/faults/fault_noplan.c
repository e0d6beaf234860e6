// SPDX-License-Identifier: GPL-2.0
/* Passing results, but no plan: nobody can tell whether some are missing. */
#include <stdio.h>

int main(void)
{
	printf("TAP version 13\nok 1 a\nok 2 b\n");
	return 0;
}
