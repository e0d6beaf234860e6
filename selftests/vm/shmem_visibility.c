// SPDX-License-Identifier: GPL-2.0
/*
 * The invariant a memory dumper such as CRIU relies on: every page of
 * shmem (memfd, MAP_SHARED|MAP_ANONYMOUS) that holds data can be found,
 * and reads back intact.
 *
 * pagemap is not enough for shmem: the page table entry of a swapped-out
 * shmem page is cleared, and a process that never touched a page has no
 * entry at all (Documentation/admin-guide/mm/pagemap.rst, "Exceptions for
 * Shared Memory").  There a page with data must be PRESENT or SWAP, or
 * resident according to mincore(), or data according to lseek(SEEK_DATA)
 * on the backing file; and since that document names SEEK_DATA as the
 * interface that tells pages present or swapped out from holes, every
 * shmem page with data must also be found by SEEK_DATA.  The backing file
 * of a MAP_SHARED|MAP_ANONYMOUS mapping is
 * /proc/self/map_files/<start>-<end>, which only CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE may open.
 *
 * Each of 128 pages is written with a pattern that encodes its index,
 * checked by all three interfaces without being touched, then read back
 * (the page views of residency_util.h).  Scenarios: all pages resident,
 * all paged out, every other page paged out, and the linux-mm case of a
 * child that inherits swapped-out shmem from a parent that then unmaps
 * it.  Page-out is MADV_PAGEOUT confirmed by /proc/vmstat pswpout; the
 * scenarios that need swap skip without it.  The same invariant under
 * real memory pressure, more memory than the machine has RAM, is
 * shmem_pressure's (memfd) and anon_pressure's (private anonymous).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

/* pages of the small scenarios */
#define NR_PAGES		128
/* the forked child gives up after this many seconds */
#define CHILD_TIMEOUT		120

enum {
	BACKEND_MEMFD,
	BACKEND_SHARED_ANON,
	NR_BACKENDS,
};

#define ON_MEMFD		(1U << BACKEND_MEMFD)
#define ON_SHARED_ANON		(1U << BACKEND_SHARED_ANON)

/*
 * The regions of MAP_SHARED|MAP_ANONYMOUS memory get the map_files file
 * of their mapping as fd, for SEEK_DATA.  A memfd that cannot be created
 * fails the subtests.
 */
static struct backend backends[NR_BACKENDS] = {
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD,
			    .required = true },
	[BACKEND_SHARED_ANON] = { .name = "shared_anon",
				  .kind = MEM_SHARED_ANON },
};

/* What the forked child of the fork scenario reports through a pipe */
struct child_report {
	int code;
	char reason[SKIP_REASON_LEN];
};

/* Map NR_PAGES of the region, fill them and page them all out */
static int setup_paged_out(struct region *r)
{
	int code;

	if (!swap_present())
		return skip("no swap configured");
	code = setup_region(r, NR_PAGES);
	if (code != KSFT_PASS)
		return code;
	region_fill(r);
	return region_pageout(r, 0, r->npages);
}

/* Scenarios; each returns a KSFT_* code */

/* Which pages of the small scenarios are paged out */
enum { PAGED_OUT_NONE, PAGED_OUT_ALL, PAGED_OUT_ODD };

/*
 * NR_PAGES written and, as @paged_out says, none, all or every odd page
 * paged out (so that resident and swapped pages alternate): a page still
 * in memory must be PRESENT and resident, and every page must read back.
 */
static int small_scenario(struct region *r, int paged_out, const char *when)
{
	unsigned int in_memory = REQ_PRESENT | REQ_RESIDENT;
	unsigned int even = paged_out == PAGED_OUT_ALL ? 0 : in_memory;
	unsigned int odd = paged_out == PAGED_OUT_NONE ? in_memory : 0;
	bool ok = true;
	size_t i;
	int code;

	if (paged_out == PAGED_OUT_ALL) {
		code = setup_paged_out(r);
	} else if (paged_out == PAGED_OUT_ODD && !swap_present()) {
		code = skip("no swap configured");
	} else {
		code = setup_region(r, NR_PAGES);
		if (code == KSFT_PASS)
			region_fill(r);
		for (i = 1; paged_out && code == KSFT_PASS && i < r->npages;
		     i += 2)
			code = region_pageout(r, i, 1);
	}
	if (code != KSFT_PASS)
		return code;
	ok &= check_region(r, shmem_req(r, even), shmem_req(r, odd), when);
	ok &= check_region_content(r, false, 0, "read back");
	return pass_if(ok);
}

static int scenario_all_resident(struct region *r)
{
	return small_scenario(r, PAGED_OUT_NONE, "resident");
}

static int scenario_all_paged_out(struct region *r)
{
	return small_scenario(r, PAGED_OUT_ALL, "paged out");
}

static int scenario_half_paged_out(struct region *r)
{
	return small_scenario(r, PAGED_OUT_ODD, "odd pages paged out");
}

static bool read_full(int fd, void *buf, size_t len, ssize_t *got)
{
	size_t done = 0;
	ssize_t ret;

	while (done < len) {
		ret = read(fd, (char *)buf + done, len - done);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			break;
		done += ret;
	}
	*got = done;
	return done == len;
}

