// SPDX-License-Identifier: GPL-2.0
/*
 * The PAGEMAP_SCAN ioctl on /proc/self/pagemap (Linux 6.7+), as CRIU and
 * userspace dirty tracking use it, on private anonymous memory and on
 * shmem (MAP_SHARED|MAP_ANONYMOUS, memfd, a tmpfs file, a SysV segment).
 *
 * What each subtest holds the kernel to is in
 * Documentation/admin-guide/mm/pagemap.rst, "Pagemap Scan IOCTL" (quoted
 * at each subtest) and, for shmem, "Exceptions for Shared Memory": the
 * page table entry of a swapped-out shmem page is cleared, so PAGEMAP_SCAN
 * reports it neither PRESENT nor SWAPPED, as read(2) of pagemap does.
 *
 * PAGE_IS_WRITTEN has changed meaning twice, so it is held to what each
 * kernel says of itself:
 *  - 6.7: a page is WRITTEN when its pte is not uffd-wp write-protected.
 *  - "fs/proc/task_mmu: fix PAGEMAP_SCAN written state for unpopulated
 *    ptes" and "... for PMD holes" (Debian 6.12.105, 7.2): an unpopulated
 *    pte of a VMA registered for uffd-wp is WRITTEN (it carries no marker),
 *    and the fast path (category_mask == return_mask == PAGE_IS_WRITTEN)
 *    and the generic one agree page by page.
 *  - 7.3 (with PAGE_IS_ACCESSED, new for userfaultfd RWP in the same release):
 *    pagemap.rst "PAGE_IS_WRITTEN - Page in a UFFDIO_REGISTER_MODE_WP VMA
 *    has been written to since it was write-protected.  Only reported
 *    inside such VMAs."  A kernel that accepts PAGE_IS_ACCESSED is held to
 *    that sentence; one that does not, to the 6.7 meaning.
 *
 * The whole program skips where the ioctl is ENOTTY (before 6.7); any
 * other error of the probe is a failure.  Page-outs are confirmed by the
 * swap writes they cause (/proc/vmstat), not by pagemap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kernel-page-flags.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES		16

enum { BACKEND_ANON, BACKEND_SHARED_ANON, BACKEND_MEMFD, BACKEND_TMPFS,
	BACKEND_SYSV, NR_BACKENDS };

#define ON_ANON		(1U << BACKEND_ANON)
#define ON_SHMEM	((1U << BACKEND_SHARED_ANON) | (1U << BACKEND_MEMFD) | \
			 (1U << BACKEND_TMPFS) | (1U << BACKEND_SYSV))
#define ON_ALL		(ON_ANON | ON_SHMEM)

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_ANON] = { .name = "anon", .kind = MEM_PRIVATE_ANON },
	[BACKEND_SHARED_ANON] = { .name = "shared_anon",
				  .kind = MEM_SHARED_ANON },
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS },
	[BACKEND_SYSV] = { .name = "sysv", .kind = MEM_SYSV_SHM },
};

/* Pages [first, end) of a region, with the categories PAGEMAP_SCAN returns */
struct pages {
	size_t first, end;
	uint64_t cats;
};

static bool is_shmem(const struct region *r)
{
	return r->kind != MEM_PRIVATE_ANON;
}

/*
 * PAGEMAP_SCAN of pages [@first, @end) of @r with the masks and flags of
 * @arg, into @vec of @vec_len entries.  Returns the ioctl's result (regions
 * or a negative errno); *@walk_end gets walk_end as a page index.
 */
static long scan(const struct region *r, size_t first, size_t end,
		 struct pm_scan_arg *arg, struct page_region *vec,
		 size_t vec_len, size_t *walk_end)
{
	long ret;

	arg->start = (uintptr_t)region_page(r, first);
	arg->end = (uintptr_t)region_page(r, end);
	arg->vec = (uintptr_t)vec;
	arg->vec_len = vec ? vec_len : 0;
	arg->walk_end = 0;
	ret = pagemap_scan_ioctl(arg);
	if (walk_end)
		*walk_end = region_page_index(r, arg->walk_end);
	return ret;
}

static void print_regions(const char *what, const struct pages *p, size_t n)
{
	char buf[512];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < sizeof(buf); i++)
		used += snprintf(buf + used, sizeof(buf) - used,
				 "%s[%zu,%zu) 0x%llx", i ? " " : "",
				 p[i].first, p[i].end,
				 (unsigned long long)p[i].cats);
	ksft_print_msg("%s: %zu region(s) %s\n", what, n, n ? buf : "");
}

/*
 * Does the scan that returned @ret regions into @vec say exactly @want
 * (@nr_want regions, page indices into @r)?  Both are printed if not.
 */
