// SPDX-License-Identifier: GPL-2.0
/*
 * Private anonymous memory larger than the machine's RAM, under real
 * memory pressure: every page that holds data can still be found, and
 * reads back intact, the invariant a memory dumper such as CRIU relies on.
 *
 * About 1.25 x MemTotal of private anonymous pages are written, more than
 * fits, so reclaim swaps some out.  A page of private anonymous memory
 * that holds data is mapped or swapped, so its pagemap entry must be
 * PRESENT or SWAP (Documentation/admin-guide/mm/pagemap.rst: bit 63 page
 * present, bit 62 page swapped).  Every page is checked without being
 * touched, then checked again and read back while reading the others
 * keeps moving pages in and out of swap.
 *
 * For the scenario vm.page-cluster is the kernel's default (3): the guest
 * disables swap readahead for its single-page tests, but reading back
 * memory that does not fit is what readahead is for.  Skips without swap.
 */
#include "kselftest.h"
#include "residency_util.h"

static struct backend private_anon = {
	.name = "private_anon", .kind = MEM_PRIVATE_ANON,
};

int main(void)
{
	memory_pressure_main(&private_anon);
}
