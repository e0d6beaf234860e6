// SPDX-License-Identifier: GPL-2.0
/*
 * A tmpfs mounted with "noswap" (6.4+, "shmem: add support to ignore
 * swap"), on a private mount of our own.
 *
 * Documentation/filesystems/tmpfs.rst: "noswap  Disables swap.  Remounts
 * must respect the original settings."  So:
 *  - MADV_PAGEOUT of written pages of a file there writes nothing to swap
 *    (/proc/vmstat pswpout and zswpout do not grow), the file's smaps Swap
 *    stays 0, the pages stay resident (mincore) with their data.  That the
 *    same page-out does write pages out is confirmed on a memfd of the
 *    same size right after, with swap configured.
 *  - A remount that names noswap again is accepted, and so is one that
 *    does not name it (here with no options at all); either way the mount
 *    keeps noswap (its options in /proc/self/mounts, and a file created
 *    after the remount is not swapped out).  The second was refused with
 *    EINVAL ("Cannot enable swap on remount if it was disabled on first
 *    mount") until 3cd1548a278c "shmem: fix tmpfs reconfiguration
 *    (remount) when noswap is set" (6.18; Debian 6.12.118 and 7.x have
 *    it): options a remount does not name are not changed by it, and
 *    noswap has no "swap" counterpart to turn it off.
 *  - A remount that adds noswap to a tmpfs mounted without it is refused
 *    with EINVAL ("Cannot disable swap on remount", shmem_reconfigure()),
 *    and that tmpfs still swaps.
 *
 * The mount is made at the start; EINVAL for the option is a SKIP on a
 * kernel older than 6.4, which has no noswap, and a failure of every
 * subtest on a newer one.  Needs root; without swap the page-out subtests
 * skip.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES	16
#define MOUNT_OPTS	"size=64m,mode=0700"

enum { BACKEND_NOSWAP, NR_BACKENDS };

#define ON_NOSWAP	(1U << BACKEND_NOSWAP)

/* the mount is ours: backends_probe() must not look for another tmpfs */
static struct backend backends[NR_BACKENDS] = {
	[BACKEND_NOSWAP] = { .name = "noswap", .kind = MEM_TMPFS,
			     .required = true },
};

/* a memfd: the control that the page-out does swap shmem out */
static const struct backend control = { .name = "memfd", .kind = MEM_MEMFD };

/* errno of a mount with noswap refused on a kernel that has the option */
static int noswap_refused;

/*
 * Does the mount on @dir (the last one, when several are stacked) have
 * mount option @opt in /proc/self/mounts?  1, 0, or a negative errno.
 */
static int mount_has_option(const char *dir, const char *opt)
{
	char line[PATH_MAX + 512], mnt[PATH_MAX], opts[512], *tok, *save;
	int found = -ENOENT;
	FILE *fp;

	fp = fopen("/proc/self/mounts", "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%*s %4095s %*s %511s", mnt, opts) != 2 ||
		    strcmp(mnt, dir))
			continue;
		found = 0;
		for (tok = strtok_r(opts, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, opt))
				found = 1;
	}
	fclose(fp);
	return found;
}

/* The mount on @dir has noswap exactly when @want; printed if not */
static bool noswap_shown(const char *dir, bool want)
{
	int has = mount_has_option(dir, "noswap");

	if (has == want)
		return true;
	if (has < 0)
		ksft_print_msg("no mount on %s in /proc/self/mounts: %s\n", dir,
			       errno_name(has));
	else
		ksft_print_msg("the mount on %s %s noswap in /proc/self/mounts\n",
			       dir, has ? "shows" : "does not show");
	return false;
}

/* Remount @dir with @opts (NULL: none); 0 or a negative errno */
static int remount(const char *dir, const char *opts)
{
	if (mount(NULL, dir, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, opts))
		return -errno;
	return 0;
}

