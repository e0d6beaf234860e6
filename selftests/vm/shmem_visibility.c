// SPDX-License-Identifier: GPL-2.0
/*
 * The invariant a memory dumper such as CRIU relies on: every page that
 * holds data can be found, and reads back intact.
 *
 * For private anonymous memory, a page with data is PRESENT or SWAP in
 * /proc/self/pagemap.  For shmem (memfd, MAP_SHARED|MAP_ANONYMOUS) pagemap
 * is not enough: the page table entry of a swapped-out shmem page is
 * cleared, and a process that never touched a page has no entry at all
 * (Documentation/admin-guide/mm/pagemap.rst, "Exceptions for Shared
 * Memory").  There a page with data must be PRESENT or SWAP, or resident
 * according to mincore(), or data according to lseek(SEEK_DATA) on the
 * backing file; and since that document names SEEK_DATA as the interface
 * that tells pages present or swapped out from holes, every shmem page
 * with data must also be found by SEEK_DATA.  The backing file of a
 * MAP_SHARED|MAP_ANONYMOUS mapping is /proc/self/map_files/<start>-<end>,
 * which only CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE may open.
 *
 * Each page is written with a pattern that encodes its index, checked by
 * all three interfaces without being touched, then read back.  Scenarios:
 * all pages resident, all paged out, every other page paged out, the
 * linux-mm case of a child that inherits swapped-out shmem from a parent
 * that then unmaps it, and real memory pressure: more memfd or private
 * anonymous memory than the machine has RAM.  Page-out is MADV_PAGEOUT
 * confirmed by /proc/vmstat pswpout; the scenarios that need swap skip
 * without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

/* pages of the small scenarios */
#define NR_PAGES		128
#define MAX_PAGE_DIAGS		8
/* the first word of page i holds PATTERN_MAGIC ^ i, the last ~i */
#define PATTERN_MAGIC		0x5649534942494c45ULL
/* the forked child gives up after this many seconds */
#define CHILD_TIMEOUT		120

/* what a page must look like, beyond the invariant */
#define REQ_PRESENT		(1U << 0)	/* pagemap PRESENT */
#define REQ_PM_NONE		(1U << 1)	/* pagemap reports nothing */
#define REQ_RESIDENT		(1U << 2)	/* mincore() 1 */
#define REQ_SEEK_DATA		(1U << 3)	/* SEEK_DATA finds it */

enum {
	BACKEND_MEMFD,
	BACKEND_SHARED_ANON,
	BACKEND_PRIVATE_ANON,
	NR_BACKENDS,
};

#define ON_MEMFD		(1U << BACKEND_MEMFD)
#define ON_SHARED_ANON		(1U << BACKEND_SHARED_ANON)
#define ON_PRIVATE_ANON		(1U << BACKEND_PRIVATE_ANON)

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
	[BACKEND_PRIVATE_ANON] = { .name = "private_anon",
				   .kind = MEM_PRIVATE_ANON },
};

/* One page as pagemap, mincore() and SEEK_DATA see it */
struct page_view {
	uint64_t pme;
	int pm_err;		/* 0 or negative errno of the pagemap read */
	int mincore;		/* 0 or 1, or a negative errno */
	off_t seek;		/* SEEK_DATA from the page's offset */
	int seek_err;		/* errno when seek is -1, 0 without a file */
};

struct view_stats {
	size_t pages;
	size_t present;
	size_t swap;
	size_t none;
	size_t resident;
	size_t seek_data;
	size_t failed;
	unsigned int diags;
};

/* What the forked child of the fork scenario reports through a pipe */
struct child_report {
	int code;
	char reason[SKIP_REASON_LEN];
};

static size_t ps;

static char *ref_page;

/* Put in front of page diagnostics; "child: " in the forked child */
static const char *diag_prefix = "";

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned char pattern_byte(size_t idx)
{
	unsigned char c = (unsigned char)(idx * 131 + 7);

	return c ? c : 0xa5;
}

/*
 * The content of page @idx: a byte derived from the index, with the index
 * itself in the first and the last word, so that a page that turns up in
 * the wrong place can be identified.
 */
