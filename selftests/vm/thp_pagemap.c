// SPDX-License-Identifier: GPL-2.0
/*
 * What pagemap and mincore() say of every base page of a huge page:
 * PMD-mapped shmem huge pages (a file on a private tmpfs mounted with
 * huge=always), PMD-mapped anonymous huge pages, and each size of
 * anonymous multi-size THP (mTHP, 6.8+) the kernel offers in
 * /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB.
 *
 * pagemap.rst gives one entry per base page whatever maps it: a huge page
 * written by this process alone shows PRESENT and "page exclusively
 * mapped" (bit 56; for a large allocation "certainly mapped in the same
 * process") on every page, and "file-page or shared-anon" (bit 61) for
 * shmem ("fs/proc/task_mmu: indicate PM_FILE for PMD-mapped file THP",
 * Debian 6.1.106).  Paged out, an anonymous huge page leaves a swap entry
 * in every page table entry (PM_SWAP on each page), a shmem one leaves
 * them all clear ("Exceptions for Shared Memory").  Read back, every page
 * is present again with its data.  mincore(2) reports each base page of a
 * mapped huge page resident.
 *
 * A huge page is best effort: when none is mapped the subtests skip, but
 * only when the kernel counted a fallback (thp_fault_fallback,
 * thp_file_fallback, the mTHP size's anon_fault_fallback); else they fail.
 * The program sets the THP knobs it needs (the anonymous THP "enabled"
 * knobs: madvise for the size under test, never for the other sizes, and
 * use_zero_page) and puts them back at the end.
 *
 * Two fixes of known bugs are held to their contract:
 *  - "fs/proc/task_mmu: fix PAGE_IS_PFNZERO detection for the huge zero
 *    folio" (Debian 6.12.37+, 7.x): a read fault of a PMD-aligned
 *    MADV_HUGEPAGE range with use_zero_page set maps the huge zero page
 *    (transhuge.rst), and PAGEMAP_SCAN must call each of its pages
 *    PAGE_IS_PFNZERO ("Page has zero PFN", pagemap.rst), as it does the
 *    small zero page.
 *  - "mm/rmap: fix soft-dirty and uffd-wp bit loss when remapping
 *    zero-filled mTHP subpage to shared zeropage" (Debian 6.12.57+, 7.x):
 *    since 6.12 ("mm: remap unused subpages to shared zeropage when
 *    splitting isolated thp"), every split of an anonymous large folio
 *    maps its zero-filled subpages to the shared zero page
 *    (remove_migration_ptes() with the zero-page flag, mm/huge_memory.c).
 *    The split is made here with MADV_COLD over one page of each huge page
 *    (madvise_cold_or_pageout_pte_range() splits an exclusively mapped
 *    large folio the range covers only in part), so no shrinker or memory
 *    pressure is involved.  The zero-page ptes must keep the soft-dirty
 *    bit (soft-dirty.rst: pages written since clear_refs) and the uffd-wp
 *    bit (userfaultfd.rst: protected until UFFDIO_WRITEPROTECT mode 0)
 *    that the huge page's entries had: pagemap bits 55 and 57.  Before
 *    6.12 the zero-filled subpages stay in place at a split, and must
 *    keep the bits just the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kernel-page-flags.h>

#include "kselftest.h"
#include "residency_util.h"

#ifndef MADV_COLD
#define MADV_COLD	20
#endif

/* huge pages in each test range */
#define NR_HUGE		2
#define MAX_DIAGS	4

enum {
	BACKEND_SHMEM_THP,
	BACKEND_ANON_THP,
	BACKEND_MTHP_16K,
	BACKEND_MTHP_32K,
	BACKEND_MTHP_64K,
	BACKEND_MTHP_128K,
	BACKEND_MTHP_256K,
	BACKEND_MTHP_512K,
	BACKEND_MTHP_1024K,
	NR_BACKENDS,
};