static bool regions_are(const char *when, const struct region *r,
			const struct page_region *vec, long ret,
			const struct pages *want, size_t nr_want)
{
	struct pages got[NR_PAGES];
	bool ok;
	long i;

	if (ret < 0) {
		ksft_print_msg("%s: PAGEMAP_SCAN: %s\n", when,
			       errno_name((int)-ret));
		return false;
	}
	ok = (size_t)ret == nr_want;
	for (i = 0; i < ret && i < NR_PAGES; i++) {
		got[i].first = region_page_index(r, vec[i].start);
		got[i].end = region_page_index(r, vec[i].end);
		got[i].cats = vec[i].categories;
		if (ok && (got[i].first != want[i].first ||
			   got[i].end != want[i].end ||
			   got[i].cats != want[i].cats))
			ok = false;
	}
	if (!ok) {
		ksft_print_msg("%s: PAGEMAP_SCAN returned other regions than expected\n",
			       when);
		print_regions("  returned", got, ret < NR_PAGES ? ret : NR_PAGES);
		print_regions("  expected", want, nr_want);
	}
	return ok;
}

static bool walk_end_is(const char *when, size_t got, size_t want)
{
	if (got == want)
		return true;
	ksft_print_msg("%s: walk_end at page %zu, expected page %zu\n", when,
		       got, want);
	return false;
}

/*
 * The row setup of the subtests that need swap: pages 0 and 1 of a fresh
 * mapping written, the second one for a page-out.
 */
static int setup_two_written(struct region *r)
{
	int ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = region_setup(r, NR_PAGES);
	if (!ret) {
		region_write(r, 0);
		region_write(r, 1);
	}
	return ret;
}

/*
 * The masks CRIU dumps private memory with (criu/pagemap-cache.c since
 * 2023): the pages that are present or swapped, minus the zero page and
 * file pages, with their soft-dirty bit (and the guard bit where the
 * kernel has it, to skip guard regions).
 */
enum { CRIU_CLEAN, CRIU_SWAPPED, CRIU_UNTOUCHED, CRIU_READ, CRIU_DIRTY,
	CRIU_GUARD, CRIU_PAGES };

static int criu_scan(const struct region *r, struct page_region *vec)
{
	struct pm_scan_arg arg = {
		.category_inverted = PAGE_IS_PFNZERO | PAGE_IS_FILE,
		.category_mask = PAGE_IS_PFNZERO | PAGE_IS_FILE,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED |
			       PAGE_IS_SOFT_DIRTY,
	};

	if (pagemap_scan_has(PAGE_IS_GUARD))
		arg.return_mask |= PAGE_IS_GUARD;
	return scan(r, 0, NR_PAGES, &arg, vec, NR_PAGES, NULL);
}

/*
 * A guard page for the CRIU layout where PAGEMAP_SCAN reports guard
 * regions; *@installed says whether there is one.  A KSFT code.
 */
static int criu_guard(const struct region *r, bool *installed)
{
	int ret;

	*installed = false;
	if (!pagemap_scan_has(PAGE_IS_GUARD)) {
		ksft_print_msg("no guard page: PAGEMAP_SCAN lacks PAGE_IS_GUARD\n");
		return KSFT_PASS;
	}
	ret = setup_guard_install(region_page(r, CRIU_GUARD), sys_pagesize());
	*installed = ret == KSFT_PASS;
	if (ret != KSFT_SKIP)
		return ret;
	/*
	 * PAGE_IS_GUARD came before guard regions on shmem (6.15): the layout
	 * goes on without its guard page where the kernel predates them.
	 */
	ksft_print_msg("no guard page: %s\n", skip_reason);
	skip_reason[0] = '\0';
	return KSFT_PASS;
}

/*
 * On a private anonymous mapping a read fault maps the shared zero page
 * (mm/memory.c do_anonymous_page()); confirmed, where the PFN is visible,
 * by /proc/kpageflags rather than by PAGEMAP_SCAN, which is under test.
 */
static bool zero_page_mapped(const struct region *r, size_t idx)
{
	uint64_t entry, flags;
	int ret;

	ret = pagemap_read(pagemap_fd, region_page(r, idx), &entry);
	if (ret || !(entry & PME_PRESENT)) {
		ksft_print_msg("page %zu, read-faulted: pagemap entry 0x%llx (%s)\n",
			       idx, (unsigned long long)entry, errno_name(ret));
		return false;
	}
	if (!(entry & PME_PFN_MASK) ||
	    kpageflags_read(entry & PME_PFN_MASK, &flags))
		return true;	/* cannot be told here: nothing to confirm */
	if (flags & (1ULL << KPF_ZERO_PAGE))
		return true;
	ksft_print_msg(
		"page %zu, read-faulted: PFN 0x%llx is not the zero page (kpageflags 0x%llx)\n",
		idx, (unsigned long long)(entry & PME_PFN_MASK),
		(unsigned long long)flags);
	return false;
}