static void pattern_fill(char *page, size_t idx)
{
	uint64_t head = PATTERN_MAGIC ^ idx, tail = ~(uint64_t)idx;

	memset(page, pattern_byte(idx), ps);
	memcpy(page, &head, sizeof(head));
	memcpy(page + ps - sizeof(tail), &tail, sizeof(tail));
}

static void region_fill(const struct region *r)
{
	size_t i;

	for (i = 0; i < r->npages; i++)
		pattern_fill(r->addr + i * ps, i);
}

/* Read page @idx through the mapping and compare it with its pattern */
static bool check_content(struct region *r, size_t idx, struct view_stats *st)
{
	const unsigned char *page = (unsigned char *)r->addr + idx * ps;
	uint64_t head;
	size_t off;

	pattern_fill(ref_page, idx);
	if (!memcmp(page, ref_page, ps))
		return true;

	st->failed++;
	if (st->diags++ >= MAX_PAGE_DIAGS)
		return false;
	for (off = 0; off < ps && page[off] == (unsigned char)ref_page[off];)
		off++;
	memcpy(&head, page, sizeof(head));
	ksft_print_msg(
		"%spage %zu: content differs at byte 0x%zx: 0x%02x, expected 0x%02x; first word 0x%016llx (pattern of page %llu)\n",
		diag_prefix, idx, off, off < ps ? page[off] : 0,
		off < ps ? (unsigned char)ref_page[off] : 0,
		(unsigned long long)head,
		(unsigned long long)(head ^ PATTERN_MAGIC));
	return false;
}

static void observe_page(const struct region *r, size_t idx,
			 struct page_view *v)
{
	char *addr = r->addr + idx * ps;
	off_t off = (off_t)(idx * ps);
	bool resident;
	int ret;

	v->pme = 0;
	v->pm_err = pagemap_read(pagemap_fd, addr, &v->pme);
	ret = mincore_page(addr, &resident);
	v->mincore = ret ? ret : resident;
	v->seek = -1;
	v->seek_err = 0;
	if (r->fd >= 0) {
		v->seek = lseek(r->fd, off, SEEK_DATA);
		if (v->seek < 0)
			v->seek_err = errno;
	}
}

static void print_view(size_t idx, const char *what, const struct page_view *v)
{
	char pm[128], seek[48];

	if (v->pm_err)
		snprintf(pm, sizeof(pm), "read failed (%s)",
			 errno_name(v->pm_err));
	else
		pagemap_describe(v->pme, pm, sizeof(pm));
	if (v->seek < 0 && !v->seek_err)
		snprintf(seek, sizeof(seek), "n/a");
	else
		seek_str(v->seek, v->seek_err, seek, sizeof(seek));

	ksft_print_msg("%spage %zu: %s: pagemap %s, mincore %s, SEEK_DATA from 0x%zx: %s\n",
		       diag_prefix, idx, what, pm,
		       v->mincore < 0 ? errno_name(v->mincore) :
		       v->mincore ? "1" : "0", idx * ps, seek);
}

static void append(char *buf, size_t len, const char *what)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", what);
}

/*
 * Check page @idx of @r by pagemap, mincore() and SEEK_DATA, without
 * touching it: the invariant, plus whatever @req asks for.  Failures are
 * printed, with everything the three interfaces said.
 */
static bool check_page(const struct region *r, size_t idx, unsigned int req,
		       struct view_stats *st)
{
	bool populated, present, resident, data, visible;
	struct page_view v;
	char what[160] = "";

	observe_page(r, idx, &v);
	populated = !v.pm_err && pagemap_entry_is_populated(v.pme);
	present = !v.pm_err && pagemap_entry_has(v.pme, PME_PRESENT);
	resident = v.mincore == 1;
	data = r->fd >= 0 && v.seek == (off_t)(idx * ps);

	st->pages++;
	st->present += present;
	st->swap += !v.pm_err && pagemap_entry_has(v.pme, PME_SWAP);
	st->none += !v.pm_err && pagemap_entry_is_none(v.pme);
	st->resident += resident;
	st->seek_data += data;

