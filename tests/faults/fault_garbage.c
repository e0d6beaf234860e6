// SPDX-License-Identifier: GPL-2.0
/* Prints garbage and TAP that stops in the middle of a result line. */
#include <stdio.h>

int main(void)
{
	printf("TAP version 13\n1..3\n\x01\x7f garbage \xff\xfe\n");
	printf("ok 1 fine\n#### ok, then: ok\nnot o");
	fflush(stdout);
	return 0;
}
