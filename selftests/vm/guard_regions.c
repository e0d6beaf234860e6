// SPDX-License-Identifier: GPL-2.0
/*
 * Guard regions (MADV_GUARD_INSTALL, MADV_GUARD_REMOVE) as the residency
 * interfaces report them, on private anonymous memory (since 6.13, "mm:
 * madvise: implement lightweight guard page mechanism") and on shmem (since
 * 6.15, "mm: allow guard regions in file-backed and read-only mappings"):
 * MAP_SHARED|MAP_ANONYMOUS, a memfd, a tmpfs file and a SysV segment.
 *
 * A guard page is a pte marker: access raises SIGSEGV (uapi mman-common.h,
 * "fatal signal on access to range"), pagemap reads it as bit 58 ("pte is a
 * guard region (since 6.15)", pagemap.rst) with bit 62 (any non-present,
 * non-none pte reads as swapped), and PAGEMAP_SCAN as PAGE_IS_GUARD where
 * the kernel has it, which every pagemap assertion here cross-checks.
 *
 * Installing a guard zaps what the range maps: private anonymous data is
 * freed, swap included, and reads as zeros once the guard is removed;
 * shmem keeps its pages, swapped out or not, in the page cache, and they
 * read back after MADV_GUARD_REMOVE.  The marker lives in the page table,
 * so advice that drops or reclaims the pages under it (MADV_DONTNEED,
 * MADV_COLD, MADV_PAGEOUT, MADV_FREE), a hole punch and a truncation leave
 * it in place (upstream's selftests/mm/guard-regions.c holds the kernel to
 * the same).  MADV_POPULATE_(READ|WRITE) stops at a guard with EFAULT
 * (madvise(2): EFAULT when populating would have raised SIGSEGV), having
 * populated the pages before it.  mincore() looks a marker up like a hole:
 * in the page cache of a shmem mapping, as not resident in an anonymous
 * one (mm/mincore.c, "We need to do cache lookup too for markers").
 *
 * Whether the kernel has guard regions for a kind of memory is probed on
 * private anonymous memory first (setup_guard_install()).  Page-outs are
 * confirmed by the swap writes in /proc/vmstat, never by pagemap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES	6
/* pages 2 and 3 are guarded; 0, 1, 4 and 5 are their neighbours */
#define GUARD_FIRST	2
#define NR_GUARD	2

#ifndef MADV_FREE
#define MADV_FREE	8
#endif
#ifndef MADV_REMOVE
#define MADV_REMOVE	9
#endif
#ifndef MADV_COLD
#define MADV_COLD	20
#endif

#define ON_ANON		ON_KIND(MEM_PRIVATE_ANON)
#define ON_FD		(ON_KIND(MEM_MEMFD) | ON_KIND(MEM_TMPFS))
#define ON_SHMEM	(ON_FD | ON_KIND(MEM_SHARED_ANON) | ON_KIND(MEM_SYSV_SHM))
#define ON_ALL		(ON_ANON | ON_SHMEM)

static struct backend backends[NR_MEM_KINDS] = MEM_KIND_BACKENDS;

static size_t ps;

static char *guard_start(const struct region *r)
{
	return region_page(r, GUARD_FIRST);
}

/* Every guard page reads as one in pagemap, and a read of it faults */
static bool guard_holds(const char *when, const struct region *r)
{
	bool ok;
	size_t i;

	ok = pagemap_pages_are(when, r->addr, GUARD_FIRST, NR_GUARD,
			       PME_SWAP | PME_GUARD_REGION,
			       PME_PRESENT | PME_FILE | PME_UFFD_WP, NR_GUARD);
	for (i = GUARD_FIRST; i < GUARD_FIRST + NR_GUARD; i++) {
		if (page_read_faults(region_page(r, i)))
			continue;
		ksft_print_msg("%s: page %zu: a read did not fault (no SIGSEGV)\n",
			       when, i);
		ok = false;
	}
	return ok;
}

static int guard_remove(const struct region *r)
{
	if (madvise(guard_start(r), NR_GUARD * ps, MADV_GUARD_REMOVE))
		return setup_failed("madvise(MADV_GUARD_REMOVE)", errno);
	return KSFT_PASS;
}

/* Each guarded page reads @want (page_byte() of its index, or 0) */
static bool guarded_pages_read(const struct region *r, bool data)
{
	bool ok = true;
	size_t i;

	for (i = GUARD_FIRST; i < GUARD_FIRST + NR_GUARD; i++)
		ok &= page_filled_with(region_page(r, i), i,
				       data ? page_byte(i) : 0, false);
	return ok;
}

static int setup_written(struct region *r)
{
	int ret = region_setup(r, NR_PAGES);

	if (!ret)
		fill_pages(r->addr, NR_PAGES);
	return ret;
}

static int setup_guarded(struct region *r)
{
	int ret = setup_written(r);

	return ret ? ret : setup_guard_install(guard_start(r), NR_GUARD * ps);
}

/* The guarded pages written and paged out before the guard goes in */
static int setup_guarded_swapped(struct region *r)
{
	int ret;

	ret = region_written_paged_out(r, setup_written, GUARD_FIRST, NR_GUARD);
	return ret ? ret : setup_guard_install(guard_start(r), NR_GUARD * ps);
}

