// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/self/pagemap on shared memory: what a process can and cannot learn
 * about its shmem pages (MAP_SHARED|MAP_ANONYMOUS, memfd, tmpfs file) from
 * its own page table, with private anonymous memory for contrast.
 *
 * Documentation/admin-guide/mm/pagemap.rst ("Exceptions for Shared
 * Memory") says that the page table entries of shared pages are cleared
 * when the pages are zapped or swapped out, which makes a swapped-out shmem
 * page indistinguishable from one that was never allocated: after
 * MADV_PAGEOUT its entry reads neither PRESENT nor SWAP, exactly as after
 * MADV_DONTNEED, and its soft-dirty bit is lost.  A private anonymous page
 * keeps a swap entry in its pte instead, reported as SWAP together with the
 * soft-dirty bit.
 *
 * A pte only exists where this process faulted the page in: a child that
 * never touched a shared mapping gets no ptes at fork(), and a page mapped
 * by parent and child is neither "exclusively mapped" nor paged out by
 * MADV_PAGEOUT, which skips shared pages.
 *
 * PTE markers are non-present ptes that carry no swap slot but are
 * reported as SWAP all the same:
 *  - userfaultfd write protection of shmem installs a marker on a pte with
 *    no page (a hole, or a paged-out page), read as SWAP|UFFD_WP.  For shmem
 *    this needs UFFD_FEATURE_WP_HUGETLBFS_SHMEM (5.19); on private anonymous
 *    memory markers are only installed with UFFD_FEATURE_WP_UNPOPULATED
 *    (6.4).  UFFDIO_UNREGISTER and closing the userfaultfd remove them (the
 *    latter since "mm/userfaultfd: reset ptes when close() for wr-protected
 *    ones", 6.9, backported to stable kernels; without it the check fails),
 *    and fork() without UFFD_FEATURE_EVENT_FORK copies none to the child.
 *  - MADV_GUARD_INSTALL installs guard markers, on shmem since 6.15, read
 *    as SWAP|GUARD_REGION (bit 58, also since 6.15).
 *
 * Each behaviour is one subtest, named after the memory it runs on:
 * shared_anon, memfd, tmpfs (an O_TMPFILE file in /dev/shm or another
 * tmpfs) or anon (private anonymous).  Page-out subtests need swap and
 * confirm every page-out by the swap writes it caused (/proc/vmstat);
 * features are detected at run time and their absence is a SKIP with the
 * reason.
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES		4
/* the page the subtests work on; its neighbours stay holes */
#define TEST_PAGE		1
/* MADV_PAGEOUT attempts on a page that must stay resident */
#define SHARED_PAGEOUT_TRIES	5

enum {
	BACKEND_SHARED_ANON,
	BACKEND_MEMFD,
	BACKEND_TMPFS,
	BACKEND_ANON,
	NR_BACKENDS,
};

#define ON_SHARED_ANON	(1U << BACKEND_SHARED_ANON)
#define ON_MEMFD	(1U << BACKEND_MEMFD)
#define ON_TMPFS	(1U << BACKEND_TMPFS)
#define ON_ANON		(1U << BACKEND_ANON)
#define ON_SHMEM	(ON_SHARED_ANON | ON_MEMFD | ON_TMPFS)

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_SHARED_ANON] = { .name = "shared_anon", .kind = MEM_SHARED_ANON },
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS },
	[BACKEND_ANON] = { .name = "anon", .kind = MEM_PRIVATE_ANON },
};


static size_t ps;

/* The pagemap entry of page @idx has all of @set and none of @clear */
static bool check_entry(const char *when, const struct region *r, size_t idx,
			uint64_t set, uint64_t clear)
{
	return pagemap_pages_are(when, r->addr, idx, 1, set, clear, 1);
}

static bool check_none(const char *when, const struct region *r, size_t idx)
{
	return check_entry(when, r, idx, 0, PME_NONE_MASK);
}