/* A fresh file of the mount, NR_PAGES pages written: a KSFT code */
static int setup_written(struct region *r)
{
	int ret;

	if (noswap_refused) {
		ksft_print_msg(
			"mount -t tmpfs -o %s,noswap failed with %s on a kernel that has noswap (6.4+)\n",
			MOUNT_OPTS, errno_name(noswap_refused));
		return KSFT_FAIL;
	}
	ret = region_setup(r, NR_PAGES);
	if (!ret)
		fill_pages(r->addr, r->npages);
	return ret;
}

/* The control: NR_PAGES written pages of a memfd are paged out */
static int control_pageout(void)
{
	struct region c;
	int ret;

	ret = region_open(&c, &control);
	if (ret)
		return setup_failed(c.failed, -ret);
	ret = region_setup(&c, NR_PAGES);
	if (!ret) {
		fill_pages(c.addr, c.npages);
		ret = setup_pageout(c.addr, c.len);
		if (ret == KSFT_FAIL)
			ksft_print_msg(
				"control: the same page-out of a memfd did not swap it out\n");
	}
	region_close(&c);
	return ret;
}

/*
 * MADV_PAGEOUT of @r's written pages, repeated as often as a page-out of
 * swap-backed memory would be, writes nothing to swap; the pages stay
 * resident with their data; then the control.  A KSFT code.
 */
static int pageout_writes_nothing(const struct region *r)
{
	struct pageout_stats st = { 0 };
	unsigned char vec[NR_PAGES];
	size_t i, resident = 0;
	bool ok = true;
	int ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = pageout_range(r->addr, r->len, PAGEOUT_RETRIES, &st);
	if (ret == -ENOENT)
		return skip(
			"kernel lacks VM event counters (no pswpout in /proc/vmstat) to see a page-out");
	if (ret && ret != -EAGAIN)
		return setup_failed("MADV_PAGEOUT", -ret);
	if (st.written) {
		ksft_print_msg(
			"MADV_PAGEOUT of %zu pages of a noswap tmpfs wrote %ld pages to swap (pswpout+zswpout) in %d attempts\n",
			r->npages, st.written, st.attempts);
		ok = false;
	}
	if (region_smaps_kb(r, "Swap")) {
		ksft_print_msg("smaps Swap: %lu kB\n", region_smaps_kb(r, "Swap"));
		ok = false;
	}
	ret = mincore_range(r->addr, r->len, vec);
	for (i = 0; !ret && i < r->npages; i++)
		resident += vec[i] & 1;
	if (ret || resident != r->npages) {
		ksft_print_msg("mincore %s: %zu of %zu pages resident\n",
			       ret ? errno_name(-ret) : "ok", resident,
			       r->npages);
		ok = false;
	}
	for (i = 0; i < r->npages; i++)
		ok &= region_intact(r, i);
	ret = control_pageout();
	return ret ? ret : pass_if(ok);
}

/* A new file of the same mount in place of @r's, written: a KSFT code */
static int reopen_written(struct region *r)
{
	const struct backend *b = r->backend;
	int ret;

	region_close(r);
	ret = region_open(r, b);
	if (ret)
		return setup_failed(r->failed, -ret);
	return setup_written(r);
}

/* Subtests.  Each one returns a KSFT_* code. */

static int test_pageout_writes_nothing(struct region *r)
{
	return pageout_writes_nothing(r);
}

/*
 * Remount with @opts: accepted, noswap still shown, and a file created
 * afterwards is not swapped out.
 */
static int remount_keeps_noswap(struct region *r, const char *opts)
{
	const char *dir = r->backend->dir;
	bool ok = true;
	int ret;

	ret = remount(dir, opts);
	if (ret) {
		ksft_print_msg("remount of a noswap tmpfs with %s%s%s: %s\n",
			       opts ? "\"" : "", opts ? opts : "no options",
			       opts ? "\"" : "", errno_name(-ret));
		return KSFT_FAIL;
	}
	ok &= noswap_shown(dir, true);
	ret = reopen_written(r);
	if (ret)
		return ret;
	ret = pageout_writes_nothing(r);
	return ret == KSFT_PASS ? pass_if(ok) : ret;
}