#define ON_ALL		((1U << NR_BACKENDS) - 1)
#define ON_ANON		(ON_ALL & ~(1U << BACKEND_SHMEM_THP))
#define ON_PMD_ANON	(1U << BACKEND_ANON_THP)
#define FIRST_MTHP	BACKEND_MTHP_16K
/* the mTHP sizes in kB, BACKEND_MTHP_16K on */
#define MTHP_KB(b)	(16UL << ((b) - FIRST_MTHP))

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_SHMEM_THP] = { .name = "shmem_thp", .kind = MEM_TMPFS },
	[BACKEND_ANON_THP] = { .name = "anon_thp", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_16K] = { .name = "anon_mthp_16kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_32K] = { .name = "anon_mthp_32kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_64K] = { .name = "anon_mthp_64kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_128K] = { .name = "anon_mthp_128kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_256K] = { .name = "anon_mthp_256kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_512K] = { .name = "anon_mthp_512kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_1024K] = { .name = "anon_mthp_1024kB",
				 .kind = MEM_PRIVATE_ANON },
};

static size_t ps, pmd_size;

/* the anonymous THP knobs: "enabled", then one per mTHP size directory */
#define MAX_KNOBS	16
static struct knob knobs[MAX_KNOBS];
static char size_dirs[MAX_KNOBS][64];	/* "hugepages-16kB", ... */
static size_t nr_size_dirs;
/* use_zero_page, for the huge zero page */
static struct knob zero_page_knob;

static size_t backend_index(const struct backend *b)
{
	return b - backends;
}

static bool is_mthp(const struct backend *b)
{
	return backend_index(b) >= FIRST_MTHP;
}

/*
 * Anonymous huge pages of the backend's size only: the size under test
 * (and, for PMD-sized ones, the global knob) set to madvise, every other
 * size to never, so that the fault cannot pick another one.
 */
static int set_anon_knobs(const struct backend *b)
{
	char path[PATH_MAX], want[64];
	size_t i;
	int ret;

	ret = knob_set(&knobs[0], THP_SYSFS "enabled", "madvise");
	snprintf(want, sizeof(want), "hugepages-%zukB", b->huge_size / 1024);
	for (i = 0; !ret && i < nr_size_dirs; i++) {
		snprintf(path, sizeof(path), THP_SYSFS "%s/enabled",
			 size_dirs[i]);
		ret = knob_set(&knobs[i + 1], path,
			       strcmp(size_dirs[i], want) ? "never" : "madvise");
	}
	return ret ? setup_failed("setting the THP enabled knobs", -ret) :
		     KSFT_PASS;
}

/* The counter that says the kernel declined a huge page of @b, and its path */
static const char *fallback_counter(const struct backend *b, char *path,
				    size_t len)
{
	if (b->kind == MEM_TMPFS)
		return "thp_file_fallback";
	if (!is_mthp(b))
		return "thp_fault_fallback";
	snprintf(path, len, THP_SYSFS "hugepages-%zukB/stats/anon_fault_fallback",
		 b->huge_size / 1024);
	return "anon_fault_fallback";
}

static long fallback_read(const struct backend *b)
{
	char path[PATH_MAX];
	const char *name = fallback_counter(b, path, sizeof(path));

	return is_mthp(b) ? counter_read(path) : vmstat_read(name);
}

/* mTHP allocations of the backend's size so far; -1 without mTHP stats */
static long mthp_allocs(const struct backend *b)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path),
		 THP_SYSFS "hugepages-%zukB/stats/anon_fault_alloc",
		 b->huge_size / 1024);
	return counter_read(path);
}

/*
 * Did the range get huge pages?  PMD-mapped ones are counted by smaps
 * (AnonHugePages:, ShmemPmdMapped:); mTHP ones by the size's
 * anon_fault_alloc, which must have grown by one per folio since @allocs.
 */
