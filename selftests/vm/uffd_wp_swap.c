// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd write protection, then reclaim: a page that is
 * write-protected and then paged out must stay write-protected.
 *
 * Private anonymous memory keeps the protection in the swap pte
 * (pte_swp_uffd_wp(), "userfaultfd: wp: support swap and page migration",
 * 5.7); shmem, whose pte is cleared at swap-out (pagemap.rst, "Exceptions
 * for Shared Memory"), gets a uffd-wp pte marker in its place ("mm/shmem:
 * persist uffd-wp bit across zapping for file-backed", 5.19).  Either way
 * pagemap.rst says what pagemap reads: bit 57 ("pte is uffd-wp
 * write-protected", since 5.13) with bit 62 (swapped), and once the page
 * faults back, bit 57 with bit 63 (present).  userfaultfd(2) ("Userfaultfd
 * write-protect mode") says a write to a write-protected page raises a
 * write-protect fault message, resolved with UFFDIO_WRITEPROTECT mode 0;
 * reclaim in between changes nothing of that.
 *
 * mremap() of write-protected memory to a new place, without
 * UFFD_FEATURE_EVENT_REMAP, leaves the new VMA unregistered (userfaultfd.rst:
 * the moved area is removed from the userfaultfd context), so no pte of it
 * may keep uffd-wp state: "mm: clear uffd-wp PTE/PMD state on mremap()"
 * (CVE-2025-21696; upstream's selftests/mm/uffd-wp-mremap.c), present and
 * swapped out alike, and the data must move intact.
 *
 * Each subtest runs on private anonymous memory (anon) and on every shmem
 * backend: MAP_SHARED|MAP_ANONYMOUS, a memfd, a tmpfs file, a SysV segment,
 * where userfaultfd takes it (shmem needs UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
 * userfaultfd does not take SysV mappings at all, which is probed).  Every
 * page-out is confirmed by the swap writes in /proc/vmstat, never by
 * pagemap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES	4
/* the page that is written; the others stay holes */
#define TEST_PAGE	1
/* what a write into TEST_PAGE puts at its first byte; page_byte() is never 0 */
#define NEW_BYTE	0

#define ON_ALL		((1U << NR_MEM_KINDS) - 1)

static struct backend backends[NR_MEM_KINDS] = MEM_KIND_BACKENDS;

/* the userfaultfd of the subtest that is running, closed after it */
static int uffd = -1;

static void uffd_close(void)
{
	if (uffd >= 0)
		close(uffd);
	uffd = -1;
}

static bool check_page(const char *when, const struct region *r,
		       uint64_t set, uint64_t clear)
{
	return pagemap_pages_are(when, r->addr, TEST_PAGE, 1, set, clear, 1);
}

/* TEST_PAGE written, the whole region registered and write-protected */
static int setup_wp(struct region *r)
{
	int ret;

	uffd_close();
	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	region_write(r, TEST_PAGE);
	ret = uffd_wp_register_region(r, &uffd);
	if (ret)
		return ret;
	ret = uffd_wp_protect(uffd, r->addr, r->len);
	if (ret)
		uffd_close();
	return ret;
}

/* ... and then TEST_PAGE paged out */
static int setup_wp_paged_out(struct region *r)
{
	return region_written_paged_out(r, setup_wp, TEST_PAGE, 1);
}

/*
 * Write NEW_BYTE into TEST_PAGE: it must raise a write-protect fault
 * when @want_event, none otherwise, and the byte must land.
 */
static bool write_test_page(const struct region *r, bool want_event)
{
	char *page = region_page(r, TEST_PAGE);
	bool event, ok = true;
	int ret;

	ret = uffd_write_catching_wp(uffd, page, NEW_BYTE, &event);
	if (ret) {
		ksft_print_msg("writing page %d while serving the userfaultfd: %s\n",
			       TEST_PAGE, errno_name(-ret));
		ok = false;
	}
	if (event != want_event) {
		ksft_print_msg("page %d: the write %s a userfaultfd write-protect fault\n",
			       TEST_PAGE, event ? "raised" : "did not raise");
		ok = false;
	}
	if (page[0] != NEW_BYTE) {
		ksft_print_msg("page %d: byte 0 is 0x%02x after the write, expected 0x%02x\n",
			       TEST_PAGE, (unsigned char)page[0], NEW_BYTE);
		ok = false;
	}
	if (find_byte_mismatch(page + 1, sys_pagesize() - 1,
			       page_byte(TEST_PAGE)) >= 0) {
		ksft_print_msg("page %d: the rest of the page changed\n",
			       TEST_PAGE);
		ok = false;
	}
	return ok;
}

/*
 * pagemap.rst: bit 57 uffd-wp and bit 62 swapped; neither present nor, as
 * no page is found for a swap pte or a marker, file.
 */
static int test_wp_swapped_reads_swap_uffd_wp(struct region *r)
{
	return pass_if(check_page("write-protected, then paged out", r,
				  PME_SWAP | PME_UFFD_WP,
				  PME_PRESENT | PME_FILE | PME_GUARD_REGION));
}

/* A read fault brings the page back still write-protected: bits 57 and 63 */
static int test_wp_swapped_fault_back_keeps_uffd_wp(struct region *r)
{
	bool ok;

	region_read(r, TEST_PAGE);
	ok = check_page("after a read fault", r, PME_PRESENT | PME_UFFD_WP,
			PME_SWAP);
	return pass_if(region_intact(r, TEST_PAGE) && ok);
}

/*
 * userfaultfd(2): a write to a write-protected page raises a write-protect
 * fault; after the read fault brought the page back, and with the write
 * itself as the fault that brings it back.  Resolved, the write lands and
 * the page is no longer write-protected.
 */
static int wp_swapped_write(struct region *r, bool read_first)
{
	bool ok = true;

	if (read_first) {
		region_read(r, TEST_PAGE);
		ok &= check_page("after a read fault", r,
				 PME_PRESENT | PME_UFFD_WP, PME_SWAP);
	}
	ok &= write_test_page(r, true);
	ok &= check_page("after the fault was resolved", r, PME_PRESENT,
			 PME_SWAP | PME_UFFD_WP);
	return pass_if(ok);
}

static int test_wp_swapped_read_then_write_raises_wp_fault(struct region *r)
{
	return wp_swapped_write(r, true);
}

static int test_wp_swapped_write_raises_wp_fault(struct region *r)
{
	return wp_swapped_write(r, false);
}

/*
 * Move the write-protected region to a new place.  Before: TEST_PAGE has
 * bit 57 (with @before) and the VMA is registered ("uw" in VmFlags).
 * After: the VMA is not registered and no page has bit 57.
 */
static bool moved_without_uffd_wp(struct region *r, uint64_t before)
{
	bool ok = true;
	int ret;

	if (!check_page("write-protected, before mremap", r,
			before | PME_UFFD_WP, 0) ||
	    smaps_vma_flag(r->addr, "uw") != 1) {
		ksft_print_msg(
			"setup: the region is not write-protected before mremap (smaps VmFlags uw: %d)\n",
			smaps_vma_flag(r->addr, "uw"));
		return false;
	}
	ret = region_move(r);
	if (ret) {
		setup_failed("mremap(MREMAP_MAYMOVE | MREMAP_FIXED)", -ret);
		return false;
	}
	ret = smaps_vma_flag(r->addr, "uw");
	if (ret) {
		ksft_print_msg("after mremap: smaps VmFlags of the new VMA: uw %s\n",
			       ret > 0 ? "set" : errno_name(-ret));
		ok = false;
	}
	ok &= pagemap_pages_are("after mremap", r->addr, 0, NR_PAGES, 0,
				PME_UFFD_WP, NR_PAGES);
	return ok;
}

static int test_mremap_wp_present_drops_uffd_wp(struct region *r)
{
	bool ok;

	ok = moved_without_uffd_wp(r, PME_PRESENT);
	ok &= check_page("after mremap", r, PME_PRESENT, PME_UFFD_WP);
	ok &= region_intact(r, TEST_PAGE);
	/* the new VMA is not registered: nothing to serve */
	ok &= write_test_page(r, false);
	return pass_if(ok);
}

/*
 * Swapped out: the swap pte of private anonymous memory moves without its
 * uffd-wp bit; the marker of shmem is dropped, leaving the cleared pte of
 * a swapped-out shmem page (pagemap.rst, "Exceptions for Shared Memory").
 */
static int test_mremap_wp_swapped_drops_uffd_wp(struct region *r)
{
	bool anon = r->kind == MEM_PRIVATE_ANON;
	bool ok;

	ok = moved_without_uffd_wp(r, PME_SWAP);
	if (anon)
		ok &= check_page("after mremap", r, PME_SWAP,
				 PME_PRESENT | PME_UFFD_WP);
	else
		ok &= check_page("after mremap", r, 0, PME_NONE_MASK);
	region_read(r, TEST_PAGE);
	ok &= check_page("after mremap and a read fault", r, PME_PRESENT,
			 PME_SWAP | PME_UFFD_WP);
	ok &= region_intact(r, TEST_PAGE);
	ok &= write_test_page(r, false);
	return pass_if(ok);
}

static const struct subtest subtests[] = {
	{ "wp_swapped_reads_swap_uffd_wp", test_wp_swapped_reads_swap_uffd_wp,
	  ON_ALL, setup_wp_paged_out },
	{ "wp_swapped_fault_back_keeps_uffd_wp",
	  test_wp_swapped_fault_back_keeps_uffd_wp, ON_ALL, setup_wp_paged_out },
	{ "wp_swapped_read_then_write_raises_wp_fault",
	  test_wp_swapped_read_then_write_raises_wp_fault, ON_ALL,
	  setup_wp_paged_out },
	{ "wp_swapped_write_raises_wp_fault",
	  test_wp_swapped_write_raises_wp_fault, ON_ALL, setup_wp_paged_out },
	{ "mremap_wp_present_drops_uffd_wp",
	  test_mremap_wp_present_drops_uffd_wp, ON_ALL, setup_wp },
	{ "mremap_wp_swapped_drops_uffd_wp",
	  test_mremap_wp_swapped_drops_uffd_wp, ON_ALL, setup_wp_paged_out },
};

static int run_and_close(const struct subtest *t, struct region *r)
{
	int code = t->fn(r);

	uffd_close();
	return code;
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.pagemap = true,
	.setup = uffd_probe_features,
	.environment = uffd_print_features,
	.run = run_and_close,
	.cleanup = uffd_close,
};

int main(void)
{
	suite_main(&suite);
}