/* The guard is there, and its neighbours are untouched */
static int test_install_reads_guard_region(struct region *r)
{
	bool ok = guard_holds("after MADV_GUARD_INSTALL", r);

	ok &= pagemap_pages_are("neighbour of the guard", r->addr,
				GUARD_FIRST - 1, 1, PME_PRESENT, PME_GUARD_REGION, 1);
	ok &= pagemap_pages_are("neighbour of the guard", r->addr,
				GUARD_FIRST + NR_GUARD, 1, PME_PRESENT,
				PME_GUARD_REGION, 1);
	ok &= region_intact(r, GUARD_FIRST - 1);
	ok &= region_intact(r, GUARD_FIRST + NR_GUARD);
	return pass_if(ok);
}

/* MADV_GUARD_REMOVE leaves the ptes none: nothing is faulted back in */
static int test_remove_clears_guard_region(struct region *r)
{
	bool ok;
	size_t i;
	int ret;

	ret = guard_remove(r);
	if (ret)
		return ret;
	ok = pagemap_pages_are("after MADV_GUARD_REMOVE", r->addr, GUARD_FIRST,
			       NR_GUARD, 0, PME_NONE_MASK, NR_GUARD);
	for (i = GUARD_FIRST; i < GUARD_FIRST + NR_GUARD; i++) {
		if (!page_read_faults(region_page(r, i)))
			continue;
		ksft_print_msg("after MADV_GUARD_REMOVE: page %zu: a read faulted\n",
			       i);
		ok = false;
	}
	return pass_if(ok);
}

/* Private anonymous data under a new guard is zapped: zeros after removal */
static int test_install_zaps_data(struct region *r)
{
	int ret = guard_remove(r);

	return ret ? ret : pass_if(guarded_pages_read(r, false));
}

/*
 * shmem data under a guard stays in the page cache: SEEK_DATA still finds
 * it (lseek(2)), and it reads back after removal.
 */
static int test_install_keeps_data(struct region *r)
{
	off_t off = GUARD_FIRST * ps;
	bool ok = true;
	int ret;

	if (r->fd >= 0)
		ok &= seek_is(r->fd, off, SEEK_DATA, off, false);
	ret = guard_remove(r);
	if (ret)
		return ret;
	return pass_if(guarded_pages_read(r, true) && ok);
}

/*
 * Swapped-out pages under a new guard.  Private anonymous ones (@kept
 * false): their swap ptes are zapped, which frees the swap (smaps Swap:
 * 0 kB), and they read zeros after removal.  shmem (@kept): the swap
 * entries stay in the page cache (smaps Swap: counts them), and the data
 * reads back after removal.
 */
static int install_over_swapped(struct region *r, bool kept)
{
	unsigned long swap_kb, want_kb = kept ? NR_GUARD * ps / 1024 : 0;
	bool ok;
	int ret;

	ok = guard_holds("swapped out, then guarded", r);
	swap_kb = region_smaps_kb(r, "Swap");
	if (kept ? swap_kb < want_kb : swap_kb > 0) {
		ksft_print_msg("smaps Swap: %lu kB under the guard, expected %s%lu kB\n",
			       swap_kb, kept ? "at least " : "", want_kb);
		ok = false;
	}
	ret = guard_remove(r);
	if (ret)
		return ret;
	return pass_if(guarded_pages_read(r, kept) && ok);
}

static int test_install_zaps_swapped(struct region *r)
{
	return install_over_swapped(r, false);
}

static int test_install_keeps_swapped(struct region *r)
{
	return install_over_swapped(r, true);
}

/*
 * MADV_POPULATE_* over the whole region: EFAULT at the guard, the pages
 * before it populated, those after it untouched.
 */
static int populate_stops_at_guard(struct region *r, int advice)
{
	bool ok = true;
	int ret;

	ret = region_setup(r, NR_PAGES);
	if (!ret)
		ret = setup_guard_install(guard_start(r), NR_GUARD * ps);
	if (ret)
		return ret;
	ret = madvise(r->addr, r->len, advice);
	if (ret != -1 || errno != EFAULT) {
		ksft_print_msg(
			"madvise(MADV_POPULATE_%s) over a guard returned %d (%s), expected -1 (EFAULT)\n",
			advice == MADV_POPULATE_READ ? "READ" : "WRITE",
			ret, ret ? errno_name(errno) : "no error");
		ok = false;
	}
	ok &= pagemap_pages_are("before the guard", r->addr, 0, GUARD_FIRST,
				PME_PRESENT, PME_SWAP, GUARD_FIRST);
	ok &= guard_holds("after MADV_POPULATE", r);
	ok &= pagemap_pages_are("after the guard", r->addr,
				GUARD_FIRST + NR_GUARD,
				NR_PAGES - GUARD_FIRST - NR_GUARD, 0,
				PME_NONE_MASK, NR_PAGES);
	return pass_if(ok);
}

static int test_populate_read_efault(struct region *r)
{
	return populate_stops_at_guard(r, MADV_POPULATE_READ);
}

