// SPDX-License-Identifier: GPL-2.0
/*
 * Swap accounting of shmem and private anonymous memory in /proc/self/smaps,
 * /proc/self/smaps_rollup and /proc/self/status.
 *
 * Documentation/filesystems/proc.rst: for shmem mappings, smaps "Swap"
 * includes the size of the mapped (and not replaced by copy-on-write) part
 * of the underlying shmem object out on swap, while "SwapPss" does not take
 * swapped-out shmem into account; status "VmSwap" is the swap used by
 * anonymous private data, shmem swap not included.  Private anonymous swap
 * appears in both Swap and SwapPss.
 *
 * The remap subtests follow the reproducer of "mm/smaps: fix shmem pte hole
 * swap calculation" (Peter Xu, 5.16): a 6 MiB memfd whose every page was
 * paged out, mapped again in part with MAP_PRIVATE and PROT_WRITE, once
 * reported less than the mapped part as Swap, depending on alignment.
 * Here the Swap of the new mapping must be exactly the size of the mapped
 * range, for the first 4 MiB and for pages 3-700 mapped private writable,
 * private read-only and shared.
 *
 * Page-out is MADV_PAGEOUT confirmed by /proc/vmstat pswpout (not by the
 * smaps Swap: these subtests check), pinned to one CPU
 * with THP off; without swap every subtest skips.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

/* pages of the memfd, shared anon and private anon mappings */
#define NR_PAGES		64
#define REMAP_FILE_SIZE		(6UL << 20)
#define REMAP_HEAD_SIZE		(4UL << 20)
/* the unaligned partial range: pages 3 to 700 of the file */
#define PARTIAL_FIRST		3
#define PARTIAL_LAST		700

/* smaps values of one VMA */
struct vma_swap {
	unsigned long size;
	unsigned long rss;
	unsigned long swap;
	unsigned long swap_pss;
};

/*
 * A group of subtests sharing one setup on a backend, named after it.  A
 * group function fills codes[] in the order of names[]; when its setup
 * skips or fails, every subtest of the group gets the same code and reason.
 */
#define MAX_GROUP	4

struct group {
	const char *names[MAX_GROUP + 1];
	int (*fn)(const struct group *g, int codes[MAX_GROUP]);
	int backend;
	int map_flags;		/* of the remap groups: how the memfd is mapped */
};

enum {
	BACKEND_MEMFD,
	BACKEND_SHARED_ANON,
	BACKEND_PRIVATE_ANON,
	BACKEND_FILE,
};

/* Nothing is probed: a memfd that cannot be created fails the subtests */
static const struct backend backends[] = {
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_SHARED_ANON] = { .name = "shared_anon",
				  .kind = MEM_SHARED_ANON },
	[BACKEND_PRIVATE_ANON] = { .name = "private_anon",
				   .kind = MEM_PRIVATE_ANON },
	/* the memfd of the remap subtests, whose names say how it is mapped */
	[BACKEND_FILE] = { .kind = MEM_MEMFD },
};

static size_t ps;

static unsigned long pages_kb(size_t npages)
{
	return npages * (ps / 1024);
}

/* Read Size, Rss, Swap and SwapPss of the VMA holding @addr */
static int read_vma_swap(const void *addr, struct vma_swap *v)
{
	int ret;

	ret = smaps_vma_field_kb(addr, "Size", &v->size, NULL);
	if (!ret)
		ret = smaps_vma_field_kb(addr, "Rss", &v->rss, NULL);
	if (!ret)
		ret = smaps_vma_field_kb(addr, "Swap", &v->swap, NULL);
	if (!ret)
		ret = smaps_vma_field_kb(addr, "SwapPss", &v->swap_pss, NULL);
	if (ret)
		ksft_print_msg("reading smaps of the VMA at %p failed: %s\n",
			       addr, errno_name(ret));
	return ret;
}

static void print_vma_swap(const char *what, const struct vma_swap *v)
{
	ksft_print_msg("%s: smaps Size: %lu kB, Rss: %lu kB, Swap: %lu kB, SwapPss: %lu kB\n",
		       what, v->size, v->rss, v->swap, v->swap_pss);
}

/* @got must be @want; print both when not */
static int expect_kb(const char *what, unsigned long got, unsigned long want)
{
	if (got == want)
		return KSFT_PASS;
	ksft_print_msg("%s is %lu kB, expected %lu kB\n", what, got, want);
	return KSFT_FAIL;
}

/* A region of @npages of @backend, written; a KSFT_* code */
static int setup_written(struct region *r, int backend, size_t npages)
{
	int code = region_open(r, &backends[backend]);

	if (code)
		return setup_failed(r->failed, -code);
	code = region_setup(r, npages);
	if (code == KSFT_PASS)
		fill_pages(r->addr, npages);
	return code;
}

static void set_all(int codes[MAX_GROUP], int code)
{
	int i;

	for (i = 0; i < MAX_GROUP; i++)
		codes[i] = code;
}