/*
 * pagemap.rst lists the categories ("PAGE_IS_PRESENT - Page is present in
 * the memory", "PAGE_IS_SWAPPED - Page is in swapped", "PAGE_IS_PFNZERO -
 * Page has zero PFN", "PAGE_IS_SOFT_DIRTY - Page is soft-dirty",
 * "PAGE_IS_GUARD - Page is a part of a guard region") and how the masks
 * select pages ("category_mask", "category_anyof_mask",
 * "category_inverted" and "return_mask").  On a page written before
 * clear_refs, one written and paged out, one never touched, one only read,
 * one written after clear_refs and a guard page, CRIU's masks must return
 * exactly the present, swapped and guard pages of private anonymous memory
 * with the right soft-dirty bits, and of shmem, whose present pages are
 * FILE and whose swapped-out page has a cleared pte ("Exceptions for
 * Shared Memory"), only the guard page.
 */
static int test_criu_masks(struct region *r)
{
	struct page_region vec[NR_PAGES];
	struct pages want[4];
	uint64_t guard_cats = PAGE_IS_SWAPPED | PAGE_IS_GUARD;
	size_t nr = 0;
	bool ok = true, guard;
	int ret;

	if (!softdirty_available())
		return skip("soft-dirty not supported (no sd in smaps VmFlags)");
	ret = region_pageout(r, CRIU_SWAPPED, 1);
	if (ret)
		return ret;
	region_read(r, CRIU_READ);
	ret = criu_guard(r, &guard);
	if (ret)
		return ret;
	ret = softdirty_clear();
	if (ret)
		return setup_failed("writing 4 to /proc/self/clear_refs", -ret);
	region_write(r, CRIU_DIRTY);

	if (!is_shmem(r)) {
		ok &= zero_page_mapped(r, CRIU_READ);
		want[nr++] = (struct pages){ CRIU_CLEAN, CRIU_CLEAN + 1,
					     PAGE_IS_PRESENT };
		want[nr++] = (struct pages){ CRIU_SWAPPED, CRIU_SWAPPED + 1,
					     PAGE_IS_SWAPPED };
		want[nr++] = (struct pages){ CRIU_DIRTY, CRIU_DIRTY + 1,
					     PAGE_IS_PRESENT | PAGE_IS_SOFT_DIRTY };
	}
	if (guard)
		want[nr++] = (struct pages){ CRIU_GUARD, CRIU_GUARD + 1,
					     guard_cats };
	ok &= regions_are("CRIU's masks", r, vec, criu_scan(r, vec), want, nr);

	/* the same pages through read(2), cross-checked by the helper */
	ok &= pagemap_pages_are("written before clear_refs", r->addr,
				CRIU_CLEAN, 1, PME_PRESENT, PME_SOFT_DIRTY, 1);
	ok &= pagemap_pages_are("written after clear_refs", r->addr,
				CRIU_DIRTY, 1, PME_PRESENT | PME_SOFT_DIRTY, 0, 1);
	ok &= pagemap_pages_are("read-faulted", r->addr, CRIU_READ, 1,
				PME_PRESENT, 0, 1);
	if (guard)
		madvise(region_page(r, CRIU_GUARD), sys_pagesize(), MADV_GUARD_REMOVE);
	return pass_if(ok);
}

/*
 * pagemap.rst: "The walk can abort before visiting the complete range such
 * as the user buffer can get full etc.  The walk ending address is
 * specified in walk_end." and "The optional maximum requested pages are
 * specified in the max_pages."  Three runs of four written pages; a scan
 * for present pages limited to six pages returns the first six and ends
 * there; a second scan from walk_end returns the other six, nothing lost
 * and nothing twice.  A vec of two regions ends the walk after the second
 * run, at or before the third, from where a last scan returns it.
 */