static int test_populate_write_efault(struct region *r)
{
	return populate_stops_at_guard(r, MADV_POPULATE_WRITE);
}

/* @advice over the whole region leaves the guard in place */
static int advice_keeps_guard(struct region *r, int advice, const char *name)
{
	char when[64];

	if (madvise(r->addr, r->len, advice))
		return setup_failed(name, errno);
	snprintf(when, sizeof(when), "after %s", name);
	return pass_if(guard_holds(when, r));
}

static int test_pageout_keeps_guard(struct region *r)
{
	return advice_keeps_guard(r, MADV_PAGEOUT, "MADV_PAGEOUT");
}

static int test_cold_keeps_guard(struct region *r)
{
	return advice_keeps_guard(r, MADV_COLD, "MADV_COLD");
}

static int test_dontneed_keeps_guard(struct region *r)
{
	return advice_keeps_guard(r, MADV_DONTNEED, "MADV_DONTNEED");
}

static int test_free_keeps_guard(struct region *r)
{
	return advice_keeps_guard(r, MADV_FREE, "MADV_FREE");
}

/*
 * Removing the file's pages (a hole punch, MADV_REMOVE where there is no
 * fd, or with @truncate a truncation to 0 and back) keeps the guard; once
 * it is removed, the pages read the zeros the removal left.
 */
static int removal_keeps_guard(struct region *r, bool truncate)
{
	bool ok;
	int ret;

	if (truncate) {
		if (ftruncate(r->fd, 0) || ftruncate(r->fd, r->len))
			return setup_failed("ftruncate", errno);
	} else if (r->fd >= 0) {
		ret = setup_fallocate(r->fd,
				      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      0, r->len);
		if (ret)
			return ret;
	} else if (madvise(r->addr, r->len, MADV_REMOVE)) {
		return setup_failed("madvise(MADV_REMOVE)", errno);
	}
	ok = guard_holds(truncate ? "after truncation" : "after the punch", r);
	ret = guard_remove(r);
	if (ret)
		return ret;
	return pass_if(guarded_pages_read(r, false) && ok);
}

static int test_punch_keeps_guard(struct region *r)
{
	return removal_keeps_guard(r, false);
}

static int test_truncate_keeps_guard(struct region *r)
{
	return removal_keeps_guard(r, true);
}

/*
 * mincore() of a guard: the page cache of a shmem mapping (the first
 * guarded page is cached, the second a hole), nothing for anonymous memory.
 */
static int test_mincore_guard(struct region *r)
{
	unsigned char vec[NR_GUARD];
	bool shmem = r->kind != MEM_PRIVATE_ANON;
	bool ok = true;
	size_t i;
	int ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	region_write(r, GUARD_FIRST);
	ret = setup_guard_install(guard_start(r), NR_GUARD * ps);
	if (ret)
		return ret;
	ok &= guard_holds("after MADV_GUARD_INSTALL", r);
	ret = mincore_range(guard_start(r), NR_GUARD * ps, vec);
	if (ret)
		return setup_failed("mincore", -ret);
	for (i = 0; i < NR_GUARD; i++) {
		bool want = shmem && i == 0;

		if ((vec[i] & 1) == want)
			continue;
		ksft_print_msg("mincore: guarded page %zu (%s) reads %d, expected %d\n",
			       GUARD_FIRST + i, i ? "never written" : "written",
			       vec[i] & 1, want);
		ok = false;
	}
	return pass_if(ok);
}

static const struct subtest subtests[] = {
	{ "install_reads_guard_region", test_install_reads_guard_region, ON_ALL,
	  setup_guarded },
	{ "remove_clears_guard_region", test_remove_clears_guard_region, ON_ALL,
	  setup_guarded },
	{ "install_zaps_data", test_install_zaps_data, ON_ANON, setup_guarded },
	{ "install_keeps_data", test_install_keeps_data, ON_SHMEM,
	  setup_guarded },
	{ "install_zaps_swapped", test_install_zaps_swapped, ON_ANON,
	  setup_guarded_swapped },
	{ "install_keeps_swapped", test_install_keeps_swapped, ON_SHMEM,
	  setup_guarded_swapped },
	{ "populate_read_efault", test_populate_read_efault, ON_ALL, NULL },
	{ "populate_write_efault", test_populate_write_efault, ON_ALL, NULL },
	{ "pageout_keeps_guard", test_pageout_keeps_guard, ON_ALL,
	  setup_guarded },
	{ "cold_keeps_guard", test_cold_keeps_guard, ON_ALL, setup_guarded },
	{ "dontneed_keeps_guard", test_dontneed_keeps_guard, ON_ALL,
	  setup_guarded },
	{ "free_keeps_guard", test_free_keeps_guard, ON_ANON, setup_guarded },
	{ "punch_keeps_guard", test_punch_keeps_guard, ON_SHMEM, setup_guarded },
	{ "truncate_keeps_guard", test_truncate_keeps_guard, ON_FD,
	  setup_guarded },
	{ "mincore_guard", test_mincore_guard, ON_ALL, NULL },
};

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.pagemap = true,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