static int test_remount_noswap_accepted(struct region *r)
{
	return remount_keeps_noswap(r, MOUNT_OPTS ",noswap");
}

static int test_remount_without_noswap_keeps_it(struct region *r)
{
	return remount_keeps_noswap(r, NULL);
}

/*
 * A tmpfs mounted without noswap, in a directory of the noswap one: a
 * remount adding noswap fails with EINVAL ("Cannot disable swap on
 * remount"), the mount does not show noswap, and its pages still swap out.
 */
static int test_remount_adding_noswap_refused(struct region *r)
{
	struct backend swapping = { .name = "swapping", .kind = MEM_TMPFS };
	struct region s;
	bool ok = true;
	int ret;

	if (snprintf(swapping.dir, sizeof(swapping.dir), "%s/swapping",
		     r->backend->dir) >= (int)sizeof(swapping.dir))
		return setup_failed("snprintf", ENAMETOOLONG);
	if (mkdir(swapping.dir, 0700))
		return setup_failed("mkdir", errno);
	if (mount("tmpfs", swapping.dir, "tmpfs", MS_NOSUID | MS_NODEV,
		  MOUNT_OPTS)) {
		ret = setup_failed("mount -t tmpfs", errno);
		rmdir(swapping.dir);
		return ret;
	}
	ret = remount(swapping.dir, MOUNT_OPTS ",noswap");
	if (ret != -EINVAL) {
		ksft_print_msg("remount adding noswap to a tmpfs without it: %s, expected EINVAL\n",
			       ret ? errno_name(-ret) : "accepted");
		ok = false;
	}
	ok &= noswap_shown(swapping.dir, false);
	ret = region_open(&s, &swapping);
	if (ret) {
		ret = setup_failed(s.failed, -ret);
	} else {
		ret = region_setup(&s, NR_PAGES);
		if (!ret) {
			fill_pages(s.addr, s.npages);
			ret = setup_pageout(s.addr, s.len);
		}
		region_close(&s);
	}
	umount2(swapping.dir, MNT_DETACH);
	rmdir(swapping.dir);
	return ret ? ret : pass_if(ok);
}

static const struct subtest subtests[] = {
	{ "pageout_writes_nothing", test_pageout_writes_nothing, ON_NOSWAP,
	  setup_written },
	{ "remount_noswap_accepted", test_remount_noswap_accepted, ON_NOSWAP,
	  setup_written },
	{ "remount_without_noswap_keeps_it",
	  test_remount_without_noswap_keeps_it, ON_NOSWAP, setup_written },
	{ "remount_adding_noswap_refused", test_remount_adding_noswap_refused,
	  ON_NOSWAP, setup_written },
};

/* Mount the noswap tmpfs; EINVAL skips before 6.4 and fails after */
static void probe(void)
{
	static const char * const opts[] = { MOUNT_OPTS ",noswap" };
	struct backend *b = &backends[BACKEND_NOSWAP];
	int ret;

	ret = mount_private_tmpfs(b, opts, ARRAY_SIZE(opts));
	if (ret != -EINVAL)
		return;
	if (kernel_older_than(6, 4)) {
		snprintf(b->skip, sizeof(b->skip),
			 "tmpfs has no noswap mount option before 6.4 (mount: EINVAL)");
		return;
	}
	/* the subtests fail, each saying why, on a tmpfs that can be opened */
	noswap_refused = -ret;
	b->skip[0] = '\0';
	if (tmpfs_find_dir(b->dir, sizeof(b->dir)))
		snprintf(b->skip, sizeof(b->skip),
			 "mount -o noswap: EINVAL on 6.4+, and no tmpfs to report it on");
}

static void print_environment(void)
{
	if (noswap_refused)
		ksft_print_msg("tmpfs refused noswap: %s\n",
			       errno_name(noswap_refused));
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.by_test = true,
	.setup = probe,
	.environment = print_environment,
};

int main(void)
{
	suite_main(&suite);
}