	/* private memory has only pagemap; shmem has all three */
	visible = populated || (r->fd >= 0 && (resident || data));
	if (!visible)
		append(what, sizeof(what), "found by no interface");
	if ((req & REQ_PRESENT) && !present)
		append(what, sizeof(what), "not PRESENT");
	if ((req & REQ_PM_NONE) && (v.pm_err || !pagemap_entry_is_none(v.pme)))
		append(what, sizeof(what), "pagemap entry not none");
	if ((req & REQ_RESIDENT) && !resident)
		append(what, sizeof(what), "not resident");
	if ((req & REQ_SEEK_DATA) && !data)
		append(what, sizeof(what), "missed by SEEK_DATA");
	if (v.pm_err)
		append(what, sizeof(what), "pagemap read failed");
	if (v.mincore < 0)
		append(what, sizeof(what), "mincore failed");
	if (!what[0])
		return true;

	st->failed++;
	if (st->diags++ < MAX_PAGE_DIAGS)
		print_view(idx, what, &v);
	return false;
}

static void print_stats(const char *when, const struct view_stats *st)
{
	if (st->diags > MAX_PAGE_DIAGS)
		ksft_print_msg("%s(%u more page diagnostics not shown)\n",
			       diag_prefix, st->diags - MAX_PAGE_DIAGS);
	ksft_print_msg(
		"%s%s: %zu pages: pagemap %zu present, %zu swap, %zu none; mincore %zu resident; SEEK_DATA %zu data; %zu failed\n",
		diag_prefix, when, st->pages, st->present, st->swap,
		st->none, st->resident, st->seek_data, st->failed);
}

/* Check every page; @req_even and @req_odd for even and odd pages */
static bool check_region(const struct region *r, unsigned int req_even,
			 unsigned int req_odd, const char *when)
{
	struct view_stats st = { 0 };
	size_t i;

	for (i = 0; i < r->npages; i++)
		check_page(r, i, i % 2 ? req_odd : req_even, &st);
	print_stats(when, &st);
	return !st.failed;
}

/*
 * Read every page back.  With @recheck, each page is checked by the three
 * interfaces (with @req) right before it is read, while reading the others
 * keeps moving pages in and out of swap.
 */
static bool check_region_content(struct region *r, bool recheck,
				 unsigned int req, const char *when)
{
	struct view_stats st = { 0 }, cst = { 0 };
	size_t i;

	for (i = 0; i < r->npages; i++) {
		if (recheck)
			check_page(r, i, req, &st);
		check_content(r, i, &cst);
	}
	if (recheck)
		print_stats(when, &st);
	if (cst.failed)
		ksft_print_msg("%s%s: content of %zu of %zu pages wrong\n",
			       diag_prefix, when, cst.failed, r->npages);
	return !st.failed && !cst.failed;
}

static int open_map_files(const char *map, size_t len)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)map, (unsigned long)(map + len));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int map_files_skip(int err)
{
	return skip(
		"opening /proc/self/map_files/<start>-<end> failed with %s: needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE",
		errno_name(err));
}

/* Map @npages of the region; returns a KSFT_* code */
static int setup_region(struct region *r, size_t npages)
{
	int err, fd;

	err = region_map(r, npages, PROT_READ | PROT_WRITE, 0);
	/* vm.overcommit_memory=2 refuses more than RAM plus swap */
	if (err == -ENOMEM && !strcmp(r->failed, "mmap"))
		return skip("mmap of %zu kB failed with ENOMEM (overcommit policy)",
			    r->len / 1024);
	if (err)
		return setup_failed(r->failed, -err);
	/* done by region_create(), but its failure is worth a note here */
	err = thp_disable_range(r->addr, r->len);
	if (err)
		ksft_print_msg("MADV_NOHUGEPAGE failed: %s\n", errno_name(err));

	if (r->kind == MEM_SHARED_ANON) {
		fd = open_map_files(r->addr, r->len);
		if (fd < 0) {
			if (fd == -EPERM || fd == -EACCES)
				return map_files_skip(-fd);
			return setup_failed("open of /proc/self/map_files", -fd);
		}
		r->fd = fd;
	}
	return KSFT_PASS;
}

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