static bool got_huge(const struct region *r, long allocs)
{
	const struct backend *b = r->backend;
	unsigned long kb;
	long now;

	if (is_mthp(b)) {
		now = mthp_allocs(b);
		ksft_print_msg("%s anon_fault_alloc grew by %ld for %zu folios\n",
			       b->name, now - allocs, r->len / b->huge_size);
		return allocs >= 0 && now - allocs >= (long)(r->len / b->huge_size);
	}
	kb = region_smaps_kb(r, b->kind == MEM_TMPFS ? "ShmemPmdMapped" :
			     "AnonHugePages");
	ksft_print_msg("%s: %lu of %zu kB PMD-mapped\n", b->name, kb,
		       r->len / 1024);
	return kb == r->len / 1024;
}

/* The counters map_huge() read before the first fault */
struct huge_before {
	long fallback;
	long allocs;
};

/*
 * NR_HUGE huge pages of the backend mapped, with the knobs set for them,
 * not yet touched.  A KSFT code.
 */
static int map_huge(struct region *r, struct huge_before *before)
{
	const struct backend *b = r->backend;
	int ret;

	if (b->kind == MEM_PRIVATE_ANON) {
		ret = set_anon_knobs(b);
		if (ret)
			return ret;
	}
	before->fallback = fallback_read(b);
	before->allocs = is_mthp(b) ? mthp_allocs(b) : 0;
	return region_setup(r, NR_HUGE * b->huge_size / ps);
}

/* After the first faults: KSFT_PASS when huge, a SKIP only when declined */
static int faulted_huge(const struct region *r, const struct huge_before *before)
{
	const struct backend *b = r->backend;
	char path[PATH_MAX];
	const char *counter = fallback_counter(b, path, sizeof(path));

	if (got_huge(r, before->allocs))
		return KSFT_PASS;
	return huge_page_declined(is_mthp(b) ? path : NULL, counter,
				  before->fallback);
}

/*
 * NR_HUGE huge pages of the backend, written page by page and confirmed to
 * be huge.  A KSFT code: a SKIP only when the kernel declined.
 */
static int setup_written(struct region *r)
{
	struct huge_before before;
	int ret = map_huge(r, &before);

	if (ret)
		return ret;
	fill_pages(r->addr, r->npages);
	return faulted_huge(r, &before);
}

/* ... and paged out, confirmed by the swap writes */
static int setup_swapped(struct region *r)
{
	return region_written_paged_out(r, setup_written, 0, 0);
}

/* mincore() reports every base page of the range resident */
static bool all_resident(const char *when, const struct region *r)
{
	unsigned char *vec = malloc(r->npages);
	size_t i, missing = 0;
	int ret;

	if (!vec)
		return false;
	ret = mincore_range(r->addr, r->len, vec);
	for (i = 0; !ret && i < r->npages; i++)
		missing += !(vec[i] & 1);
	free(vec);
	if (ret || missing)
		ksft_print_msg("%s: mincore %s, %zu of %zu pages not resident\n",
			       when, ret ? errno_name(ret) : "ok", missing,
			       r->npages);
	return !ret && !missing;
}

/* Every base page present, exclusively ours, FILE exactly for shmem */
static bool all_present(const char *when, const struct region *r)
{
	uint64_t set = PME_PRESENT | PME_MMAP_EXCLUSIVE;
	uint64_t clear = PME_SWAP;

	if (r->kind == MEM_TMPFS)
		set |= PME_FILE;
	else
		clear |= PME_FILE;
	return pagemap_pages_are(when, r->addr, 0, r->npages, set, clear,
				 MAX_DIAGS);
}

static int test_written_every_page_present(struct region *r)
{
	bool ok = true;

	ok &= all_present("written", r);
	ok &= all_resident("written", r);
	return pass_if(ok);
}

