// SPDX-License-Identifier: GPL-2.0
/*
 * A memfd larger than the machine's RAM, under real memory pressure: every
 * page that holds data can still be found, and reads back intact, the
 * invariant a memory dumper such as CRIU relies on.
 *
 * About 1.25 x MemTotal of memfd pages are written, more than fits, so
 * reclaim swaps some out.  The page table entry of a swapped-out shmem
 * page is cleared (Documentation/admin-guide/mm/pagemap.rst, "Exceptions
 * for Shared Memory"), so a page with data must be PRESENT or SWAP in
 * pagemap, resident according to mincore(), or data according to
 * lseek(SEEK_DATA) on the memfd; and as that document names SEEK_DATA as
 * the interface that tells pages present or swapped out from holes,
 * SEEK_DATA must find every page (lseek(2): "the next location in the
 * file greater than or equal to offset containing data").  Every page is
 * checked without being touched, then checked again and read back while
 * reading the others keeps moving pages in and out of swap.
 *
 * For the scenario vm.page-cluster is the kernel's default (3): the guest
 * disables swap readahead for its single-page tests, but reading back
 * memory that does not fit is what readahead is for.  Skips without swap.
 */
#include "kselftest.h"
#include "residency_util.h"

/* a memfd that cannot be created fails the subtest */
static struct backend memfd = {
	.name = "memfd", .kind = MEM_MEMFD, .required = true,
};

int main(void)
{
	memory_pressure_main(&memfd);
}
