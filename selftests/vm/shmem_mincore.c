// SPDX-License-Identifier: GPL-2.0
/*
 * mincore() on shmem: page-cache residency of memfd and tmpfs files, and
 * of private anonymous memory for contrast.
 *
 * For a shared file mapping mincore() does not need a page table entry: it
 * looks the page up in the file's page cache.  So a page that write(2)
 * put into the cache reads as resident through a mapping that was never
 * touched, while holes, fallocated-but-unwritten pages (not uptodate) and
 * punched holes do not.  A shmem page that MADV_PAGEOUT moved to swap is
 * resident while its folio is still in the swap cache and not resident
 * once reclaim has freed that folio; pagemap.rst ("Exceptions for Shared
 * Memory") documents that mincore() distinguishes pages in memory,
 * including the swap cache, from swapped-out ones.  The same holds for a
 * private anonymous page, through its swap entry.  A guard marker
 * (MADV_GUARD_INSTALL, on shmem since 6.15) is no page table entry either:
 * mincore() of a guard page reports the page cache.
 *
 * When a swapped-out page leaves the swap cache depends on the swap device
 * and on timing, so the subtests find out instead of waiting for it: the
 * page's frame is looked up in /proc/kpageflags (root only) before and
 * after the mincore() call, and a page still in the swap cache is evicted
 * with memory.reclaim of a cgroup v2 child cgroup that the test creates,
 * enters while it allocates the page, leaves, and removes afterwards.
 *
 * Each behaviour is one subtest, named after the memory it runs on: memfd,
 * tmpfs (an O_TMPFILE file in /dev/shm or another tmpfs) or anon.  Swap
 * subtests need swap and confirm every page-out by the swap writes it
 * caused (/proc/vmstat); a missing feature is a SKIP with the reason, a
 * precondition the kernel must meet and does not is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/kernel-page-flags.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES		4
/* the page the swap subtests work on */
#define TEST_PAGE		1
/* memory.reclaim requests, each far more than the cgroup holds */
#define RECLAIM_ROUNDS		50
/* attempts at a mincore() call during which the swap cache state holds */
#define STABLE_TRIES		10

enum {
	BACKEND_MEMFD,
	BACKEND_TMPFS,
	BACKEND_ANON,
	NR_BACKENDS,
};

#define ON_MEMFD	(1U << BACKEND_MEMFD)
#define ON_TMPFS	(1U << BACKEND_TMPFS)
#define ON_ANON		(1U << BACKEND_ANON)
#define ON_FILES	(ON_MEMFD | ON_TMPFS)

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS },
	[BACKEND_ANON] = { .name = "anon", .kind = MEM_PRIVATE_ANON },
};

static size_t ps;

/*
 * mincore() of the NR_PAGES pages at @addr must match @want, one
 * character per page, '1' resident and '0' not.
 */
static bool check_residency(const char *when, const char *addr,
			    const char *want)
{
	unsigned char vec[NR_PAGES];
	char seen[NR_PAGES + 1];
	size_t i;
	int ret;

	ret = mincore_range(addr, NR_PAGES * ps, vec);
	if (ret) {
		ksft_print_msg("%s: mincore: %s\n", when, errno_name(ret));
		return false;
	}
	for (i = 0; i < NR_PAGES; i++)
		seen[i] = vec[i] & 1 ? '1' : '0';
	seen[NR_PAGES] = '\0';
	if (!strcmp(seen, want))
		return true;
	ksft_print_msg("%s: mincore of pages at offsets 0x0-0x%zx: expected %s, observed %s\n",
		       when, (NR_PAGES - 1) * ps, want, seen);
	return false;
}

/* The pages at @addr are not mapped: each pagemap entry reads none */
static bool check_untouched(const char *addr)
{
	return pagemap_pages_are("fresh mapping", addr, 0, NR_PAGES, 0,
				 PME_NONE_MASK, 1);
}

/*
 * The file of @r made NR_PAGES long and set up by @prepare, then mapped
 * with @prot.  Returns KSFT_PASS, or the code the subtest ends with.
 */