/* Write page TEST_PAGE of a fresh mapping; returns 0 or a KSFT code */
static int setup_written(struct region *r)
{
	int ret = region_setup(r, NR_PAGES);

	if (!ret)
		region_write(r, TEST_PAGE);
	return ret;
}

/* ... and page it out */
static int setup_paged_out(struct region *r)
{
	return region_written_paged_out(r, setup_written, TEST_PAGE, 1);
}

/* Subtests.  Each one returns a KSFT_* code. */

static int test_written_page_present_file_exclusive(struct region *r)
{
	return pass_if(check_entry("after a write", r, TEST_PAGE,
				   PME_PRESENT | PME_FILE | PME_MMAP_EXCLUSIVE,
				   PME_SWAP));
}

/*
 * The documented behaviour: the pte of a swapped-out shmem page is cleared,
 * so the entry reads neither PRESENT nor SWAP.
 */
static int test_pageout_reads_none(struct region *r)
{
	bool ok;

	ok = check_none("after MADV_PAGEOUT", r, TEST_PAGE);
	if (!ok)
		ksft_print_msg("smaps Swap: %lu kB\n", region_smaps_kb(r, "Swap"));
	return pass_if(ok);
}

static int test_dontneed_reads_none(struct region *r)
{
	if (madvise(region_page(r, TEST_PAGE), ps, MADV_DONTNEED))
		return setup_failed("madvise(MADV_DONTNEED)", errno);
	return pass_if(check_none("after MADV_DONTNEED", r, TEST_PAGE));
}

static int test_fault_back_present_data_intact(struct region *r)
{
	unsigned long before, after;
	bool ok = true;

	before = region_smaps_kb(r, "Swap");
	region_read(r, TEST_PAGE);
	after = region_smaps_kb(r, "Swap");

	ok &= check_entry("after a read fault", r, TEST_PAGE,
			  PME_PRESENT | PME_FILE,
			  PME_SWAP);
	ok &= region_intact(r, TEST_PAGE);
	if (!ok)
		ksft_print_msg("smaps Swap: %lu kB before the fault, %lu kB after\n",
			       before, after);
	return pass_if(ok);
}

/*
 * Soft-dirty lives in the pte.  A shmem page loses it when its pte is
 * cleared at swap-out ("lost irretrievably", says pagemap.rst), and does
 * not get it back from a read fault.  A private anonymous page keeps it in
 * its swap pte and gets it back at swap-in.
 */
static int test_softdirty_across_pageout(struct region *r)
{
	uint64_t sd = PME_SOFT_DIRTY;
	bool shmem = r->kind != MEM_PRIVATE_ANON;
	bool ok = true;
	int ret;

	if (!softdirty_available())
		return skip("soft-dirty not supported (no sd in smaps VmFlags)");
	if (!swap_present())
		return skip("no swap configured");
	ret = setup_written(r);
	if (ret)
		return ret;
	ret = softdirty_clear();
	if (ret)
		return setup_failed("writing 4 to /proc/self/clear_refs", -ret);
	region_write(r, TEST_PAGE);
	if (!check_entry("written after clear_refs", r, TEST_PAGE,
			 PME_PRESENT | sd, 0))
		return KSFT_FAIL;
	ret = region_pageout(r, TEST_PAGE, 1);
	if (ret)
		return ret;

	if (shmem) {
		ok &= check_entry("after MADV_PAGEOUT", r, TEST_PAGE, 0,
				  PME_PRESENT | PME_SWAP | sd);
		region_read(r, TEST_PAGE);
		ok &= check_entry("after a read fault", r, TEST_PAGE,
				  PME_PRESENT, sd);
	} else {
		ok &= check_entry("after MADV_PAGEOUT", r, TEST_PAGE,
				  PME_SWAP | sd, PME_PRESENT);
		region_read(r, TEST_PAGE);
		ok &= check_entry("after a read fault", r, TEST_PAGE,
				  PME_PRESENT | sd, PME_SWAP);
	}
	ok &= region_intact(r, TEST_PAGE);
	return pass_if(ok);
}

