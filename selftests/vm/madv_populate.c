// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_POPULATE_READ and MADV_POPULATE_WRITE: which errors they report and
 * what /proc/self/pagemap and mincore() say about the range afterwards.
 *
 * Mostly private anonymous memory, where a read populate maps the shared
 * zero page and a write populate allocates exclusive anonymous pages, plus
 * two shmem cases (memfd): populating past i_size fails with EFAULT, and a
 * write populate of a MAP_PRIVATE memfd mapping replaces the file pages by
 * private anonymous copies without touching the file.
 *
 * Transparent huge pages are disabled for every test range so that each
 * page is mapped by its own page table entry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "vm_util.h"

/* pages in each test range */
#define NR_PAGES	16
#define MAX_PAGE_DIAGS	4

static size_t ps;
static size_t range_len;
static int pagemap_fd = -1;

static void report(const char *name, bool ok)
{
	ksft_test_result_code(ok ? KSFT_PASS : KSFT_FAIL, name, NULL);
}

static char *map_anon(int prot)
{
	char *addr;

	addr = mmap(NULL, range_len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		ksft_exit_fail_msg("mmap of %zu bytes failed: %s\n", range_len,
				   errno_name(errno));
	/*
	 * A PROT_NONE or PROT_READ VMA takes MADV_NOHUGEPAGE as well; keep
	 * going if it is refused, THP only matters for the pagemap checks.
	 */
	thp_disable_range(addr, range_len);
	return addr;
}

/* madvise() must fail with @want_err, or succeed when @want_err is 0 */
static bool madvise_result_is(void *addr, size_t len, int advice,
			      int want_err)
{
	int ret, err;

	errno = 0;
	ret = madvise(addr, len, advice);
	err = ret ? errno : 0;
	if (ret == (want_err ? -1 : 0) && err == want_err)
		return true;
	ksft_print_msg("madvise(%s) over 0x%zx bytes: got %d (%s), expected %s\n",
		       advice == MADV_POPULATE_READ ? "MADV_POPULATE_READ" :
		       "MADV_POPULATE_WRITE", len, ret,
		       err ? errno_name(err) : "no error",
		       want_err ? errno_name(want_err) : "success");
	return false;
}

/*
 * Every page of [@addr, @addr + @len) must have all pagemap bits of
 * @must_set set and none of @must_clear.  Mismatches are printed.
 */
static bool range_pagemap_is(char *addr, size_t len, uint64_t must_set,
			     uint64_t must_clear)
{
	unsigned int diags = 0;
	char desc[128];
	uint64_t entry;
	bool ok = true;
	size_t off;
	int ret;

	for (off = 0; off < len; off += ps) {
		ret = pagemap_read(pagemap_fd, addr + off, &entry);
		if (ret) {
			ksft_print_msg("pagemap read at page %zu: %s\n",
				       off / ps, errno_name(ret));
			return false;
		}
		if ((entry & must_set) == must_set && !(entry & must_clear))
			continue;
		ok = false;
		if (diags++ < MAX_PAGE_DIAGS)
			ksft_print_msg("page %zu: pagemap %s\n", off / ps,
				       pagemap_describe(entry, desc,
							sizeof(desc)));
	}
	return ok;
}

static bool range_not_populated(char *addr, size_t len)
{
	return range_pagemap_is(addr, len, 0,
				PM_BIT(PM_PRESENT) | PM_BIT(PM_SWAP));
}

static bool range_present(char *addr, size_t len)
{
	return range_pagemap_is(addr, len, PM_BIT(PM_PRESENT), 0);
}

static bool range_resident(char *addr, size_t len)
{
	unsigned char vec[NR_PAGES];
	size_t i;
	int ret;

	ret = mincore_range(addr, len, vec);
	if (ret) {
		ksft_print_msg("mincore: %s\n", errno_name(ret));
		return false;
	}
	for (i = 0; i < len / ps; i++) {
		if (!(vec[i] & 1)) {
			ksft_print_msg("mincore: page %zu not resident\n", i);
			return false;
		}
	}
	return true;
}

/* Page frame number of @addr, 0 when unknown (not root, or not present) */
static uint64_t page_pfn(char *addr)
{
	uint64_t entry;

	if (pagemap_read(pagemap_fd, addr, &entry) ||
	    !pagemap_entry_has(entry, PM_PRESENT))
		return 0;
	return entry & PM_PFN_MASK;
}

/*
 * After a read populate of private anonymous memory every page maps the
 * shared zero page: one PFN for the whole range, neither exclusive nor
 * file-backed.  Without CAP_SYS_ADMIN the PFNs read as 0 and only the
 * flags are compared.
 */
static bool range_maps_zero_page(char *addr, size_t len)
{
	uint64_t first = page_pfn(addr);
	bool ok;
	size_t off;

	ok = range_pagemap_is(addr, len, PM_BIT(PM_PRESENT),
			      PM_BIT(PM_MMAP_EXCLUSIVE) | PM_BIT(PM_FILE));
	for (off = ps; first && off < len; off += ps) {
		if (page_pfn(addr + off) != first) {
			ksft_print_msg("page %zu: pfn 0x%llx, page 0: pfn 0x%llx\n",
				       off / ps,
				       (unsigned long long)page_pfn(addr + off),
				       (unsigned long long)first);
			return false;
		}
	}
	return ok;
}

/* Exclusive anonymous pages, each with a PFN of its own */
static bool range_maps_private_pages(char *addr, size_t len)
{
	uint64_t pfns[NR_PAGES];
	size_t i, j;
	bool ok;

	ok = range_pagemap_is(addr, len,
			      PM_BIT(PM_PRESENT) | PM_BIT(PM_MMAP_EXCLUSIVE),
			      PM_BIT(PM_FILE) | PM_BIT(PM_SWAP));
	for (i = 0; i < len / ps; i++) {
		pfns[i] = page_pfn(addr + i * ps);
		for (j = 0; pfns[i] && j < i; j++) {
			if (pfns[j] == pfns[i]) {
				ksft_print_msg("pages %zu and %zu share pfn 0x%llx\n",
					       j, i,
					       (unsigned long long)pfns[i]);
				return false;
			}
		}
	}
	return ok;
}

static void test_protections(void)
{
	static const struct {
		const char *name;
		int prot;
		int advice;
		int want_err;
	} cases[] = {
		{ "prot_read_populate_read_ok", PROT_READ, MADV_POPULATE_READ, 0 },
		{ "prot_read_populate_write_einval", PROT_READ, MADV_POPULATE_WRITE, EINVAL },
		{ "prot_write_populate_read_einval", PROT_WRITE, MADV_POPULATE_READ, EINVAL },
		{ "prot_write_populate_write_ok", PROT_WRITE, MADV_POPULATE_WRITE, 0 },
		{ "prot_none_populate_read_einval", PROT_NONE, MADV_POPULATE_READ, EINVAL },
		{ "prot_none_populate_write_einval", PROT_NONE, MADV_POPULATE_WRITE, EINVAL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *addr = map_anon(cases[i].prot);

		report(cases[i].name,
		       madvise_result_is(addr, range_len, cases[i].advice,
					 cases[i].want_err));
		munmap(addr, range_len);
	}
}

/* With the second page unmapped, any range that covers it fails */
static void test_holes(void)
{
	static const struct {
		const char *name;
		size_t first_page;
		size_t nr_pages;	/* 0: up to the end of the range */
		int advice;
	} cases[] = {
		{ "hole_in_middle_populate_read_enomem", 0, 0, MADV_POPULATE_READ },
		{ "hole_in_middle_populate_write_enomem", 0, 0, MADV_POPULATE_WRITE },
		{ "hole_at_end_populate_read_enomem", 0, 2, MADV_POPULATE_READ },
		{ "hole_at_end_populate_write_enomem", 0, 2, MADV_POPULATE_WRITE },
		{ "hole_only_populate_read_enomem", 1, 1, MADV_POPULATE_READ },
		{ "hole_only_populate_write_enomem", 1, 1, MADV_POPULATE_WRITE },
	};
	char *addr = map_anon(PROT_READ | PROT_WRITE);
	size_t i;

	if (munmap(addr + ps, ps))
		ksft_exit_fail_msg("munmap of the second page failed: %s\n",
				   errno_name(errno));

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = range_len - cases[i].first_page * ps;

		if (cases[i].nr_pages)
			len = cases[i].nr_pages * ps;

		report(cases[i].name,
		       madvise_result_is(addr + cases[i].first_page * ps, len,
					 cases[i].advice, ENOMEM));
	}
	munmap(addr, ps);
	munmap(addr + 2 * ps, range_len - 2 * ps);
}

static void test_populate_read(void)
{
	char *addr = map_anon(PROT_READ | PROT_WRITE);

	report("populate_read_range_unpopulated_before",
	       range_not_populated(addr, range_len));
	report("populate_read_returns_0",
	       madvise_result_is(addr, range_len, MADV_POPULATE_READ, 0));
	report("populate_read_range_present", range_present(addr, range_len));
	report("populate_read_maps_zero_page",
	       range_maps_zero_page(addr, range_len));
	report("populate_read_mincore_resident",
	       range_resident(addr, range_len));

	/* writing over the zero page gives every page a copy of its own */
	report("populate_write_after_read_returns_0",
	       madvise_result_is(addr, range_len, MADV_POPULATE_WRITE, 0));
	report("populate_write_after_read_maps_private_pages",
	       range_maps_private_pages(addr, range_len));
	munmap(addr, range_len);
}

static void test_populate_write(void)
{
	char *addr = map_anon(PROT_READ | PROT_WRITE);

	report("populate_write_range_unpopulated_before",
	       range_not_populated(addr, range_len));
	report("populate_write_returns_0",
	       madvise_result_is(addr, range_len, MADV_POPULATE_WRITE, 0));
	report("populate_write_range_present", range_present(addr, range_len));
	report("populate_write_maps_private_pages",
	       range_maps_private_pages(addr, range_len));
	report("populate_write_mincore_resident",
	       range_resident(addr, range_len));
	munmap(addr, range_len);
}

static void test_softdirty(void)
{
	static const char * const names[] = {
		"softdirty_clear_refs_cleans_range",
		"softdirty_populate_read_returns_0",
		"softdirty_populate_read_leaves_range_clean",
		"softdirty_populate_write_returns_0",
		"softdirty_populate_write_dirties_range",
	};
	uint64_t sd = PM_BIT(PM_SOFT_DIRTY);
	char *addr;
	size_t i;
	int ret;

	if (!softdirty_supported()) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			ksft_test_result_code(KSFT_SKIP, names[i],
					      "soft-dirty tracking not supported");
		return;
	}

	addr = map_anon(PROT_READ | PROT_WRITE);
	ret = clear_softdirty();
	if (ret) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			ksft_test_result_code(KSFT_SKIP, names[i],
					      "writing /proc/self/clear_refs failed: %s",
					      errno_name(ret));
		munmap(addr, range_len);
		return;
	}

	report(names[0], range_pagemap_is(addr, range_len, 0, sd));
	report(names[1],
	       madvise_result_is(addr, range_len, MADV_POPULATE_READ, 0));
	report(names[2], range_pagemap_is(addr, range_len, PM_BIT(PM_PRESENT), sd));
	report(names[3],
	       madvise_result_is(addr, range_len, MADV_POPULATE_WRITE, 0));
	report(names[4], range_pagemap_is(addr, range_len, PM_BIT(PM_PRESENT) | sd, 0));
	munmap(addr, range_len);
}