/* Anonymous: a swap entry in every pte; shmem: every pte clear */
static int test_pageout_every_pte_swapped(struct region *r)
{
	if (r->kind == MEM_PRIVATE_ANON)
		return pass_if(pagemap_pages_are("paged out", r->addr, 0,
						 r->npages, PME_SWAP,
						 PME_PRESENT, MAX_DIAGS));
	return pass_if(pagemap_pages_are("paged out", r->addr, 0, r->npages, 0,
					 PME_NONE_MASK, MAX_DIAGS));
}

/* Read back through page faults: every page present, data intact */
static int test_swapin_data_intact(struct region *r)
{
	unsigned int bad = 0;
	bool ok = true;
	size_t i;

	for (i = 0; i < r->npages; i++)
		if (!page_filled_with(region_page(r, i), i, page_byte(i),
				      bad >= MAX_DIAGS))
			bad++;
	if (bad)
		ksft_print_msg("%u of %zu pages differ after the swap-in\n", bad,
			       r->npages);
	ok &= !bad;
	ok &= pagemap_pages_are("swapped in", r->addr, 0, r->npages,
				PME_PRESENT, PME_SWAP, MAX_DIAGS);
	ok &= all_resident("swapped in", r);
	return pass_if(ok);
}

/* The /proc/kpageflags entry of the page mapped at page @idx; 0 or -errno */
static int mapped_kpageflags(const struct region *r, size_t idx,
			     uint64_t *flags)
{
	uint64_t entry;
	int ret;

	ret = pagemap_read(pagemap_fd, region_page(r, idx), &entry);
	if (ret)
		return ret;
	/* PFNs read 0 without CAP_SYS_ADMIN */
	if (!(entry & PME_PRESENT) || !(entry & PME_PFN_MASK))
		return -ENODATA;
	return kpageflags_read(entry & PME_PFN_MASK, flags);
}

#define KPF(bit)	(1ULL << KPF_##bit)

/*
 * How many of pages [@first, @first + @n) map a frame whose kpageflags
 * has all of @set and none of @clear; the first that does not is printed
 * after @what.  A negative errno when a PFN cannot be read.
 */
static long pages_with_kflags(const struct region *r, size_t first, size_t n,
			      uint64_t set, uint64_t clear, const char *what)
{
	uint64_t flags = 0;
	long count = 0;
	bool printed = false;
	size_t i;
	int ret;

	for (i = first; i < first + n; i++) {
		ret = mapped_kpageflags(r, i, &flags);
		if (ret)
			return ret;
		if ((flags & set) == set && !(flags & clear)) {
			count++;
		} else if (!printed) {
			ksft_print_msg("page %zu is not %s: kpageflags 0x%llx\n",
				       i, what, (unsigned long long)flags);
			printed = true;
		}
	}
	return count;
}

/*
 * transhuge.rst: with use_zero_page set, "read page fault to anonymous
 * mapping" maps the huge zero page.  Confirmed by /proc/kpageflags of the
 * PFNs read(2) gives (ZERO_PAGE and THP: "zero page for pfn_zero or
 * huge_zero page") and smaps AnonHugePages staying 0; then PAGEMAP_SCAN
 * must report every page PRESENT, HUGE ("Page is PMD-mapped THP") and
 * PFNZERO ("Page has zero PFN").  PAGE_IS_PFNZERO of the huge zero folio
 * is "fs/proc/task_mmu: fix PAGE_IS_PFNZERO detection for the huge zero
 * folio" (Debian 6.12.37+, 7.x).
 */