static int test_max_pages_walk_end(struct region *r)
{
	static const struct pages runs[] = {
		{ 0, 4, PAGE_IS_PRESENT },
		{ 6, 10, PAGE_IS_PRESENT },
		{ 12, 16, PAGE_IS_PRESENT },
	};
	struct pm_scan_arg arg = {
		.category_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};
	struct page_region vec[NR_PAGES];
	struct pages want[2];
	size_t i, page, walk_end;
	bool ok = true;
	long ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(runs); i++)
		for (page = runs[i].first; page < runs[i].end; page++)
			region_write(r, page);

	arg.max_pages = 6;
	want[0] = runs[0];
	want[1] = (struct pages){ 6, 8, PAGE_IS_PRESENT };
	ret = scan(r, 0, NR_PAGES, &arg, vec, NR_PAGES, &walk_end);
	ok &= regions_are("max_pages 6", r, vec, ret, want, 2);
	ok &= walk_end_is("max_pages 6", walk_end, 8);

	arg.max_pages = 0;
	want[0] = (struct pages){ 8, 10, PAGE_IS_PRESENT };
	want[1] = runs[2];
	ret = scan(r, walk_end, NR_PAGES, &arg, vec, NR_PAGES, &walk_end);
	ok &= regions_are("from walk_end, no limit", r, vec, ret, want, 2);
	ok &= walk_end_is("from walk_end, no limit", walk_end, NR_PAGES);

	ret = scan(r, 0, NR_PAGES, &arg, vec, 2, &walk_end);
	ok &= regions_are("vec of 2", r, vec, ret, runs, 2);
	if (walk_end < runs[1].end || walk_end > runs[2].first) {
		ksft_print_msg("vec of 2: walk_end at page %zu, expected from %zu to %zu\n",
			       walk_end, runs[1].end, runs[2].first);
		ok = false;
	} else {
		ret = scan(r, walk_end, NR_PAGES, &arg, vec, NR_PAGES,
			   &walk_end);
		ok &= regions_are("vec of 2, from walk_end", r, vec, ret,
				  &runs[2], 1);
		ok &= walk_end_is("vec of 2, from walk_end", walk_end,
				  NR_PAGES);
	}
	return pass_if(ok);
}

/*
 * Register @r for asynchronous write protection, as pagemap.rst lists the
 * steps: "The UFFD_FEATURE_WP_UNPOPULATED and UFFD_FEATURE_WP_ASYNC
 * features are set by UFFDIO_API" (and UFFD_FEATURE_WP_HUGETLBFS_SHMEM
 * for shmem), "The memory range is registered with UFFDIO_REGISTER_MODE_WP".
 */
static int wp_async_register(struct region *r, int *fdp)
{
	uint64_t features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;

	if (is_shmem(r))
		features |= UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	if (!uffd_skip[0] && !(uffd_features & UFFD_FEATURE_WP_ASYNC))
		return skip(
			"userfaultfd lacks UFFD_FEATURE_WP_ASYNC (6.7+; UFFDIO_API features 0x%llx)",
			(unsigned long long)uffd_features);
	return uffd_wp_register(features, is_shmem(r) ?
				"UFFD_FEATURE_WP_ASYNC|WP_UNPOPULATED|WP_HUGETLBFS_SHMEM" :
				"UFFD_FEATURE_WP_ASYNC|WP_UNPOPULATED",
				r->addr, r->len, fdp);
}

/* The written pages of pagemap.rst's example, write-protected again */
static long wp_scan(const struct region *r, size_t npages,
		    struct page_region *vec)
{
	struct pm_scan_arg arg = {
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};

	return scan(r, 0, npages, &arg, vec, NR_PAGES, NULL);
}

#define WP_PAGES	8

/* Half the pages of a fresh mapping written, the other half not populated */
static int setup_half_written(struct region *r)
{
	int ret = region_setup(r, WP_PAGES);

	if (!ret)
		fill_pages(r->addr, WP_PAGES / 2);
	return ret;
}

/*
 * pagemap.rst, "Find pages which have been written and WP them as well"
 * (PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, category and return mask
 * PAGE_IS_WRITTEN), and the dirty tracking steps: "any part of the
 * registered memory ... must be write protected using PAGEMAP_SCAN IOCTL
 * with flag PM_SCAN_WP_MATCHING", then "the PAGEMAP_SCAN IOCTL can be used
 * to either just find pages which have been written to since they were
 * last marked and/or optionally write protect the pages as well".  Half
 * the pages populated, all write-protected by a scan without vec, three
 * written (two populated, one not): the scan returns exactly those, and a
 * second scan none, as the first protected them again.  Every pte keeps
 * its uffd-wp bit or marker in pagemap (bit 57) throughout.
 */
static int test_wp_async_written(struct region *r)
{
	static const size_t written[] = { 1, 2, 5 };
	static const struct pages want[] = {
		{ 1, 3, PAGE_IS_WRITTEN },
		{ 5, 6, PAGE_IS_WRITTEN },
	};
	struct page_region vec[NR_PAGES];
	bool ok = true;
	size_t i;
	long ret;
	int fd;

	ret = wp_async_register(r, &fd);
	if (ret)
		return ret;
	ret = wp_scan(r, WP_PAGES, NULL);
	if (ret < 0) {
		close(fd);
		return setup_failed("PAGEMAP_SCAN(PM_SCAN_WP_MATCHING), no vec",
				    (int)-ret);
	}
	ok &= pagemap_pages_are("write-protected by PAGEMAP_SCAN", r->addr, 0,
				WP_PAGES, PME_UFFD_WP, 0, 2);
	for (i = 0; i < ARRAY_SIZE(written); i++)
		region_write(r, written[i]);

	ret = wp_scan(r, WP_PAGES, vec);
	ok &= regions_are("written since write-protected", r, vec, ret, want,
			  ARRAY_SIZE(want));
	ret = wp_scan(r, WP_PAGES, vec);
	ok &= regions_are("second scan, nothing written since", r, vec, ret,
			  NULL, 0);
	ok &= pagemap_pages_are("after the scans", r->addr, 0, WP_PAGES,
				PME_UFFD_WP, 0, 2);
	for (i = 0; i < WP_PAGES; i++)
		if ((i < WP_PAGES / 2 || i == 5) && !region_intact(r, i))
			ok = false;
	close(fd);
	return pass_if(ok);
}