/* A memfd of @size bytes mapped over range_len bytes, or NULL */
static char *map_memfd(int flags, off_t size, int *fdp)
{
	char *addr;
	int fd;

	fd = memfd_create("madv_populate", MFD_CLOEXEC);
	if (fd < 0) {
		ksft_print_msg("memfd_create: %s\n", errno_name(errno));
		return NULL;
	}
	if (ftruncate(fd, size)) {
		ksft_print_msg("ftruncate: %s\n", errno_name(errno));
		close(fd);
		return NULL;
	}
	addr = mmap(NULL, range_len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (addr == MAP_FAILED) {
		ksft_print_msg("mmap of the memfd: %s\n", errno_name(errno));
		close(fd);
		return NULL;
	}
	thp_disable_range(addr, range_len);
	*fdp = fd;
	return addr;
}

/* Pages past i_size of a shared memfd mapping cannot be faulted in */
static void test_shmem_beyond_eof(void)
{
	static const char * const names[] = {
		"shmem_beyond_eof_populate_read_efault",
		"shmem_beyond_eof_populate_write_efault",
	};
	char *addr;
	int fd;

	/* i_size covers the first half of the mapping only */
	addr = map_memfd(MAP_SHARED, range_len / 2, &fd);
	if (!addr) {
		report(names[0], false);
		report(names[1], false);
		return;
	}
	report(names[0], madvise_result_is(addr, range_len,
					   MADV_POPULATE_READ, EFAULT));
	report(names[1], madvise_result_is(addr, range_len,
					   MADV_POPULATE_WRITE, EFAULT));
	munmap(addr, range_len);
	close(fd);
}

/*
 * A write populate of a private file mapping replaces the file pages by
 * private anonymous copies: later writes through the mapping stay out of
 * the file.
 */
static void test_private_memfd_populate_write(void)
{
	static const char * const names[] = {
		"private_memfd_populate_write_returns_0",
		"private_memfd_populate_write_maps_anon_copies",
		"private_memfd_populate_write_keeps_file_content",
	};
	bool unchanged = true;
	char *addr, *buf;
	size_t i;
	int fd;

	addr = map_memfd(MAP_PRIVATE, range_len, &fd);
	buf = malloc(range_len);
	if (!addr || !buf) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			report(names[i], false);
		goto out;
	}
	memset(buf, 0x11, range_len);
	if (pwrite(fd, buf, range_len, 0) != (ssize_t)range_len) {
		ksft_print_msg("pwrite to the memfd failed\n");
		for (i = 0; i < ARRAY_SIZE(names); i++)
			report(names[i], false);
		goto out;
	}

	report(names[0], madvise_result_is(addr, range_len,
					   MADV_POPULATE_WRITE, 0));
	report(names[1], range_maps_private_pages(addr, range_len));

	memset(addr, 0x22, range_len);
	if (pread(fd, buf, range_len, 0) != (ssize_t)range_len) {
		ksft_print_msg("pread from the memfd failed\n");
		unchanged = false;
	}
	for (i = 0; unchanged && i < range_len; i++) {
		if (buf[i] != 0x11) {
			ksft_print_msg("memfd byte 0x%zx is 0x%02x, expected 0x11\n",
				       i, (unsigned char)buf[i]);
			unchanged = false;
		}
	}
	report(names[2], unchanged);
out:
	free(buf);
	if (addr) {
		munmap(addr, range_len);
		close(fd);
	}
}

