// SPDX-License-Identifier: GPL-2.0
/*
 * The largest size of a shmem file, reached by every route that can grow
 * a file: ftruncate(), fallocate() with and without FALLOC_FL_KEEP_SIZE,
 * pwrite() and write() at the file offset, on a memfd and on a file of a
 * mounted tmpfs.  Only the last pages below the limit are ever touched, so
 * no subtest allocates more than two pages.
 *
 * The limit is the superblock's s_maxbytes: MAX_LFS_FILESIZE for shmem,
 * LLONG_MAX on a 64-bit kernel, found here as the largest size ftruncate()
 * accepts.  Every route must reach exactly that size and refuse one byte
 * more: truncate(2) and fallocate(2) fail with EFBIG when the size, or
 * offset + len, exceeds the maximum file size; write(2) fails with EFBIG
 * when the write would exceed it (but see write_past_max_fails()), and a
 * write that only partly fits writes what there is room for (POSIX
 * write(): "only as many bytes as there is room for shall be written").
 * FALLOC_FL_KEEP_SIZE
 * allocates without changing the size (fallocate(2)).  lseek(2) SEEK_SET
 * takes any offset up to the maximum.
 *
 * A process file size limit is a lower limit of the same kind
 * (setrlimit(2), RLIMIT_FSIZE): extending a file beyond it delivers
 * SIGXFSZ, which terminates the process by default; with the signal
 * ignored the call fails with EFBIG instead.  Both are checked in child
 * processes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

/* the file size limit the RLIMIT_FSIZE subtests set, in pages */
#define LIMIT_PAGES	2

enum {
	BACKEND_MEMFD,
	BACKEND_TMPFS,
	NR_BACKENDS,
};

#define ON_BOTH		((1U << BACKEND_MEMFD) | (1U << BACKEND_TMPFS))

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS,
			    .mount_if_none = true },
};

static size_t ps;
/* the largest size ftruncate() accepts, per backend; 0 when unknown */
static off_t max_size[NR_BACKENDS];
/* why the process cannot reach it, when it cannot */
static char limit_skip[160];

static off_t max_of(const struct region *r)
{
	return max_size[r->backend - backends];
}

/*
 * The call @what returned @got (errno is still the call's: arguments are
 * evaluated before the body runs); it had to return @want, or fail with
 * -@want when that is negative.
 */
static bool result_is(const char *what, long long got, long long want)
{
	int err = errno;

	if (want < 0 ? got == -1 && err == -want : got == want)
		return true;
	if (want < 0)
		ksft_print_msg("%s: %lld (%s), expected -1 (%s)\n", what, got,
			       got < 0 ? errno_name(err) : "no error",
			       errno_name((int)-want));
	else
		ksft_print_msg("%s: %lld%s%s, expected %lld\n", what, got,
			       got < 0 ? " " : "", got < 0 ? errno_name(err) : "",
			       want);
	return false;
}

/* st_size must be @size, and with @min_blocks, st_blocks at least that */
static bool stat_is(int fd, off_t size, long long min_bytes)
{
	struct stat st;

	if (fstat(fd, &st)) {
		ksft_print_msg("fstat: %s\n", errno_name(errno));
		return false;
	}
	if (st.st_size == size && st.st_blocks * 512LL >= min_bytes)
		return true;
	ksft_print_msg(
		"st_size 0x%llx, st_blocks %lld; expected st_size 0x%llx and at least %lld bytes allocated\n",
		(unsigned long long)st.st_size, (long long)st.st_blocks,
		(unsigned long long)size, min_bytes);
	return false;
}

/* A fresh file of the backend, whose largest size is known */
static int setup_file(struct region *r)
{
	if (limit_skip[0])
		return skip("%s", limit_skip);
	if (!max_of(r))
		return skip("could not find the largest size ftruncate accepts");
	return KSFT_PASS;
}

/*
 * ftruncate() takes the largest size, the file stays sparse, one byte more
 * (where off_t has room for it) is EFBIG and a negative size EINVAL.
 */
static int test_ftruncate_reaches_max(struct region *r)
{
	off_t max = max_of(r);
	bool ok = true;

	ok &= result_is("ftruncate to the largest size", ftruncate(r->fd, max), 0);
	ok &= stat_is(r->fd, max, 0);
	if (max < LLONG_MAX)
		ok &= result_is("ftruncate one byte past it",
				ftruncate(r->fd, max + 1), -EFBIG);
	ok &= result_is("ftruncate to -1", ftruncate(r->fd, -1), -EINVAL);
	ok &= stat_is(r->fd, max, 0);
	return pass_if(ok);
}