/*
 * The forked child: wait until the parent has unmapped the region, then
 * check every page by the three interfaces, read it back, and report
 * through @res_fd.  Never returns.
 */
static __noreturn void fork_child(struct region *r, int go_fd, int res_fd)
{
	struct child_report rep = { .code = KSFT_FAIL };
	struct view_stats st = { 0 };
	ssize_t got;
	char go;
	size_t i;
	int fd;

	view_diag_prefix = "child: ";
	alarm(CHILD_TIMEOUT);

	/* /proc/self of the parent is not ours */
	close(pagemap_fd);
	pagemap_fd = pagemap_open();
	if (pagemap_fd < 0) {
		snprintf(rep.reason, sizeof(rep.reason),
			 "opening pagemap failed: %s", errno_name(pagemap_fd));
		goto out;
	}
	if (!read_full(go_fd, &go, 1, &got)) {
		snprintf(rep.reason, sizeof(rep.reason),
			 "parent did not signal after unmapping");
		goto out;
	}

	if (r->kind == MEM_SHARED_ANON) {
		/* the parent's map_files fd was for its mapping, not ours */
		close(r->fd);
		r->fd = -1;
		fd = open_map_files(r->addr, r->npages * sys_pagesize());
		if (fd < 0) {
			if (fd == -EPERM || fd == -EACCES) {
				map_files_skip(-fd);
				rep.code = KSFT_SKIP;
				snprintf(rep.reason, sizeof(rep.reason), "%s",
					 skip_reason);
			} else {
				snprintf(rep.reason, sizeof(rep.reason),
					 "opening map_files failed: %s",
					 errno_name(fd));
			}
			goto out;
		}
		r->fd = fd;
	}

	/* never touched here: no page table entries, but data for SEEK_DATA */
	for (i = 0; i < r->npages; i++)
		check_page_view(r, i, REQ_PM_NONE | REQ_SEEK_DATA, &st);
	print_view_stats("inherited, never touched", &st);
	if (!check_region_content(r, false, 0, "read back") || st.failed)
		snprintf(rep.reason, sizeof(rep.reason), "see diagnostics");
	else
		rep.code = KSFT_PASS;
out:
	if (write(res_fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	_exit(0);
}

static int scenario_fork_after_swapout(struct region *r)
{
	int go_pipe[2], res_pipe[2];
	struct child_report rep;
	int code, status;
	ssize_t got;
	pid_t pid;
	bool full;

	code = setup_paged_out(r);
	if (code != KSFT_PASS)
		return code;

	if (pipe2(go_pipe, O_CLOEXEC))
		return setup_failed("pipe", errno);
	if (pipe2(res_pipe, O_CLOEXEC)) {
		code = setup_failed("pipe", errno);
		close(go_pipe[0]);
		close(go_pipe[1]);
		return code;
	}

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(go_pipe[1]);
		close(res_pipe[0]);
		fork_child(r, go_pipe[0], res_pipe[1]);
	}
	close(go_pipe[0]);
	close(res_pipe[1]);
	if (pid < 0) {
		code = setup_failed("fork", errno);
		close(go_pipe[1]);
		close(res_pipe[0]);
		return code;
	}

	/* the child's mapping, never touched, is now the only one */
	region_close(r);
	if (write(go_pipe[1], "g", 1) != 1)
		ksft_print_msg("signalling the child failed: %s\n",
			       errno_name(errno));
	close(go_pipe[1]);

	full = read_full(res_pipe[0], &rep, sizeof(rep), &got);
	close(res_pipe[0]);
	if (waitpid(pid, &status, 0) != pid) {
		ksft_print_msg("waitpid failed: %s\n", errno_name(errno));
		return KSFT_FAIL;
	}
	if (!full || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("child sent %zd of %zu report bytes; %s %d\n",
			       got, sizeof(rep),
			       WIFSIGNALED(status) ? "killed by signal" :
			       "exit status",
			       WIFSIGNALED(status) ? WTERMSIG(status) :
			       WEXITSTATUS(status));
		return KSFT_FAIL;
	}
	rep.reason[sizeof(rep.reason) - 1] = '\0';
	if (rep.code == KSFT_SKIP)
		return skip("%s", rep.reason);
	if (rep.code != KSFT_PASS && rep.reason[0])
		ksft_print_msg("child: %s\n", rep.reason);
	return rep.code;
}

static const struct subtest scenarios[] = {
	{ "all_resident", scenario_all_resident, ON_MEMFD },
	{ "all_paged_out", scenario_all_paged_out, ON_MEMFD },
	{ "half_paged_out", scenario_half_paged_out, ON_MEMFD },
	{ "fork_child_after_swapout", scenario_fork_after_swapout, ON_MEMFD },
	{ "all_resident", scenario_all_resident, ON_SHARED_ANON },
	{ "all_paged_out", scenario_all_paged_out, ON_SHARED_ANON },
	{ "half_paged_out", scenario_half_paged_out, ON_SHARED_ANON },
	{ "fork_child_after_swapout", scenario_fork_after_swapout,
	  ON_SHARED_ANON },
};

/* Scenario by scenario, each on its backends */
static const struct suite suite = {
	SUITE_TABLES(scenarios, backends),
	.pagemap = true,
	.by_test = true,
	.environment = view_environment,
	.run = run_timed,
};

int main(void)
{
	suite_main(&suite);
}