/* Exit with a SKIP when the kernel predates MADV_POPULATE_(READ|WRITE) */
static void sense_support(void)
{
	char *addr = mmap(NULL, ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (addr == MAP_FAILED)
		ksft_exit_fail_msg("mmap failed: %s\n", errno_name(errno));
	if (madvise(addr, ps, MADV_POPULATE_READ))
		ksft_exit_skip("MADV_POPULATE_READ not available: %s\n",
			       errno_name(errno));
	if (madvise(addr, ps, MADV_POPULATE_WRITE))
		ksft_exit_skip("MADV_POPULATE_WRITE not available: %s\n",
			       errno_name(errno));
	munmap(addr, ps);
}

int main(void)
{
	ps = psize();
	range_len = NR_PAGES * ps;

	ksft_print_header();
	sense_support();
	pagemap_fd = pagemap_open();
	if (pagemap_fd < 0)
		ksft_exit_skip("cannot open /proc/self/pagemap: %s\n",
			       errno_name(pagemap_fd));
	ksft_set_plan(6 + 6 + 7 + 5 + 5 + 2 + 3);
	if (geteuid())
		ksft_print_msg("not root: pagemap PFNs read as 0, PFN checks are skipped\n");

	test_protections();
	test_holes();
	test_populate_read();
	test_populate_write();
	test_softdirty();
	test_shmem_beyond_eof();
	test_private_memfd_populate_write();

	close(pagemap_fd);
	ksft_finished();
}