static int setup_prepared(struct region *r, int (*prepare)(int fd), int prot)
{
	int ret;

	ret = region_resize(r, NR_PAGES);
	if (ret)
		return setup_failed(r->failed, -ret);
	ret = prepare(r->fd);
	if (ret)
		return ret;
	ret = region_map(r, NR_PAGES, prot, 0);
	return ret ? setup_failed(r->failed, -ret) : KSFT_PASS;
}

/* Page-cache subtests: a file set up by @prepare, then a fresh mapping */

static int file_residency(struct region *r, int (*prepare)(int fd),
			  const char *want)
{
	bool ok = true;
	int ret;

	/* read-only and never touched: no pte, mincore asks the page cache */
	ret = setup_prepared(r, prepare, PROT_READ);
	if (ret)
		return ret;
	ok &= check_residency("fresh, untouched mapping", r->addr, want);
	ok &= check_untouched(r->addr);
	return pass_if(ok);
}

static int prepare_written(int fd)
{
	int ret;

	ret = pwrite_page(fd, 0);
	if (!ret)
		ret = pwrite_page(fd, 2);
	return ret ? setup_failed("pwrite", -ret) : KSFT_PASS;
}

static int prepare_nothing(int fd)
{
	(void)fd;
	return KSFT_PASS;
}

static int prepare_fallocated(int fd)
{
	return setup_fallocate(fd, 0, 0, NR_PAGES * ps);
}

static int prepare_punched(int fd)
{
	size_t i;
	int ret;

	for (i = 0; i < NR_PAGES; i++) {
		ret = pwrite_page(fd, i);
		if (ret)
			return setup_failed("pwrite", -ret);
	}
	return setup_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       ps, 2 * ps);
}

/* write(2) puts pages 0 and 2 into the page cache; nothing maps them */
static int test_written_unmapped_resident(struct region *r)
{
	return file_residency(r, prepare_written, "1010");
}

static int test_hole_not_resident(struct region *r)
{
	return file_residency(r, prepare_nothing, "0000");
}

/* fallocate() allocates pages but does not make them uptodate */
static int test_fallocated_unwritten_not_resident(struct region *r)
{
	return file_residency(r, prepare_fallocated, "0000");
}

static int test_punched_hole_not_resident(struct region *r)
{
	return file_residency(r, prepare_punched, "1001");
}

/*
 * A page moved to swap by MADV_PAGEOUT, with what is needed to follow its
 * folio: the frame it had (0 when pagemap hides PFNs) and the child cgroup
 * it is charged to (empty when none could be created).
 */
struct swapped {
	struct region *r;
	uint64_t pfn;
	bool kpf_unusable;
	char cg[PATH_MAX + 64];
};

static void swapped_destroy(struct swapped *s)
{
	region_close(s->r);
	if (s->cg[0])
		memcg_remove(s->cg);
}

/*
 * Write page TEST_PAGE of a fresh mapping from inside a child cgroup, then
 * page it out, confirmed by the swap writes.  Returns KSFT_PASS or
 * the code the subtest ends with, having cleaned up.
 */