static unsigned int shmem_req(const struct region *r, unsigned int req)
{
	return r->fd >= 0 ? req | REQ_SEEK_DATA : req;
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

	diag_prefix = "child: ";
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
		fd = open_map_files(r->addr, r->npages * ps);
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
		check_page(r, i, REQ_PM_NONE | REQ_SEEK_DATA, &st);
	print_stats("inherited, never touched", &st);
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

/*
 * Write more memory than the machine has RAM, ~1.25 x MemTotal, but never
 * more than MemTotal plus 80% of the free swap, then check every page.
 */
static int scenario_memory_pressure(struct region *r)
{
	unsigned long mem_total, swap_free, want_kb, limit_kb, swap_kb = 0;
	double t0, t1, t2;
	bool ok = true;
	int code, ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = proc_field_kb("/proc/meminfo", "MemTotal", &mem_total);
	if (!ret)
		ret = proc_field_kb("/proc/meminfo", "SwapFree", &swap_free);
	if (ret)
		return setup_failed("reading /proc/meminfo", -ret);
	want_kb = mem_total / 4 * 5;
	limit_kb = mem_total + swap_free / 5 * 4;
	if (want_kb > limit_kb)
		return skip(
			"swap too small: 1.25 x MemTotal is %lu kB, more than MemTotal %lu kB + 80%% of SwapFree %lu kB",
			want_kb, mem_total, swap_free);

	code = setup_region(r, want_kb / (ps / 1024));
	if (code != KSFT_PASS)
		return code;
	ksft_print_msg("writing %zu MiB (MemTotal %lu kB, SwapFree %lu kB)\n",
		       r->npages * ps >> 20, mem_total, swap_free);
	t0 = now_seconds();
	region_fill(r);
	t1 = now_seconds();
	smaps_vma_field_kb(r->addr, "Swap", &swap_kb, NULL);
	ksft_print_msg("written in %.2f s; smaps Swap: %lu kB\n", t1 - t0,
		       swap_kb);

	ok &= check_region(r, shmem_req(r, 0), shmem_req(r, 0),
			   "under pressure");
	t2 = now_seconds();
	ok &= check_region_content(r, true, shmem_req(r, 0),
				   "checked again while reading back");
	ksft_print_msg("checked in %.2f s, read back in %.2f s\n", t2 - t1,
		       now_seconds() - t2);
	return pass_if(ok);
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
	{ "memory_pressure", scenario_memory_pressure,
	  ON_MEMFD | ON_PRIVATE_ANON },
};

static void print_environment(void)
{
	unsigned long kb;

	ksft_print_msg("euid %u\n", (unsigned int)geteuid());
	if (!proc_field_kb("/proc/meminfo", "MemTotal", &kb))
		ksft_print_msg("MemTotal: %lu kB\n", kb);
	if (!proc_field_kb("/proc/meminfo", "SwapTotal", &kb))
		ksft_print_msg("SwapTotal: %lu kB\n", kb);
}

static void alloc_ref_page(void)
{
	ref_page = malloc(ps);
	if (!ref_page)
		ksft_exit_fail_msg("malloc of %zu bytes failed\n", ps);
}

static void free_ref_page(void)
{
	free(ref_page);
}

/* Run scenario @t on @r, and say how long it took */
static int run_timed(const struct subtest *t, struct region *r)
{
	double start = now_seconds();
	int code = t->fn(r);

	ksft_print_msg("%s_%s: %.3f s\n", r->backend->name, t->name,
		       now_seconds() - start);
	return code;
}

/* Scenario by scenario, each on its backends */
static const struct suite suite = {
	SUITE_TABLES(scenarios, backends),
	.pagemap = true,
	.by_test = true,
	.setup = alloc_ref_page,
	.environment = print_environment,
	.run = run_timed,
	.cleanup = free_ref_page,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