/*
 * fallocate() of the last two pages below the limit: the file grows to
 * exactly the largest size with those pages allocated, or with
 * FALLOC_FL_KEEP_SIZE keeps its size; a range ending one byte further
 * fails with EFBIG either way (offset + len past the maximum, computed by
 * the kernel, may even overflow loff_t).
 */
static int fallocate_to_max(struct region *r, int mode)
{
	off_t max = max_of(r), off = last_page_start(max) - ps;
	off_t len = max - off, want_size = mode ? 0 : max;
	long long bytes = max - off;
	bool ok = true;

	ok &= result_is("fallocate up to the largest size",
			fallocate(r->fd, mode, off, len), 0);
	ok &= stat_is(r->fd, want_size, bytes);
	ok &= result_is("fallocate one byte past it",
			fallocate(r->fd, mode, off, len + 1), -EFBIG);
	ok &= result_is("fallocate from the largest size",
			fallocate(r->fd, mode, max, 1), -EFBIG);
	ok &= stat_is(r->fd, want_size, bytes);
	return pass_if(ok);
}

static int test_fallocate_reaches_max(struct region *r)
{
	return fallocate_to_max(r, 0);
}

static int test_fallocate_keep_size_up_to_max(struct region *r)
{
	return fallocate_to_max(r, FALLOC_FL_KEEP_SIZE);
}

/*
 * A write of one byte at the largest size must fail and write nothing.
 * write(2) names the error: EFBIG, "exceeds the ... maximum file size".
 * When that size is LLONG_MAX (64-bit), the end of such a write is not
 * representable in loff_t at all, and Linux refuses it before looking at
 * the size, with EINVAL (rw_verify_area(), the same in every version): on
 * such kernels either error is taken.  The partial write POSIX asks for
 * across the limit is checked against RLIMIT_FSIZE below, where the end
 * of the write is representable.
 */
static bool write_past_max_fails(const char *what, ssize_t got, off_t max)
{
	int err = errno;

	if (got == -1 && (err == EFBIG || (max == LLONG_MAX && err == EINVAL)))
		return true;
	errno = err;
	return result_is(what, got, -EFBIG);
}

/*
 * pwrite() of the last byte makes the file the largest size, a write of
 * the last 4 bytes ends there, a write at it fails; what was written reads
 * back.
 */
static int test_pwrite_reaches_max(struct region *r)
{
	static const char data[8] = "maxsize";
	off_t max = max_of(r);
	char back[4] = { 0 };
	bool ok = true;

	ok &= result_is("pwrite of the last byte",
			pwrite(r->fd, data, 1, max - 1), 1);
	ok &= stat_is(r->fd, max, 0);
	ok &= result_is("pwrite of the last 4 bytes",
			pwrite(r->fd, data, 4, max - 4), 4);
	ok &= write_past_max_fails("pwrite at the largest size",
				   pwrite(r->fd, data, 1, max), max);
	ok &= stat_is(r->fd, max, ps);
	ok &= result_is("pread of the last 4 bytes",
			pread(r->fd, back, sizeof(back), max - 4), 4);
	if (memcmp(back, data, sizeof(back))) {
		ksft_print_msg("the last 4 bytes read back as %.4s, written %.4s\n",
			       back, data);
		ok = false;
	}
	return pass_if(ok);
}

/*
 * write() at a file offset set 4 bytes below the largest size writes 4
 * bytes and leaves the offset there (lseek(2) takes it), where the next
 * write fails.
 */
static int test_write_at_offset_reaches_max(struct region *r)
{
	static const char data[8] = "maxsize";
	off_t max = max_of(r);
	bool ok = true;

	ok &= result_is("lseek(SEEK_SET) 4 below the largest size",
			lseek(r->fd, max - 4, SEEK_SET), max - 4);
	ok &= result_is("write of 4 bytes", write(r->fd, data, 4), 4);
	ok &= result_is("lseek(SEEK_CUR)", lseek(r->fd, 0, SEEK_CUR), max);
	ok &= write_past_max_fails("write at the largest size",
				   write(r->fd, data, 1), max);
	ok &= result_is("lseek(SEEK_END)", lseek(r->fd, 0, SEEK_END), max);
	ok &= stat_is(r->fd, max, ps);
	return pass_if(ok);
}

/* The checks of a child under RLIMIT_FSIZE, one exit status bit each */
enum {
	LIMIT_SETUP = 1,
	LIMIT_PWRITE = 2,
	LIMIT_FTRUNCATE = 4,
	LIMIT_FALLOCATE = 8,
};