static int setup_swapped(struct region *r, struct swapped *s)
{
	uint64_t entry = 0, flags = 0;
	char desc[96];
	int ret;

	if (!swap_present())
		return skip("no swap configured");
	memset(s, 0, sizeof(*s));
	s->r = r;
	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;

	/* charge the page to a cgroup of its own, for memory.reclaim */
	ret = memcg_create(s->cg, sizeof(s->cg));
	if (ret) {
		if (!memcg_skip[0])
			ksft_print_msg("creating a cgroup in %s: %s\n", memcg_home,
				       errno_name(ret));
		s->cg[0] = '\0';
	} else {
		ret = memcg_enter(s->cg);
		if (ret) {
			ksft_print_msg("entering cgroup %s: %s\n", s->cg,
				       errno_name(ret));
			memcg_remove(s->cg);
			s->cg[0] = '\0';
		}
	}
	region_write(s->r, TEST_PAGE);
	if (s->cg[0]) {
		ret = memcg_enter(memcg_home);
		if (ret) {
			ksft_exit_fail_msg("cannot move back to cgroup %s: %s\n",
					   memcg_home, errno_name(ret));
		}
	}

	if (!pagemap_read(-1, region_page(s->r, TEST_PAGE), &entry) &&
	    pagemap_entry_has(entry, PME_PRESENT))
		s->pfn = entry & PME_PFN_MASK;
	/* kpageflags must not see a page in the swap cache before page-out */
	if (s->pfn && !kpageflags_read(s->pfn, &flags) &&
	    flags & (1ULL << KPF_SWAPCACHE)) {
		ksft_print_msg(
			"kpageflags of pfn 0x%llx reads %s before the page-out: not usable\n",
			(unsigned long long)s->pfn,
			kpageflags_str(flags, desc, sizeof(desc)));
		s->pfn = 0;
		s->kpf_unusable = true;
	}

	ret = region_pageout(s->r, TEST_PAGE, 1);
	if (ret)
		swapped_destroy(s);
	return ret;
}

/*
 * Is the folio that held the page in the swap cache?  0 and the answer in
 * *@in_cache, or a negative errno.
 */
static int in_swap_cache(const struct swapped *s, bool *in_cache,
			 uint64_t *flags)
{
	int ret;

	if (!s->pfn)
		return -EPERM;
	ret = kpageflags_read(s->pfn, flags);
	if (!ret)
		*in_cache = *flags & (1ULL << KPF_SWAPCACHE);
	return ret;
}

/* Why the swap cache state of a page cannot be known, for a SKIP */
static int swap_cache_unknown(const struct swapped *s, int err)
{
	if (s->kpf_unusable)
		return skip(
			"cannot follow the page into the swap cache: kpageflags reports SWAPCACHE for it before the page-out");
	if (!s->pfn)
		return skip(
			"cannot follow the page into the swap cache: pagemap hides PFNs (needs CAP_SYS_ADMIN)");
	return skip("cannot read /proc/kpageflags: %s", errno_name(err));
}

/*
 * Evict the page from the swap cache, unless it has left already.
 * Returns KSFT_PASS once /proc/kpageflags no longer shows the folio in the
 * swap cache, else the code the subtest ends with.
 */
static int evict_from_swap_cache(const struct swapped *s)
{
	char desc[96];
	uint64_t flags = 0;
	bool cached;
	int i, ret;

	for (i = 0; i <= RECLAIM_ROUNDS; i++) {
		ret = in_swap_cache(s, &cached, &flags);
		if (ret)
			return swap_cache_unknown(s, ret);
		if (!cached) {
			ksft_print_msg(
				"page out of the swap cache after %d memory.reclaim request(s): kpageflags of pfn 0x%llx %s\n",
				i, (unsigned long long)s->pfn,
				kpageflags_str(flags, desc, sizeof(desc)));
			return KSFT_PASS;
		}
		if (i == RECLAIM_ROUNDS)
			break;
		if (!s->cg[0])
			return skip("page is in the swap cache and cannot be evicted: %s",
				    memcg_skip[0] ? memcg_skip : "no cgroup");
		ret = memcg_reclaim(s->cg);
		if (ret)
			return setup_failed("writing memory.reclaim", -ret);
		usleep(10000);
	}
	/* the page is charged to the cgroup and swap is free: reclaim must evict it */
	ksft_print_msg(
		"setup: page still in the swap cache after %d memory.reclaim requests to its own cgroup: kpageflags of pfn 0x%llx %s\n",
		RECLAIM_ROUNDS, (unsigned long long)s->pfn,
		kpageflags_str(flags, desc, sizeof(desc)));
	return KSFT_FAIL;
}