/*
 * Shmem (memfd, or MAP_SHARED|MAP_ANONYMOUS): NR_PAGES paged out show up
 * as Swap of the VMA, not as SwapPss, and leave VmSwap alone.
 */
static int shmem_swap(const struct group *g, int codes[MAX_GROUP])
{
	unsigned long want = pages_kb(NR_PAGES);
	unsigned long vmswap_before, vmswap_after;
	struct vma_swap v;
	struct region r;
	int code, ret;

	code = setup_written(&r, g->backend, NR_PAGES);
	if (code != KSFT_PASS)
		return code;

	ret = proc_field_kb("/proc/self/status", "VmSwap", &vmswap_before);
	if (ret) {
		code = ret == -ENOENT ? skip("no VmSwap in /proc/self/status") :
		       setup_failed("reading VmSwap", -ret);
		goto out;
	}
	code = region_pageout(&r, 0, NR_PAGES);
	if (code != KSFT_PASS)
		goto out;
	ret = proc_field_kb("/proc/self/status", "VmSwap", &vmswap_after);
	if (ret || read_vma_swap(r.addr, &v)) {
		code = setup_failed("reading status or smaps", ret ? -ret : EIO);
		goto out;
	}
	print_vma_swap("paged out", &v);
	ksft_print_msg("status VmSwap: %lu kB before, %lu kB after the page-out\n",
		       vmswap_before, vmswap_after);

	codes[0] = expect_kb("smaps Swap:", v.swap, want);
	codes[1] = expect_kb("smaps SwapPss:", v.swap_pss, 0);
	codes[2] = expect_kb("status VmSwap after the shmem page-out",
			     vmswap_after, vmswap_before);
out:
	region_close(&r);
	return code;
}

/* Private anonymous swap: in Swap and, not shared, fully in SwapPss */
static int private_anon_swap(const struct group *g, int codes[MAX_GROUP])
{
	unsigned long want = pages_kb(NR_PAGES);
	unsigned long vmswap_before = 0, vmswap_after = 0;
	struct vma_swap v;
	struct region r;
	int code;

	code = setup_written(&r, g->backend, NR_PAGES);
	if (code != KSFT_PASS)
		return code;
	proc_field_kb("/proc/self/status", "VmSwap", &vmswap_before);
	code = region_pageout(&r, 0, NR_PAGES);
	if (code != KSFT_PASS)
		goto out;
	if (read_vma_swap(r.addr, &v)) {
		code = KSFT_FAIL;
		goto out;
	}
	print_vma_swap("paged out", &v);
	/* proc.rst: status values "may not be very precise"; not asserted */
	proc_field_kb("/proc/self/status", "VmSwap", &vmswap_after);
	ksft_print_msg("status VmSwap: %lu kB before, %lu kB after the page-out\n",
		       vmswap_before, vmswap_after);

	codes[0] = expect_kb("smaps Swap:", v.swap, want);
	codes[1] = expect_kb("smaps SwapPss:", v.swap_pss, want);
out:
	region_close(&r);
	return code;
}

/* Print the VMAs other than the one holding @addr that have swap */
static void print_other_swap_vmas(const void *addr)
{
	char line[4352], header[4352] = "";
	unsigned long start, end, kb;
	unsigned int shown = 0;
	bool ours = false;
	FILE *fp;

	fp = fopen("/proc/self/smaps", "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp) && shown < 8) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(header, sizeof(header), "%s", line);
			ours = (unsigned long)addr >= start &&
			       (unsigned long)addr < end;
			continue;
		}
		if (ours || sscanf(line, "Swap: %lu kB", &kb) != 1 || !kb)
			continue;
		ksft_print_msg("other VMA with swap: %s: Swap: %lu kB\n",
			       header, kb);
		shown++;
	}
	fclose(fp);
}

/*
 * Map [@first, @first + @npages) of @fd with @prot and @flags; its smaps
 * Swap: must be the size of the range, every page of the file being out
 * on swap.  With @rollup, smaps_rollup Swap: must agree as well: it must
 * be the sum of Swap: over all VMAs, of which this mapping is exactly the
 * range.  Returns the code of the Swap: check; *@rollup gets the other.
 */
