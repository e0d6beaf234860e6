// SPDX-License-Identifier: GPL-2.0
/*
 * Punching a hole over shmem that is swapped out, and truncating it.
 *
 * A shmem page that MADV_PAGEOUT wrote to swap is a swap entry in the
 * file's page cache (its folio may still sit in the swap cache).  Removing
 * the range must drop those entries as it drops resident pages:
 * fallocate(FALLOC_FL_PUNCH_HOLE) and ftruncate() where there is a file
 * descriptor (memfd, a tmpfs file), MADV_REMOVE where there is none
 * (MAP_SHARED|MAP_ANONYMOUS, a SysV segment).  fallocate(2), madvise(2) and
 * truncate(2) say the range then reads as zeros; lseek(2) says SEEK_HOLE
 * finds the hole; mincore(2) and pagemap.rst say a page that is neither in
 * memory nor in swap is not resident and reads none.  The swap the pages
 * held must be free again: smaps Swap: no longer counts it and SwapFree in
 * /proc/meminfo comes back.
 *
 * SwapFree moves in batches: swap slots go to and come from per-CPU caches
 * of SWAP_SLOTS_CACHE_SIZE (64) slots on kernels that have them (6.1,
 * 6.12), so it is held to within that many slots per CPU of its value
 * before the page-out.  A folio still under writeback keeps its slot until
 * reclaim finds it (folio_free_swap() leaves it alone), which on 6.1 left
 * every slot of a tmpfs punch taken; so the removal waits until
 * /proc/meminfo counts no page under writeback.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES		256
#define SLOTS_PER_CPU		64	/* SWAP_SLOTS_CACHE_SIZE */

#ifndef MADV_REMOVE
#define MADV_REMOVE		9
#endif

enum { BACKEND_MEMFD, BACKEND_TMPFS, BACKEND_SHARED_ANON, BACKEND_SYSV,
	NR_BACKENDS };

#define ON_MEMFD	(1U << BACKEND_MEMFD)
#define ON_TMPFS	(1U << BACKEND_TMPFS)
#define ON_FILES	(ON_MEMFD | ON_TMPFS)
#define ON_NO_FD	((1U << BACKEND_SHARED_ANON) | (1U << BACKEND_SYSV))

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS },
	[BACKEND_SHARED_ANON] = { .name = "shared_anon",
				  .kind = MEM_SHARED_ANON },
	[BACKEND_SYSV] = { .name = "sysv", .kind = MEM_SYSV_SHM },
};

static long swap_free_kb(void)
{
	unsigned long kb;

	return proc_field_kb("/proc/meminfo", "SwapFree", &kb) ? -1 : (long)kb;
}

/* Wait, up to two seconds, until no page is under writeback */
static void wait_writeback(void)
{
	unsigned long kb = 0;
	int i;

	for (i = 0; i < 200; i++) {
		if (proc_field_kb("/proc/meminfo", "Writeback", &kb) || !kb)
			break;
		usleep(10000);
	}
	if (i)
		ksft_print_msg("waited %d ms for writeback to end (Writeback: %lu kB)\n",
			       i * 10, kb);
}

/* How to take the pages away: a KSFT code, the call printed on failure */
static int remove_range(struct region *r, bool truncate)
{
	size_t len = NR_PAGES * sys_pagesize();

	if (truncate) {
		if (ftruncate(r->fd, 0) || ftruncate(r->fd, len))
			return setup_failed("ftruncate", errno);
		return KSFT_PASS;
	}
	if (r->fd >= 0) {
		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      0, len))
			return setup_failed("fallocate(PUNCH_HOLE)", errno);
		return KSFT_PASS;
	}
	if (madvise(r->addr, len, MADV_REMOVE))
		return setup_failed("madvise(MADV_REMOVE)", errno);
	return KSFT_PASS;
}

/* mincore() of the whole range: no page may be resident */
static bool none_resident(const struct region *r)
{
	unsigned char vec[NR_PAGES];
	size_t i, resident = 0;
	int ret;

	ret = mincore_range(r->addr, NR_PAGES * sys_pagesize(), vec);
	if (ret) {
		ksft_print_msg("mincore: %s\n", errno_name(ret));
		return false;
	}
	for (i = 0; i < NR_PAGES; i++)
		resident += vec[i] & 1;
	if (resident)
		ksft_print_msg("mincore: %zu of %d removed pages still resident\n",
			       resident, NR_PAGES);
	return !resident;
}

/* Every removed page reads zeros; the first that does not is printed */
static bool reads_zeros(const struct region *r)
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		if (!page_filled_with(region_page(r, i), i, 0, false))
			return false;
	return true;
}

/*
 * Write NR_PAGES, page them all out, remove them with a hole punch (or
 * MADV_REMOVE, or with @truncate a truncation), and check what every
 * interface then says of them.
 */
static int removed_after_swapout(struct region *r, bool truncate)
{
	long before, swapped, after, slack;
	unsigned long swap_kb;
	bool ok = true;
	int ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	before = swap_free_kb();
	fill_pages(r->addr, NR_PAGES);
	ret = region_pageout(r, 0, NR_PAGES);
	if (ret)
		return ret;
	swapped = swap_free_kb();
	ksft_print_msg("paged out: smaps Swap: %lu kB, SwapFree %ld -> %ld kB\n",
		       region_smaps_kb(r, "Swap"), before, swapped);

	wait_writeback();
	ret = remove_range(r, truncate);
	if (ret)
		return ret;

	ok &= pagemap_pages_are("after removal", r->addr, 0, NR_PAGES, 0,
				PME_NONE_MASK, 1);
	ok &= none_resident(r);
	swap_kb = region_smaps_kb(r, "Swap");
	if (swap_kb) {
		ksft_print_msg("smaps Swap: %lu kB after the removal, expected 0\n",
			       swap_kb);
		ok = false;
	}
	if (r->fd >= 0) {
		ok &= seek_is(r->fd, 0, SEEK_HOLE, 0, false);
		ok &= seek_is(r->fd, 0, SEEK_DATA, -ENXIO, false);
	}
	after = swap_free_kb();
	slack = SLOTS_PER_CPU * (sys_pagesize() / 1024) *
		sysconf(_SC_NPROCESSORS_ONLN);
	ksft_print_msg(
		"SwapFree %ld kB before the page-out, %ld kB after the removal (allowed shortfall %ld kB)\n",
		before, after, slack);
	if (before < 0 || after < 0 || after < before - slack) {
		ksft_print_msg("the swap of the removed pages did not come back\n");
		ok = false;
	}
	ok &= reads_zeros(r);
	return pass_if(ok);
}

static int test_punch_swapped(struct region *r)
{
	return removed_after_swapout(r, false);
}

static int test_truncate_swapped(struct region *r)
{
	return removed_after_swapout(r, true);
}

static const struct subtest subtests[] = {
	{ "punch_swapped_frees_swap", test_punch_swapped, ON_FILES | ON_NO_FD },
	{ "truncate_swapped_frees_swap", test_truncate_swapped, ON_FILES },
};

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.pagemap = true,
};

int main(void)
{
	suite_main(&suite);
}