static int test_anon_pageout_reads_swap(struct region *r)
{
	return pass_if(check_entry("after MADV_PAGEOUT", r, TEST_PAGE, PME_SWAP,
				   PME_PRESENT | PME_FILE | PME_MMAP_EXCLUSIVE));
}

static int test_anon_fault_back_data_intact(struct region *r)
{
	bool ok;

	region_read(r, TEST_PAGE);
	ok = check_entry("after a read fault", r, TEST_PAGE,
			 PME_PRESENT, PME_SWAP | PME_FILE);
	return pass_if(region_intact(r, TEST_PAGE) && ok);
}

/* Result a child sends back through a pipe */
struct child_report {
	int err;		/* negative errno of the pagemap read, or 0 */
	uint64_t entry;		/* the child's own pagemap entry */
};

static void child_send_entry(int fd, const void *addr)
{
	struct child_report rep = { 0 };

	/* the parent's pagemap_fd describes the parent: open our own */
	rep.err = pagemap_read(-1, addr, &rep.entry);
	if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
}

static bool parent_get_entry(int fd, uint64_t *entry)
{
	struct child_report rep;
	ssize_t ret;

	ret = read(fd, &rep, sizeof(rep));
	if (ret != sizeof(rep)) {
		ksft_print_msg("no report from the child (read returned %zd)\n", ret);
		return false;
	}
	if (rep.err) {
		ksft_print_msg("child: reading its pagemap: %s\n",
			       errno_name(rep.err));
		return false;
	}
	*entry = rep.entry;
	return true;
}

static bool reap_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		ksft_print_msg("waitpid: %s\n", errno_name(errno));
		return false;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("child ended with status 0x%x\n", status);
		return false;
	}
	return true;
}

/*
 * Fork a child that reads its own pagemap entry for page @idx, without
 * touching the page unless @touch, and reports it.  With @touch it then
 * waits, keeping the page mapped, until *@go_fd is closed.  Returns the
 * child's pid, or -1 with errno set.
 */