static int check_remap(int fd, size_t first, size_t npages, int prot,
		       int flags, const char *what, int *rollup)
{
	unsigned long want = pages_kb(npages);
	unsigned long rollup_kb, sum_kb;
	struct vma_swap v;
	int code = KSFT_FAIL;
	char desc[96];
	char *map;
	int ret;

	if (rollup)
		*rollup = KSFT_FAIL;
	map = mmap(NULL, npages * ps, prot, flags, fd, first * ps);
	if (map == MAP_FAILED) {
		setup_failed("mmap", errno);
		return KSFT_FAIL;
	}
	if (read_vma_swap(map, &v))
		goto out;
	snprintf(desc, sizeof(desc), "%s of pages %zu-%zu", what, first,
		 first + npages - 1);
	print_vma_swap(desc, &v);
	code = expect_kb("smaps Swap:", v.swap, want);
	if (!rollup)
		goto out;

	ret = proc_field_kb("/proc/self/smaps_rollup", "Swap", &rollup_kb);
	if (ret == -ENOENT && access("/proc/self/smaps_rollup", R_OK)) {
		*rollup = skip("no /proc/self/smaps_rollup");
		goto out;
	}
	if (!ret)
		ret = smaps_sum_field_kb("Swap", &sum_kb);
	if (ret) {
		*rollup = setup_failed("reading smaps_rollup or smaps", -ret);
		goto out;
	}
	ksft_print_msg(
		"smaps_rollup Swap: %lu kB; sum of smaps Swap: %lu kB, of which this mapping %lu kB\n",
		rollup_kb, sum_kb, v.swap);
	if (sum_kb != v.swap)
		print_other_swap_vmas(map);
	*rollup = expect_kb("smaps_rollup Swap:", rollup_kb, sum_kb);
	if (*rollup == KSFT_PASS)
		*rollup = expect_kb("smaps_rollup Swap: without the other VMAs",
				    rollup_kb - (sum_kb - v.swap), want);
out:
	munmap(map, npages * ps);
	return code;
}

/*
 * The start of Peter Xu's reproducer: a 6 MiB memfd, every page touched
 * and paged out, then unmapped.  Returns KSFT_PASS with the memfd in
 * @r, or the code every subtest of the group gets.
 */
static int paged_out_memfd(struct region *r, int backend)
{
	int code;

	code = setup_written(r, backend, REMAP_FILE_SIZE / ps);
	if (code != KSFT_PASS)
		return code;
	code = region_pageout(r, 0, r->npages);
	region_unmap(r);
	if (code != KSFT_PASS)
		region_close(r);
	return code;
}

/* ... then mapped again in part, private or shared as @g says */
static int remap(const struct group *g, int codes[MAX_GROUP])
{
	size_t partial = PARTIAL_LAST - PARTIAL_FIRST + 1;
	struct region r;
	int code;

	code = paged_out_memfd(&r, g->backend);
	if (code != KSFT_PASS)
		return code;
	if (g->map_flags == MAP_SHARED) {
		codes[0] = check_remap(r.fd, PARTIAL_FIRST, partial,
				       PROT_READ | PROT_WRITE, MAP_SHARED,
				       "shared mapping", NULL);
	} else {
		codes[0] = check_remap(r.fd, 0, REMAP_HEAD_SIZE / ps,
				       PROT_READ | PROT_WRITE, MAP_PRIVATE,
				       "private writable mapping", &codes[1]);
		codes[2] = check_remap(r.fd, PARTIAL_FIRST, partial,
				       PROT_READ | PROT_WRITE, MAP_PRIVATE,
				       "private writable mapping", NULL);
		codes[3] = check_remap(r.fd, PARTIAL_FIRST, partial, PROT_READ,
				       MAP_PRIVATE, "private read-only mapping",
				       NULL);
	}
	region_close(&r);
	return KSFT_PASS;
}

static const struct group groups[] = {
	{ { "swap_in_smaps_swap", "swap_not_in_swappss",
	    "swap_not_in_status_vmswap" }, shmem_swap, BACKEND_MEMFD, 0 },
	{ { "swap_in_smaps_swap", "swap_not_in_swappss",
	    "swap_not_in_status_vmswap" }, shmem_swap, BACKEND_SHARED_ANON, 0 },
	{ { "swap_in_smaps_swap", "swap_in_swappss" }, private_anon_swap,
	  BACKEND_PRIVATE_ANON, 0 },
	{ { "private_remap_first_4m_of_6m_swap_exact",
	    "private_remap_first_4m_of_6m_rollup_agrees",
	    "private_remap_pages_3_to_700_swap_exact",
	    "readonly_remap_pages_3_to_700_swap_exact" }, remap, BACKEND_FILE,
	  MAP_PRIVATE },
	{ { "shared_remap_pages_3_to_700_swap_exact" }, remap, BACKEND_FILE,
	  MAP_SHARED },
};

int main(void)
{
	const struct group *g;
	unsigned int plan = 0;
	int codes[MAX_GROUP];
	size_t i, j;
	int code;

	ps = sys_pagesize();
	for (i = 0; i < ARRAY_SIZE(groups); i++)
		for (j = 0; groups[i].names[j]; j++)
			plan++;
	suite_start(plan, NULL, false);
	env_banner(NULL, 0, NULL);

	for (g = groups; g < groups + ARRAY_SIZE(groups); g++) {
		skip_reason[0] = '\0';
		set_all(codes, KSFT_SKIP);
		code = swap_present() ? g->fn(g, codes) :
		       skip("no swap configured");
		report_checks(backends[g->backend].name, g->names, codes, code);
	}
	suite_end();
}