/*
 * In a child limited to LIMIT_PAGES with SIGXFSZ ignored: a pwrite() that
 * crosses the limit writes up to it, one at the limit fails with EFBIG, and
 * so do ftruncate() and fallocate() past it.
 */
static __noreturn void limited_child(int fd, bool ignore)
{
	off_t limit = LIMIT_PAGES * ps;
	struct rlimit rl = { limit, limit };
	char data[8] = "limited";
	int failed = 0;

	if (setrlimit(RLIMIT_FSIZE, &rl) ||
	    signal(SIGXFSZ, ignore ? SIG_IGN : SIG_DFL) == SIG_ERR)
		_exit(LIMIT_SETUP);
	if (!ignore) {
		/* the default action ends the process here */
		pwrite(fd, data, 1, limit);
		_exit(LIMIT_PWRITE);
	}
	if (!result_is("pwrite of 8 bytes 4 below the limit",
		       pwrite(fd, data, 8, limit - 4), 4) ||
	    !result_is("pwrite at the limit", pwrite(fd, data, 1, limit), -EFBIG))
		failed |= LIMIT_PWRITE;
	if (!result_is("ftruncate one byte past the limit",
		       ftruncate(fd, limit + 1), -EFBIG))
		failed |= LIMIT_FTRUNCATE;
	if (!result_is("fallocate past the limit",
		       fallocate(fd, 0, limit - ps, 2 * ps), -EFBIG))
		failed |= LIMIT_FALLOCATE;
	fflush(stdout);
	_exit(failed);
}

/* Run limited_child() on the file; *@status gets its wait status */
static int run_limited(struct region *r, bool ignore, int *status)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return setup_failed("fork", errno);
	if (!pid)
		limited_child(r->fd, ignore);
	if (waitpid(pid, status, 0) != pid)
		return setup_failed("waitpid", errno);
	return KSFT_PASS;
}

static int test_fsize_limit_efbig(struct region *r)
{
	int status = 0, ret = run_limited(r, true, &status);

	if (ret)
		return ret;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg(
			"child: wait status 0x%x (exit bits: 1 setup, 2 pwrite, 4 ftruncate, 8 fallocate)\n",
			status);
		return KSFT_FAIL;
	}
	return stat_is(r->fd, LIMIT_PAGES * ps, 0) ? KSFT_PASS : KSFT_FAIL;
}

static int test_fsize_limit_sigxfsz(struct region *r)
{
	int status = 0, ret = run_limited(r, false, &status);

	if (ret)
		return ret;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ)
		return stat_is(r->fd, 0, 0) ? KSFT_PASS : KSFT_FAIL;
	ksft_print_msg(
		"child writing at its file size limit: wait status 0x%x, expected death by SIGXFSZ\n",
		status);
	return KSFT_FAIL;
}

static const struct subtest subtests[] = {
	{ "ftruncate_reaches_max", test_ftruncate_reaches_max, ON_BOTH,
	  setup_file },
	{ "fallocate_reaches_max", test_fallocate_reaches_max, ON_BOTH,
	  setup_file },
	{ "fallocate_keep_size_up_to_max", test_fallocate_keep_size_up_to_max,
	  ON_BOTH, setup_file },
	{ "pwrite_reaches_max", test_pwrite_reaches_max, ON_BOTH, setup_file },
	{ "write_at_offset_reaches_max", test_write_at_offset_reaches_max,
	  ON_BOTH, setup_file },
	{ "fsize_limit_efbig", test_fsize_limit_efbig, ON_BOTH, NULL },
	{ "fsize_limit_sigxfsz", test_fsize_limit_sigxfsz, ON_BOTH, NULL },
};

/*
 * Lift our own file size limit, if we can, and find each backend's largest
 * size with ftruncate() on a file of its own.
 */
static void probe_max_size(void)
{
	struct region r;
	size_t b;
	off_t found;

	fsize_unlimited(limit_skip, sizeof(limit_skip));
	for (b = 0; !limit_skip[0] && b < NR_BACKENDS; b++) {
		if (backends[b].skip[0] || region_open(&r, &backends[b]))
			continue;
		found = file_max_size(r.fd);
		region_close(&r);
		if (found <= (off_t)ps) {
			ksft_print_msg("%s: largest size not found: %s\n",
				       backends[b].name,
				       found < 0 ? errno_name((int)-found) : "too small");
			continue;
		}
		max_size[b] = found;
		ksft_print_msg("%s: largest size 0x%llx%s\n", backends[b].name,
			       (unsigned long long)found,
			       found == LLONG_MAX ? " (the largest off_t)" : "");
	}
	if (limit_skip[0])
		ksft_print_msg("%s\n", limit_skip);
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.environment = probe_max_size,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