/* The page is still swapped out: smaps Swap: counts it */
static bool still_swapped(const struct swapped *s)
{
	unsigned long kb = 0;
	int ret;

	ret = smaps_vma_field_kb(s->r->addr, "Swap", &kb, NULL);
	if (!ret && kb >= ps / 1024)
		return true;
	ksft_print_msg("page no longer swapped out: smaps Swap: %lu kB (%s)\n",
		       kb, ret ? errno_name(ret) : "ok");
	return false;
}

/* Run @check on the page of @r that setup_swapped() pages out */
static int with_swapped(struct region *r, int (*check)(struct swapped *s))
{
	struct swapped s;
	int ret;

	ret = setup_swapped(r, &s);
	if (ret)
		return ret;
	ret = check(&s);
	swapped_destroy(&s);
	return ret;
}

/*
 * While the folio of a swapped-out page is in the swap cache, mincore()
 * reports the page resident.  Checked only while /proc/kpageflags shows
 * the folio in the swap cache both before and after the mincore() call.
 */
static int swapcache_page_resident(struct swapped *s)
{
	uint64_t before = 0, after = 0;
	bool cached_before = false, cached_after = false;
	bool resident = false;
	char desc[96];
	int i, ret, err = 0;

	for (i = 0; i < STABLE_TRIES; i++) {
		err = in_swap_cache(s, &cached_before, &before);
		if (err)
			break;
		ret = mincore_page(region_page(s->r, TEST_PAGE), &resident);
		if (ret) {
			ksft_print_msg("mincore: %s\n", errno_name(ret));
			return KSFT_FAIL;
		}
		err = in_swap_cache(s, &cached_after, &after);
		if (err || (cached_before && cached_after))
			break;
		if (!cached_before && !cached_after) {
			return skip(
				"the page had left the swap cache when MADV_PAGEOUT returned (synchronous swap device?): kpageflags of pfn 0x%llx %s",
				(unsigned long long)s->pfn,
				kpageflags_str(after, desc, sizeof(desc)));
		}
	}
	if (err)
		return swap_cache_unknown(s, err);
	if (!cached_before || !cached_after) {
		return skip("the page kept leaving the swap cache during %d mincore calls",
			    STABLE_TRIES);
	}
	if (!resident)
		ksft_print_msg(
			"mincore 0 for a page whose folio (pfn 0x%llx, kpageflags %s) is in the swap cache\n",
			(unsigned long long)s->pfn,
			kpageflags_str(after, desc, sizeof(desc)));
	return resident ? KSFT_PASS : KSFT_FAIL;
}

static int test_swapcache_page_resident(struct region *r)
{
	return with_swapped(r, swapcache_page_resident);
}

static int reclaimed_page_not_resident(struct swapped *s)
{
	uint64_t flags = 0;
	char desc[96];
	bool ok = true;
	bool resident;
	int ret;

	ret = evict_from_swap_cache(s);
	if (ret)
		return ret;
	/* out of the swap cache and still swapped out: nowhere in memory */
	ok &= still_swapped(s);
	ret = mincore_page(region_page(s->r, TEST_PAGE), &resident);
	if (ret) {
		ksft_print_msg("mincore: %s\n", errno_name(ret));
		ok = false;
	} else if (resident) {
		kpageflags_read(s->pfn, &flags);
		ksft_print_msg(
			"mincore 1 for a swapped-out page whose folio left the swap cache (pfn 0x%llx now %s)\n",
			(unsigned long long)s->pfn,
			kpageflags_str(flags, desc, sizeof(desc)));
		ok = false;
	}
	return pass_if(ok);
}

static int test_reclaimed_page_not_resident(struct region *r)
{
	return with_swapped(r, reclaimed_page_not_resident);
}