/*
 * pagemap.rst: "The PM_SCAN_CHECK_WPASYNC aborts the operation if
 * non-Async Write Protected pages are found."  Memory not registered with
 * a userfaultfd at all is such memory; the kernel says so with EPERM.
 */
static int test_check_wpasync_unregistered(struct region *r)
{
	struct page_region vec[NR_PAGES];
	long ret;

	ret = region_setup(r, WP_PAGES);
	if (ret)
		return ret;
	region_write(r, 0);
	ret = wp_scan(r, WP_PAGES, vec);
	if (ret == -EPERM)
		return KSFT_PASS;
	ksft_print_msg(
		"PM_SCAN_CHECK_WPASYNC on memory with no userfaultfd returned %ld (%s), expected EPERM\n",
		ret, ret < 0 ? errno_name((int)-ret) : "regions");
	return KSFT_FAIL;
}

/*
 * The fast path (category_mask == return_mask == PAGE_IS_WRITTEN, nothing
 * else) and the generic one must agree page by page ("fs/proc/task_mmu:
 * fix PAGEMAP_SCAN written state for unpopulated ptes").  *@written gets
 * the pages the generic path calls WRITTEN, a bit per page, and the pages
 * are printed unless the paths agree and they are @want on the pages of
 * @check.  False when the scans fail, disagree or miss @want.
 */