static pid_t fork_reporter(const struct region *r, size_t idx, bool touch,
			   int *report_fd, int *go_fd)
{
	int report[2], go[2];
	char c;
	pid_t pid;

	if (pipe(report))
		return -1;
	if (pipe(go)) {
		close(report[0]);
		close(report[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(report[0]);
		close(report[1]);
		close(go[0]);
		close(go[1]);
		return -1;
	}
	if (!pid) {
		close(report[0]);
		close(go[1]);
		if (touch)
			region_read(r, idx);
		child_send_entry(report[1], region_page(r, idx));
		/* until the parent closes its end */
		while (read(go[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(report[1]);
	close(go[0]);
	*report_fd = report[0];
	*go_fd = go[1];
	return pid;
}

static bool finish_reporter(pid_t pid, int report_fd, int go_fd)
{
	close(go_fd);
	close(report_fd);
	return reap_child(pid);
}

/* fork() does not copy the ptes of a shared mapping without anon_vma */
static int test_fork_child_untouched_reads_none(struct region *r)
{
	int report_fd, go_fd;
	uint64_t entry;
	bool ok = true;
	pid_t pid;

	ok &= check_entry("parent, after a write", r, TEST_PAGE,
			  PME_PRESENT | PME_FILE, 0);
	pid = fork_reporter(r, TEST_PAGE, false, &report_fd, &go_fd);
	if (pid < 0)
		return setup_failed("fork", errno);
	if (parent_get_entry(report_fd, &entry))
		ok &= pagemap_entry_is("child that never touched the page",
				       TEST_PAGE, entry, 0, PME_NONE_MASK);
	else
		ok = false;
	ok &= finish_reporter(pid, report_fd, go_fd);
	return pass_if(ok);
}

static int test_shared_page_not_exclusive(struct region *r)
{
	uint64_t present_file = PME_PRESENT | PME_FILE;
	uint64_t excl = PME_MMAP_EXCLUSIVE;
	int report_fd, go_fd;
	uint64_t entry;
	bool ok = true;
	pid_t pid;

	pid = fork_reporter(r, TEST_PAGE, true, &report_fd, &go_fd);
	if (pid < 0)
		return setup_failed("fork", errno);
	/* the child has the page mapped once it has reported */
	if (parent_get_entry(report_fd, &entry))
		ok &= pagemap_entry_is("child, after a read fault", TEST_PAGE,
				       entry, present_file, excl);
	else
		ok = false;
	ok &= check_entry("parent, page also mapped by the child", r,
			  TEST_PAGE, present_file, excl);
	ok &= finish_reporter(pid, report_fd, go_fd);
	return pass_if(ok);
}

/* MADV_PAGEOUT skips a page that another process maps too */
static int test_shared_page_not_paged_out(struct region *r)
{
	unsigned long swap_kb;
	int report_fd, go_fd;
	uint64_t entry;
	bool ok = true;
	pid_t pid;
	int i, ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = setup_written(r);
	if (ret)
		return ret;
	pid = fork_reporter(r, TEST_PAGE, true, &report_fd, &go_fd);
	if (pid < 0)
		return setup_failed("fork", errno);
	ok &= parent_get_entry(report_fd, &entry);
	for (i = 0; ok && i < SHARED_PAGEOUT_TRIES; i++) {
		if (madvise(region_page(r, TEST_PAGE), ps, MADV_PAGEOUT)) {
			ksft_print_msg("madvise(MADV_PAGEOUT): %s\n",
				       errno_name(errno));
			ok = false;
		}
		usleep(1000);
	}
	swap_kb = region_smaps_kb(r, "Swap");
	if (swap_kb) {
		ksft_print_msg(
			"smaps Swap: %lu kB after MADV_PAGEOUT of a page mapped twice, expected 0\n",
			swap_kb);
		ok = false;
	}
	ok &= check_entry("parent, after MADV_PAGEOUT", r, TEST_PAGE,
			  PME_PRESENT | PME_FILE,
			  PME_SWAP);
	ok &= finish_reporter(pid, report_fd, go_fd);

	/* control: mapped once again, the same page does get paged out */
	if (ok) {
		ret = region_pageout(r, TEST_PAGE, 1);
		if (ret == KSFT_SKIP)
			ksft_print_msg("control page-out after the child exited: %s\n",
				       skip_reason);
		if (ret)
			return ret;
	}
	return pass_if(ok);
}

/* A write-protect marker reads as SWAP|UFFD_WP, with nothing present */
static bool check_marker(const char *when, const struct region *r, size_t idx)
{
	return check_entry(when, r, idx, PME_SWAP | PME_UFFD_WP,
			   PME_PRESENT | PME_FILE |
			   PME_GUARD_REGION);
}

/*
 * A fresh shmem mapping with every page a hole, registered for and
 * write-protected through a userfaultfd.  Returns KSFT_PASS with the fd in
 * *@fdp, or the code the subtest ends with.
 */
static int setup_wp_holes(struct region *r, int *fdp)
{
	int ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	ret = uffd_wp_register(UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
				   "UFFD_FEATURE_WP_HUGETLBFS_SHMEM",
				   r->addr, r->len, fdp);
	if (!ret) {
		ret = uffd_wp_protect(*fdp, r->addr, r->len);
		if (ret)
			close(*fdp);
	}
	return ret;
}

static int test_uffd_wp_hole_reads_swap_uffd_wp(struct region *r)
{
	unsigned long swap_kb;
	bool ok = true;
	off_t hole;
	size_t i;
	int fd, ret;

	ret = setup_wp_holes(r, &fd);
	if (ret)
		return ret;
	for (i = 0; i < NR_PAGES; i++)
		ok &= check_marker("write-protected hole", r, i);

	/* nothing is in swap, and the file has no data */
	swap_kb = region_smaps_kb(r, "Swap");
	if (swap_kb) {
		ksft_print_msg("smaps Swap: %lu kB, expected 0\n", swap_kb);
		ok = false;
	}
	hole = lseek(r->fd, 0, SEEK_HOLE);
	if (hole != 0) {
		ksft_print_msg("SEEK_HOLE from 0 returned 0x%llx (%s), expected 0\n",
			       (long long)hole, hole < 0 ? errno_name(errno) : "data");
		ok = false;
	}
	close(fd);
	return pass_if(ok);
}

static int test_uffd_wp_paged_out_reads_swap_uffd_wp(struct region *r)
{
	unsigned long swap_kb;
	bool ok = true;
	int fd, ret;

	ret = uffd_wp_register(UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
				   "UFFD_FEATURE_WP_HUGETLBFS_SHMEM",
				   r->addr, r->len, &fd);
	if (ret)
		return ret;
	ret = uffd_wp_protect(fd, region_page(r, TEST_PAGE), ps);
	if (ret) {
		close(fd);
		return ret;
	}
	ok &= check_marker("paged out, then write-protected", r, TEST_PAGE);
	swap_kb = region_smaps_kb(r, "Swap");
	if (swap_kb < ps / 1024) {
		ksft_print_msg("smaps Swap: %lu kB, expected at least %zu kB\n",
			       swap_kb, ps / 1024);
		ok = false;
	}
	close(fd);
	return pass_if(ok);
}

static int test_uffd_unregister_clears_marker(struct region *r)
{
	struct uffdio_range range;
	bool ok;
	int fd, ret;

	ret = setup_wp_holes(r, &fd);
	if (ret)
		return ret;
	ok = check_marker("before UFFDIO_UNREGISTER", r, TEST_PAGE);
	range.start = (uintptr_t)r->addr;
	range.len = r->len;
	if (ioctl(fd, UFFDIO_UNREGISTER, &range)) {
		ret = errno;
		close(fd);
		return setup_failed("UFFDIO_UNREGISTER", ret);
	}
	ok &= check_none("after UFFDIO_UNREGISTER", r, TEST_PAGE);
	close(fd);
	return pass_if(ok);
}

static int test_uffd_close_clears_marker(struct region *r)
{
	bool ok;
	int fd, ret;

	ret = setup_wp_holes(r, &fd);
	if (ret)
		return ret;
	ok = check_marker("before closing the userfaultfd", r, TEST_PAGE);
	close(fd);
	if (!check_none("after closing the userfaultfd without UFFDIO_UNREGISTER",
			r, TEST_PAGE)) {
		ksft_print_msg(
			"the write-protect marker outlived its userfaultfd (fixed upstream by \"mm/userfaultfd: reset ptes when close() for wr-protected ones\")\n");
		ok = false;
	}
	return pass_if(ok);
}

static int test_uffd_fork_copies_no_marker(struct region *r)
{
	int report_fd, go_fd;
	uint64_t entry;
	bool ok;
	pid_t pid;
	int fd, ret;

	ret = setup_wp_holes(r, &fd);
	if (ret)
		return ret;
	ok = check_marker("parent, before fork", r, TEST_PAGE);
	/* no UFFD_FEATURE_EVENT_FORK: the child's VMA is not registered */
	pid = fork_reporter(r, TEST_PAGE, false, &report_fd, &go_fd);
	if (pid < 0) {
		ret = errno;
		close(fd);
		return setup_failed("fork", ret);
	}
	if (parent_get_entry(report_fd, &entry))
		ok &= pagemap_entry_is("child forked without UFFD_FEATURE_EVENT_FORK",
				       TEST_PAGE, entry, 0, PME_NONE_MASK);
	else
		ok = false;
	ok &= finish_reporter(pid, report_fd, go_fd);
	ok &= check_marker("parent, after fork", r, TEST_PAGE);
	close(fd);
	return pass_if(ok);
}

/*
 * Private anonymous memory gets a marker on an unpopulated pte only with
 * UFFD_FEATURE_WP_UNPOPULATED.
 */
static int test_anon_uffd_wp_unpopulated_reads_swap_uffd_wp(struct region *r)
{
	bool ok;
	int fd, ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	ret = uffd_wp_register(UFFD_FEATURE_WP_UNPOPULATED,
				   "UFFD_FEATURE_WP_UNPOPULATED",
				   r->addr, r->len, &fd);
	if (ret)
		return ret;
	ret = uffd_wp_protect(fd, r->addr, r->len);
	if (ret) {
		close(fd);
		return ret;
	}
	ok = check_marker("write-protected unpopulated page", r, TEST_PAGE);
	close(fd);
	return pass_if(ok);
}

static int test_guard_reads_guard_and_swap(struct region *r)
{
	uint64_t entry;
	bool ok = true;
	int ret;

	ret = setup_guard_install(region_page(r, TEST_PAGE), ps);
	if (ret)
		return ret;
	ret = pagemap_read(pagemap_fd, region_page(r, TEST_PAGE), &entry);
	if (ret) {
		ksft_print_msg("reading the pagemap entry of page %d: %s\n",
			       TEST_PAGE, errno_name(ret));
		ok = false;
	} else if (pagemap_entry_has(entry, PME_SWAP) &&
		   !pagemap_entry_has(entry, PME_GUARD_REGION) &&
		   !pagemap_entry_has(entry, PME_PRESENT)) {
		ksft_print_msg(
			"guard page reads as SWAP without PM_GUARD_REGION (bit 58, in pagemap since 6.15): guard markers are indistinguishable from swap on this kernel\n");
		ok = false;
	}
	if (ok)
		ok = pagemap_entry_is("after MADV_GUARD_INSTALL", TEST_PAGE,
				      entry, PME_GUARD_REGION | PME_SWAP,
				      PME_PRESENT | PME_FILE | PME_UFFD_WP);
	madvise(region_page(r, TEST_PAGE), ps, MADV_GUARD_REMOVE);
	return pass_if(ok);
}

static const struct subtest subtests[] = {
	{ "written_page_present_file_exclusive", test_written_page_present_file_exclusive,
	  ON_SHMEM, setup_written },
	{ "pageout_reads_none", test_pageout_reads_none, ON_SHMEM, setup_paged_out },
	{ "dontneed_reads_none", test_dontneed_reads_none, ON_SHMEM, setup_written },
	{ "fault_back_present_data_intact", test_fault_back_present_data_intact, ON_SHMEM,
	  setup_paged_out },
	{ "softdirty_lost_across_pageout", test_softdirty_across_pageout, ON_MEMFD },
	{ "softdirty_kept_across_pageout", test_softdirty_across_pageout, ON_ANON },
	{ "pageout_reads_swap", test_anon_pageout_reads_swap, ON_ANON, setup_paged_out },
	{ "fault_back_data_intact", test_anon_fault_back_data_intact, ON_ANON, setup_paged_out },
	{ "fork_child_untouched_reads_none", test_fork_child_untouched_reads_none, ON_MEMFD,
	  setup_written },
	{ "shared_page_not_exclusive", test_shared_page_not_exclusive, ON_MEMFD, setup_written },
	{ "shared_page_not_paged_out", test_shared_page_not_paged_out, ON_MEMFD },
	{ "uffd_wp_hole_reads_swap_uffd_wp", test_uffd_wp_hole_reads_swap_uffd_wp, ON_MEMFD },
	{ "uffd_wp_paged_out_reads_swap_uffd_wp", test_uffd_wp_paged_out_reads_swap_uffd_wp,
	  ON_MEMFD, setup_paged_out },
	{ "uffd_unregister_clears_marker", test_uffd_unregister_clears_marker, ON_MEMFD },
	{ "uffd_close_clears_marker", test_uffd_close_clears_marker, ON_MEMFD },
	{ "uffd_fork_copies_no_marker", test_uffd_fork_copies_no_marker, ON_MEMFD },
	{ "uffd_wp_unpopulated_reads_swap_uffd_wp",
	  test_anon_uffd_wp_unpopulated_reads_swap_uffd_wp, ON_ANON },
	{ "guard_reads_guard_and_swap", test_guard_reads_guard_and_swap, ON_MEMFD, setup_written },
};

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.pagemap = true,
	.setup = uffd_probe_features,
	.environment = softdirty_uffd_environment,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