static int test_read_fault_huge_zero_page(struct region *r)
{
	uint64_t want = PAGE_IS_PRESENT | PAGE_IS_HUGE | PAGE_IS_PFNZERO;
	struct huge_before before;
	unsigned int bad = 0;
	const char *why = "";
	uint64_t *cats;
	long zero_allocs, huge_zero;
	size_t i;
	int ret;

	if (!pagemap_scan_available(&why))
		return skip("PAGEMAP_SCAN not available (6.7+): %s", why);
	if (access("/proc/kpageflags", R_OK))
		return skip("/proc/kpageflags not readable, to confirm the huge zero page");
	ret = knob_set(&zero_page_knob, THP_SYSFS "use_zero_page", "1");
	if (ret)
		return setup_failed("setting use_zero_page to 1", -ret);
	zero_allocs = vmstat_read("thp_zero_page_alloc");
	ret = map_huge(r, &before);
	if (ret)
		return ret;
	for (i = 0; i < r->npages; i++)
		region_read(r, i);

	huge_zero = pages_with_kflags(r, 0, r->npages,
				      KPF(ZERO_PAGE) | KPF(THP), 0,
				      "the huge zero page");
	if (huge_zero < 0)
		return setup_failed("reading the PFNs' kpageflags",
				    (int)-huge_zero);
	ksft_print_msg(
		"%ld of %zu pages map the huge zero page; AnonHugePages %lu kB; thp_zero_page_alloc +%ld\n",
		huge_zero, r->npages, region_smaps_kb(r, "AnonHugePages"),
		vmstat_read("thp_zero_page_alloc") - zero_allocs);
	if (huge_zero != (long)r->npages)
		return huge_page_declined(NULL, "thp_fault_fallback",
					  before.fallback);
	if (region_smaps_kb(r, "AnonHugePages")) {
		ksft_print_msg("the huge zero page is counted as AnonHugePages\n");
		return KSFT_FAIL;
	}

	cats = calloc(r->npages, sizeof(*cats));
	if (!cats)
		return setup_failed("calloc", ENOMEM);
	ret = pagemap_scan_pages(r->addr, 0, r->npages, want, cats);
	for (i = 0; !ret && i < r->npages; i++) {
		if (cats[i] == want)
			continue;
		if (bad++ < MAX_DIAGS)
			ksft_print_msg(
				"page %zu of the huge zero page: PAGEMAP_SCAN categories 0x%llx (PRESENT %d HUGE %d PFNZERO %d), expected 0x%llx\n",
				i, (unsigned long long)cats[i],
				!!(cats[i] & PAGE_IS_PRESENT),
				!!(cats[i] & PAGE_IS_HUGE),
				!!(cats[i] & PAGE_IS_PFNZERO),
				(unsigned long long)want);
	}
	free(cats);
	if (ret)
		return setup_failed("PAGEMAP_SCAN", -ret);
	if (bad)
		ksft_print_msg("%u of %zu pages without PRESENT|HUGE|PFNZERO\n",
			       bad, r->npages);
	return pass_if(!bad);
}

/*
 * The first page of each huge page written (the others stay zero-filled),
 * soft-dirty (@uffd false: clear_refs first, so that bit 55 is the
 * entries' own, not the VMA's) or write-protected with userfaultfd (@uffd
 * true: registered after the faults, since an mTHP is not allocated in a
 * VMA userfaultfd is armed on), then split by MADV_COLD over that first
 * page.  The split and the zero page are confirmed by kpageflags: the
 * written page is no longer part of a THP, the others map the zero page
 * (6.12+; before, they stay in place, which is checked the same way).
 * Then every page must keep the bit (pagemap_pages_are() also checks
 * PAGEMAP_SCAN's SOFT_DIRTY and PFNZERO).
 */
/*
 * MADV_COLD of one page of a large folio splits the folio when it can.  A
 * folio another CPU holds at that moment (a reference from its per-CPU LRU
 * batch, compaction or khugepaged isolating it, its lock) stays whole: the
 * hint is silently not taken, as a hint may be.  It is given again, at most
 * SPLIT_TRIES times, until /proc/kpageflags shows page @first split off its
 * THP.  Returns the number of MADV_COLD calls that split it, 0 when none did
 * (or its flags cannot be read: the caller reports that), or -errno from
 * madvise().
 */