static bool written_pages(const struct region *r, size_t npages,
			  unsigned int check, unsigned int want)
{
	struct pm_scan_arg fast = {
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	uint64_t cats[NR_PAGES];
	struct page_region vec[NR_PAGES];
	unsigned int by_fast = 0, written = 0;
	size_t page;
	bool ok;
	long ret, i;
	int err;

	err = pagemap_scan_pages(r->addr, 0, npages, PAGE_IS_WRITTEN |
				 PAGE_IS_PRESENT | PAGE_IS_SWAPPED, cats);
	if (err) {
		ksft_print_msg("PAGEMAP_SCAN, generic path: %s\n",
			       errno_name(err));
		return false;
	}
	ret = scan(r, 0, npages, &fast, vec, NR_PAGES, NULL);
	if (ret < 0) {
		ksft_print_msg("PAGEMAP_SCAN, PAGE_IS_WRITTEN fast path: %s\n",
			       errno_name((int)-ret));
		return false;
	}
	for (i = 0; i < ret; i++)
		for (page = region_page_index(r, vec[i].start);
		     page < region_page_index(r, vec[i].end); page++)
			by_fast |= 1U << page;
	for (page = 0; page < npages; page++)
		if (cats[page] & PAGE_IS_WRITTEN)
			written |= 1U << page;
	ok = by_fast == written && (written & check) == want;
	if (ok)
		return true;
	for (page = 0; page < npages; page++)
		ksft_print_msg(
			"page %zu: categories 0x%llx (WRITTEN %d PRESENT %d SWAPPED %d), fast path WRITTEN %d\n",
			page, (unsigned long long)cats[page],
			!!(cats[page] & PAGE_IS_WRITTEN),
			!!(cats[page] & PAGE_IS_PRESENT),
			!!(cats[page] & PAGE_IS_SWAPPED),
			!!(by_fast & (1U << page)));
	if (by_fast != written)
		ksft_print_msg(
			"the PAGE_IS_WRITTEN fast path returns pages 0x%x, the generic path 0x%x\n",
			by_fast, written);
	if ((written & check) != want)
		ksft_print_msg("WRITTEN on pages 0x%x of 0x%x, expected 0x%x\n",
			       written & check, check, want);
	return false;
}

/* The layout of the written-state subtests */
enum { WS_PROTECTED, WS_SWAPPED_PROTECTED, WS_SWAPPED_WRITTEN, WS_WRITTEN,
	WS_MARKER, WS_ZAPPED, WS_PAGES = 8 };

/*
 * PAGE_IS_WRITTEN of each kind of pte in a VMA registered for uffd-wp
 * (pagemap.rst: "Page in a UFFDIO_REGISTER_MODE_WP VMA has been written to
 * since it was write-protected"; 6.12: "Page has been written to from the
 * time it was write protected"):
 *  - present, write-protected: not written; present, written: written;
 *  - a marker on a page never populated (UFFD_FEATURE_WP_UNPOPULATED):
 *    not written;
 *  - write-protected, then swapped out (anon: the swap pte keeps the
 *    uffd-wp bit; shmem: reclaim leaves a marker): not written;
 *  - written, then swapped out (anon: a plain swap pte; shmem: a cleared
 *    pte): written;
 *  - written, then zapped by MADV_DONTNEED (a cleared pte, no marker, as
 *    it was not write-protected): written ("fix PAGEMAP_SCAN written state
 *    for unpopulated ptes": an unpopulated pte of such a VMA "carries no
 *    uffd-wp marker, i.e. it is not write-protected"; 7.3 keeps that).
 * Both scan paths must say the same.
 */
static int test_written_in_uffd_wp_vma(struct region *r)
{
	unsigned int want = 1U << WS_WRITTEN | 1U << WS_SWAPPED_WRITTEN |
			    1U << WS_ZAPPED;
	bool ok = true;
	int fd, ret;

	ret = wp_async_register(r, &fd);
	if (ret)
		return ret;
	ret = uffd_wp_protect(fd, r->addr, r->len);
	if (!ret) {
		region_write(r, WS_WRITTEN);
		region_write(r, WS_SWAPPED_WRITTEN);
		region_write(r, WS_ZAPPED);
		ret = region_pageout(r, WS_SWAPPED_PROTECTED, 2);
	}
	if (!ret && madvise(region_page(r, WS_ZAPPED), sys_pagesize(), MADV_DONTNEED))
		ret = setup_failed("madvise(MADV_DONTNEED)", errno);
	if (ret) {
		close(fd);
		return ret;
	}
	/* the precondition, through read(2): the zapped pte is cleared */
	ok &= pagemap_pages_are("written, then MADV_DONTNEED", r->addr,
				WS_ZAPPED, 1, 0, PME_NONE_MASK, 1);
	ok &= written_pages(r, WS_PAGES, (1U << WS_PAGES) - 1, want);
	close(fd);
	return pass_if(ok);
}

/*
 * A PMD's worth of pages registered for uffd-wp and never touched or
 * write-protected has no page table at all (a pmd_none hole).  "fs/proc/
 * task_mmu: fix PAGEMAP_SCAN written state for PMD holes" (with the fix
 * for unpopulated ptes, Debian 6.12.105, 7.2; 7.3: "In a uffd-wp VMA an
 * unpopulated range is treated as written") made the hole WRITTEN, as a
 * pte_none in such a VMA is: one region of 512 WRITTEN pages from the fast
 * path and from the generic one.
 */
static int test_written_pmd_hole(struct region *r)
{
	struct pm_scan_arg fast = {
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	struct pm_scan_arg generic = {
		.return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT |
			       PAGE_IS_SWAPPED,
	};
	/* a page table holds a page of 8-byte entries */
	size_t ps = sys_pagesize(), pmd_pages = ps / 8, first;
	size_t pmd_size = pmd_pages * ps;
	struct page_region vec[NR_PAGES];
	struct pages want;
	bool ok = true;
	int fd, ret;
	long n;

	ret = region_setup(r, 2 * pmd_pages);
	if (ret)
		return ret;
	ret = wp_async_register(r, &fd);
	if (ret)
		return ret;
	first = region_page_index(r, ((uintptr_t)r->addr + pmd_size - 1) &
				  ~(pmd_size - 1));
	want = (struct pages){ first, first + pmd_pages, PAGE_IS_WRITTEN };
	n = scan(r, first, first + pmd_pages, &fast, vec, NR_PAGES, NULL);
	ok &= regions_are("PMD hole, fast path", r, vec, n, &want, 1);
	n = scan(r, first, first + pmd_pages, &generic, vec, NR_PAGES, NULL);
	ok &= regions_are("PMD hole, generic path", r, vec, n, &want, 1);
	close(fd);
	return pass_if(ok);
}

/*
 * PAGE_IS_WRITTEN outside any uffd-wp VMA.  Where PAGEMAP_SCAN has
 * PAGE_IS_ACCESSED (the 7.3 series that made WRITTEN "Only reported inside
 * such VMAs", pagemap.rst), no page is written, present, swapped or
 * untouched.  Before it, WRITTEN means "not write-protected" (6.7,
 * 52526ca7fdb9 "fs/proc/task_mmu: implement IOCTL to get and optionally
 * clear info about PTEs"), so a present and a swapped page are written;
 * whether an untouched page is depends on whether it has a page table
 * (pte_none or a hole), which is not a contract, but both paths agree.
 */
static int test_written_outside_uffd_wp_vma(struct region *r)
{
	bool only_in_uffd_wp = pagemap_scan_has(PAGE_IS_ACCESSED);
	unsigned int want;
	int ret;

	ret = region_pageout(r, WS_SWAPPED_PROTECTED, 1);
	if (ret)
		return ret;
	if (only_in_uffd_wp) {
		ksft_print_msg("PAGE_IS_ACCESSED known: WRITTEN only inside uffd-wp VMAs\n");
		return pass_if(written_pages(r, WS_PAGES,
					     (1U << WS_PAGES) - 1, 0));
	}
	ksft_print_msg("no PAGE_IS_ACCESSED: WRITTEN is not write-protected\n");
	want = 1U << WS_PROTECTED;
	/* the pte of swapped-out shmem is cleared: only anon keeps one */
	if (!is_shmem(r))
		want |= 1U << WS_SWAPPED_PROTECTED;
	return pass_if(written_pages(r, WS_PAGES, want, want));
}

/*
 * pagemap.rst, "Exceptions for Shared Memory": "Page table entries for
 * shared pages are cleared when the pages are zapped or swapped out."
 * PAGEMAP_SCAN reads the same pte as read(2): a swapped-out shmem page is
 * neither PAGE_IS_PRESENT nor PAGE_IS_SWAPPED (nor FILE); SEEK_DATA, where
 * there is a file, still finds its data, as the section says.  Private
 * anonymous memory keeps a swap pte: PAGE_IS_SWAPPED ("Page is in
 * swapped").  Faulted back, the page is PRESENT again (and FILE for shmem)
 * with its data.
 */
#define SWAP_PAGE	1

static int write_swap_page(struct region *r)
{
	int ret = region_setup(r, WP_PAGES);

	if (!ret)
		region_write(r, SWAP_PAGE);
	return ret;
}

static int setup_swapped(struct region *r)
{
	return region_written_paged_out(r, write_swap_page, SWAP_PAGE, 1);
}

static bool categories_are(const char *when, const struct region *r,
			   uint64_t want)
{
	uint64_t mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE;
	uint64_t cats;
	int err;

	err = pagemap_scan_pages(r->addr, SWAP_PAGE, 1, mask, &cats);
	if (err) {
		ksft_print_msg("%s: PAGEMAP_SCAN: %s\n", when, errno_name(err));
		return false;
	}
	if (cats == want)
		return true;
	ksft_print_msg(
		"%s: page %d: categories 0x%llx (PRESENT %d SWAPPED %d FILE %d), expected 0x%llx\n",
		when, SWAP_PAGE, (unsigned long long)cats,
		!!(cats & PAGE_IS_PRESENT), !!(cats & PAGE_IS_SWAPPED),
		!!(cats & PAGE_IS_FILE), (unsigned long long)want);
	return false;
}

static int test_swapped_out(struct region *r)
{
	uint64_t file = is_shmem(r) ? PAGE_IS_FILE : 0;
	bool ok = true;

	ok &= categories_are("swapped out", r,
			     is_shmem(r) ? 0 : PAGE_IS_SWAPPED);
	if (r->fd >= 0)
		ok &= seek_is(r->fd, 0, SEEK_DATA, SWAP_PAGE * sys_pagesize(), false);
	region_read(r, SWAP_PAGE);
	ok &= categories_are("faulted back", r, PAGE_IS_PRESENT | file);
	ok &= region_intact(r, SWAP_PAGE);
	return pass_if(ok);
}

/* Pages paged out with one pattern, then swapped in and written again */
#define DIRTY_PAGES	4

static int fill_dirty_pages(struct region *r)
{
	int ret = region_setup(r, DIRTY_PAGES);

	if (!ret)
		fill_pages(r->addr, DIRTY_PAGES);
	return ret;
}

static int setup_filled_swapped(struct region *r)
{
	return region_written_paged_out(r, fill_dirty_pages, 0, 0);
}

/* The second pattern: page_byte() of the next index, never the first's */
static unsigned char second_byte(size_t idx)
{
	return page_byte(idx + 1);
}

/*
 * A write-protecting scan must not lose a write ("fix loss of young/dirty
 * bits during pagemap scan", Debian 6.12.x, 7.x: make_uffd_wp_pte() and
 * make_uffd_wp_pmd() rebuilt the entry from a copy read before the atomic
 * clear, dropping the dirty and young bits the CPU set in between).  Here
 * the write leaves its only trace in the pte: private anonymous pages read
 * back from swap stay in the swap cache, clean, mapped writable, and a
 * write then only sets the pte's dirty bit (kpageflags SWAPCACHE without
 * DIRTY, printed).  After PAGEMAP_SCAN with PM_SCAN_WP_MATCHING (pagemap.rst:
 * "write protect the pages as well"), a page-out must write every page to
 * swap again (/proc/vmstat: a clean swap-cache page would be dropped
 * unwritten), and the second pattern must come back.  shmem keeps its
 * folios dirty after a swap-in, so there the pte is not the only trace,
 * and the same must hold.  The race the fix closed (a write on another CPU
 * between the copy and the clear) cannot be made to happen on purpose:
 * this holds the contract it broke, it does not reproduce the race.
 */
static int test_wp_scan_keeps_dirty(struct region *r)
{
	uint64_t entry, flags, pte_only = 0;
	unsigned long dirty_kb, dirty_after;
	struct pageout_stats st = { 0 };
	struct page_region vec[NR_PAGES];
	size_t i;
	long ret;
	bool ok = true;
	int fd;

	/* read back from swap, then registered: still mapped, not protected */
	for (i = 0; i < DIRTY_PAGES; i++)
		region_read(r, i);
	ret = wp_async_register(r, &fd);
	if (ret)
		return ret;
	for (i = 0; i < DIRTY_PAGES; i++) {
		memset(region_page(r, i), second_byte(i), sys_pagesize());
		if (!pagemap_read(pagemap_fd, region_page(r, i), &entry) &&
		    (entry & PME_PFN_MASK) &&
		    !kpageflags_read(entry & PME_PFN_MASK, &flags) &&
		    (flags & (1ULL << KPF_SWAPCACHE)) &&
		    !(flags & (1ULL << KPF_DIRTY)))
			pte_only++;
	}
	dirty_kb = region_smaps_kb(r, "Private_Dirty") +
		   region_smaps_kb(r, "Shared_Dirty");
	ret = wp_scan(r, DIRTY_PAGES, vec);
	dirty_after = region_smaps_kb(r, "Private_Dirty") +
		      region_smaps_kb(r, "Shared_Dirty");
	ksft_print_msg(
		"%llu of %d written pages clean in the swap cache; smaps dirty %lu kB before the scan, %lu kB after\n",
		(unsigned long long)pte_only, DIRTY_PAGES, dirty_kb,
		dirty_after);
	if (ret < 0) {
		close(fd);
		return setup_failed("PAGEMAP_SCAN(PM_SCAN_WP_MATCHING)", (int)-ret);
	}
	ret = pageout_range(r->addr, r->len, PAGEOUT_RETRIES, &st);
	if (ret && ret != -EAGAIN) {
		close(fd);
		return setup_failed("MADV_PAGEOUT", (int)-ret);
	}
	if (ret) {
		ksft_print_msg(
			"MADV_PAGEOUT after the scan wrote %ld of %d written pages to swap in %d attempts\n",
			st.written, DIRTY_PAGES, st.attempts);
		ok = false;
	}
	for (i = 0; i < DIRTY_PAGES; i++)
		ok &= page_filled_with(region_page(r, i), i, second_byte(i),
				       false);
	close(fd);
	return pass_if(ok);
}

static const struct subtest subtests[] = {
	{ "criu_masks", test_criu_masks, ON_ALL, setup_two_written },
	{ "max_pages_walk_end", test_max_pages_walk_end, ON_ALL, NULL },
	{ "wp_async_written_reprotected", test_wp_async_written, ON_ALL,
	  setup_half_written },
	{ "check_wpasync_unregistered_eperm", test_check_wpasync_unregistered,
	  ON_ALL, NULL },
	{ "written_in_uffd_wp_vma", test_written_in_uffd_wp_vma, ON_ALL,
	  setup_two_written },
	{ "written_pmd_hole", test_written_pmd_hole, ON_ALL, NULL },
	{ "written_outside_uffd_wp_vma", test_written_outside_uffd_wp_vma,
	  ON_ALL, setup_two_written },
	{ "swapped_out_reads_swapped", test_swapped_out, ON_ANON,
	  setup_swapped },
	{ "swapped_out_neither_present_nor_swapped", test_swapped_out,
	  ON_SHMEM, setup_swapped },
	{ "wp_scan_keeps_written_pages_dirty", test_wp_scan_keeps_dirty,
	  ON_ALL, setup_filled_swapped },
};

/* The whole program needs the ioctl: ENOTTY is a kernel before 6.7 */
static void check(void)
{
	const char *why = "";

	if (pagemap_scan_available(&why))
		return;
	if (!strcmp(why, "ENOTTY"))
		ksft_exit_skip("PAGEMAP_SCAN not supported (6.7+): the ioctl returns ENOTTY\n");
	ksft_exit_fail_msg("PAGEMAP_SCAN probe failed with %s, not ENOTTY\n",
			   why);
}

static void print_environment(void)
{
	ksft_print_msg("PAGEMAP_SCAN categories: GUARD %s, ACCESSED %s\n",
		       pagemap_scan_has(PAGE_IS_GUARD) ? "yes" : "no",
		       pagemap_scan_has(PAGE_IS_ACCESSED) ? "yes" : "no");
	softdirty_uffd_environment();
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.check = check,
	.pagemap = true,
	.setup = uffd_probe_features,
	.environment = print_environment,
};

int main(void)
{
	suite_main(&suite);
}