static int swapin_resident_data_intact(struct swapped *s)
{
	unsigned long swap_kb = 0;
	bool ok = true;
	bool resident;
	int ret;

	/* have the fault read the page back from the swap device if we can */
	if (evict_from_swap_cache(s)) {
		ksft_print_msg("the read fault may find the page in the swap cache: %s\n",
			       skip_reason);
		skip_reason[0] = '\0';
	}

	region_read(s->r, TEST_PAGE);
	ret = mincore_page(region_page(s->r, TEST_PAGE), &resident);
	if (ret || !resident) {
		ksft_print_msg("after a read fault: mincore %s, expected 1\n",
			       ret ? errno_name(ret) : "0");
		ok = false;
	}
	ok &= region_intact(s->r, TEST_PAGE);
	if (!smaps_vma_field_kb(s->r->addr, "Swap", &swap_kb, NULL) && swap_kb) {
		ksft_print_msg("smaps Swap: %lu kB after the swap-in, expected 0\n",
			       swap_kb);
		ok = false;
	}
	return pass_if(ok);
}

static int test_swapin_resident_data_intact(struct region *r)
{
	return with_swapped(r, swapin_resident_data_intact);
}

/*
 * A guard marker is no page: mincore() of a guard page in a shmem mapping
 * reports whether the page cache holds the page.
 */
static int test_guard_page_reports_page_cache(struct region *r)
{
	uint64_t marker = PME_SWAP;
	char desc[160];
	uint64_t entry;
	bool ok = true;
	char *addr;
	size_t i;
	int ret;

	/* pages 0 and 2 cached, 1 and 3 holes */
	ret = setup_prepared(r, prepare_written, PROT_READ | PROT_WRITE);
	if (ret)
		return ret;
	addr = r->addr;
	ret = setup_guard_install(addr, NR_PAGES * ps);
	if (ret)
		return ret;
	/* the markers are there: non-present entries read as SWAP */
	for (i = 0; i < NR_PAGES; i++) {
		ret = pagemap_read(-1, addr + i * ps, &entry);
		if (ret)
			snprintf(desc, sizeof(desc), "%s", errno_name(ret));
		else if ((entry & (marker | PME_PRESENT)) != marker)
			pagemap_describe(entry, desc, sizeof(desc));
		else
			continue;
		ksft_print_msg("page at offset 0x%zx: no guard marker: pagemap %s\n",
			       i * ps, desc);
		ok = false;
	}
	ok &= check_residency("guard pages over cached pages 0 and 2", addr,
			      "1010");
	madvise(addr, NR_PAGES * ps, MADV_GUARD_REMOVE);
	return pass_if(ok);
}

/* Private anonymous memory: the pages marked '1' in @want are written */
static int anon_residency(struct region *r, const char *when,
			  const char *want)
{
	size_t i;
	bool ok;
	int ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	for (i = 0; i < NR_PAGES; i++)
		if (want[i] == '1')
			region_write(r, i);
	ok = check_residency(when, r->addr, want);
	return pass_if(ok);
}

static int test_anon_untouched_not_resident(struct region *r)
{
	return anon_residency(r, "untouched anonymous mapping", "0000");
}

static int test_anon_touched_resident(struct region *r)
{
	return anon_residency(r, "pages 1 and 3 written", "0101");
}

static const struct subtest subtests[] = {
	{ "written_unmapped_resident", test_written_unmapped_resident, ON_FILES },
	{ "hole_not_resident", test_hole_not_resident, ON_FILES },
	{ "fallocated_unwritten_not_resident", test_fallocated_unwritten_not_resident,
	  ON_FILES },
	{ "punched_hole_not_resident", test_punched_hole_not_resident, ON_FILES },
	{ "untouched_not_resident", test_anon_untouched_not_resident, ON_ANON },
	{ "touched_resident", test_anon_touched_resident, ON_ANON },
	{ "swapcache_page_resident", test_swapcache_page_resident, ON_FILES | ON_ANON },
	{ "reclaimed_page_not_resident", test_reclaimed_page_not_resident,
	  ON_FILES | ON_ANON },
	{ "swapin_resident_data_intact", test_swapin_resident_data_intact,
	  ON_FILES | ON_ANON },
	{ "guard_page_reports_page_cache", test_guard_page_reports_page_cache, ON_MEMFD },
};

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.setup = memcg_probe_swap,
	.environment = memcg_print_eviction,
	.cleanup = memcg_cleanup,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