#define SPLIT_TRIES 10

static int cold_split(const struct region *r, size_t first)
{
	uint64_t flags;
	int tries;

	for (tries = 1; tries <= SPLIT_TRIES; tries++) {
		if (madvise(region_page(r, first), ps, MADV_COLD))
			return -errno;
		if (mapped_kpageflags(r, first, &flags))
			return 0;
		if (!(flags & KPF(THP)))
			return tries;
		usleep(20000);
	}
	return 0;
}

static int split_keeps_bit(struct region *r, bool uffd)
{
	size_t per = r->backend->huge_size / ps, nr, i;
	uint64_t bit = uffd ? PME_UFFD_WP : PME_SOFT_DIRTY;
	struct huge_before before;
	long split, zero, n, m;
	bool ok = true;
	int ret, tries, fd = -1;

	if (!uffd && !softdirty_available())
		return skip("soft-dirty not supported (no sd in smaps VmFlags)");
	ret = map_huge(r, &before);
	if (ret)
		return ret;
	if (!uffd) {
		ret = softdirty_clear();
		if (ret)
			return setup_failed("writing 4 to /proc/self/clear_refs", -ret);
	}
	nr = r->npages / per;
	for (i = 0; i < nr; i++)
		region_write(r, i * per);
	ret = faulted_huge(r, &before);
	if (!ret && uffd) {
		ret = uffd_wp_register_region(r, &fd);
		if (!ret)
			ret = uffd_wp_protect(fd, r->addr, r->len);
	}
	/* the bit is there before the split, so that its loss can be told */
	if (!ret && !pagemap_pages_are("before the split", r->addr, 0,
				       r->npages, PME_PRESENT | bit, 0,
				       MAX_DIAGS))
		ret = KSFT_FAIL;
	for (i = 0; !ret && i < nr; i++) {
		tries = cold_split(r, i * per);
		if (tries < 0)
			ret = setup_failed("madvise(MADV_COLD) of one page", -tries);
		else if (tries > 1)
			ksft_print_msg("huge page %zu split at MADV_COLD number %d\n",
				       i, tries);
	}
	if (ret)
		goto out;

	split = 0;
	zero = 0;
	for (i = 0; i < nr; i++) {
		n = pages_with_kflags(r, i * per, 1, 0, KPF(THP),
				      "split from its THP");
		m = n < 0 ? n : pages_with_kflags(r, i * per + 1, per - 1,
						  KPF(ZERO_PAGE), KPF(THP),
						  "the zero page");
		if (m < 0) {
			ret = setup_failed("reading the PFNs' kpageflags", (int)-m);
			goto out;
		}
		split += n;
		zero += m;
	}
	ksft_print_msg(
		"after MADV_COLD: %ld of %zu huge pages split, %ld of %zu zero-filled pages map the zero page; AnonHugePages %lu kB\n",
		split, nr, zero, nr * (per - 1),
		region_smaps_kb(r, "AnonHugePages"));
	if (split != (long)nr) {
		ksft_print_msg("MADV_COLD of one page did not split every huge page\n");
		ret = KSFT_FAIL;
		goto out;
	}
	/* "mm: remap unused subpages to shared zeropage ..." is 6.12 */
	if (!zero && kernel_older_than(6, 12)) {
		ksft_print_msg(
			"before 6.12 a split leaves zero-filled subpages in place: the bit is checked on them\n");
	} else if (zero != (long)(nr * (per - 1))) {
		ret = KSFT_FAIL;
		goto out;
	}
	ok &= pagemap_pages_are("after the split", r->addr, 0, r->npages,
				PME_PRESENT | bit, 0, MAX_DIAGS);
	for (i = 0; i < nr; i++)
		ok &= region_intact(r, i * per);
	ret = pass_if(ok);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static int test_split_zero_keeps_soft_dirty(struct region *r)
{
	return split_keeps_bit(r, false);
}

static int test_split_zero_keeps_uffd_wp(struct region *r)
{
	return split_keeps_bit(r, true);
}

static const struct subtest subtests[] = {
	{ "written_every_page_present", test_written_every_page_present,
	  ON_ALL, setup_written },
	{ "pageout_every_pte_swapped", test_pageout_every_pte_swapped, ON_ALL,
	  setup_swapped },
	{ "swapin_data_intact", test_swapin_data_intact, ON_ALL, setup_swapped },
	{ "read_fault_huge_zero_page_pfnzero", test_read_fault_huge_zero_page,
	  ON_PMD_ANON },
	{ "split_zero_subpages_keep_soft_dirty",
	  test_split_zero_keeps_soft_dirty, ON_ANON },
	{ "split_zero_subpages_keep_uffd_wp", test_split_zero_keeps_uffd_wp,
	  ON_ANON },
};

/* Find the mTHP size directories, and which sizes can be tested */
static void probe_anon(void)
{
	char path[96];
	size_t b, kb;

	for (kb = 4; kb <= 1UL << 30 && nr_size_dirs < MAX_KNOBS - 1; kb <<= 1) {
		/* some sizes (PUD) are for files only: no anonymous knob */
		snprintf(path, sizeof(path), THP_SYSFS "hugepages-%zukB/enabled",
			 kb);
		if (!access(path, F_OK))
			snprintf(size_dirs[nr_size_dirs++], sizeof(size_dirs[0]),
				 "hugepages-%zukB", kb);
	}
	backends[BACKEND_ANON_THP].huge_size = pmd_size;
	if (access(THP_SYSFS "enabled", W_OK))
		snprintf(backends[BACKEND_ANON_THP].skip, sizeof(backends[0].skip),
			 "no writable %senabled (no THP, or not root)", THP_SYSFS);
	for (b = FIRST_MTHP; b < NR_BACKENDS; b++) {
		backends[b].huge_size = MTHP_KB(b) * 1024;
		snprintf(path, sizeof(path), THP_SYSFS "hugepages-%lukB/enabled",
			 MTHP_KB(b));
		if (access(path, W_OK))
			snprintf(backends[b].skip, sizeof(backends[b].skip),
				 "no mTHP of %lu kB in this kernel (no writable hugepages-%lukB/enabled)",
				 MTHP_KB(b), MTHP_KB(b));
		else if (backends[b].huge_size >= pmd_size)
			snprintf(backends[b].skip, sizeof(backends[b].skip),
				 "%lu kB is not smaller than a PMD", MTHP_KB(b));
	}
}

static void probe(void)
{
	static const char * const huge_opts[] = {
		"size=64m,mode=0700,huge=always",
	};
	struct backend *shmem = &backends[BACKEND_SHMEM_THP];
	size_t b;

	pmd_size = thp_pmd_size();
	if (!pmd_size) {
		for (b = 0; b < NR_BACKENDS; b++)
			snprintf(backends[b].skip, sizeof(backends[b].skip),
				 "no THP in this kernel (no usable %shpage_pmd_size)",
				 THP_SYSFS);
		return;
	}
	if (!mount_private_tmpfs(shmem, huge_opts, ARRAY_SIZE(huge_opts)))
		shmem->huge_size = pmd_size;
	probe_anon();
	uffd_probe_features();
}

static void restore_knobs(void)
{
	size_t i;

	for (i = 0; i < MAX_KNOBS; i++)
		knob_restore(&knobs[i]);
	knob_restore(&zero_page_knob);
}

static void print_environment(void)
{
	ksft_print_msg("PMD size %zu kB; anonymous THP sizes with a knob: %zu\n", pmd_size / 1024,
		       nr_size_dirs);
	softdirty_uffd_environment();
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.pagemap = true,
	.setup = probe,
	.environment = print_environment,
	.cleanup = restore_knobs,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
