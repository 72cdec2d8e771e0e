// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the mmn_stopgap kselftests, declared in mmn_stopgap.h
 * and linked into every test binary (like selftests/mm's vm_util.c).
 */
#include "mmn_stopgap.h"

double mmn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void mmn_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool mmn_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int mmn_write_raw(const void *buf, size_t len)
{
	ssize_t ret;
	int fd, err;

	fd = open(MMN_CONTROL, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, buf, len);
	err = ret < 0 ? -errno : ((size_t)ret == len ? 0 : -EIO);
	close(fd);
	return err;
}

int mmn_wedged_steps;

/* Reads one line of /proc/<pid>/<file> into buf. */
static void mmn_proc_line(pid_t pid, const char *file, const char *key, char *buf, size_t size)
{
	char path[64], text[4096], *p;
	int fd;
	ssize_t n;

	snprintf(buf, size, "?");
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	p = key ? strstr(text, key) : text;
	if (!p)
		return;
	snprintf(buf, size, "%.*s", (int)strcspn(p, "\n"), p);
}

/* Reports a step still blocked in task pid after secs seconds; returns MMN_WEDGED. */
static int mmn_wedged(const char *what, int secs, pid_t pid)
{
	char state[64], wchan[64];

	mmn_proc_line(pid, "status", "State:", state, sizeof(state));
	mmn_proc_line(pid, "wchan", NULL, wchan, sizeof(wchan));
	fprintf(stderr, "# WEDGED: %s: still blocked after %d s (pid %d, %s, wchan %s)\n",
		what, secs, pid, state, wchan);
	mmn_wedged_steps++;
	return MMN_WEDGED;
}

int mmn_watchdog_hook(int secs, const char *what, int (*fn)(void *), void *arg,
		      void (*in_parent)(void *))
{
	double end = mmn_now() + secs;
	struct pollfd pfd;
	int pipefd[2], res = MMN_WEDGED;
	pid_t pid;

	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0) {
		res = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return res;
	}
	if (pid == 0) {
		close(pipefd[0]);
		res = fn(arg);
		if (write(pipefd[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (in_parent)
		in_parent(arg);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	for (;;) {
		int left = (int)((end - mmn_now()) * 1000), n;

		if (left <= 0)
			break;
		n = poll(&pfd, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			break;
		n = read(pipefd[0], &res, sizeof(res));
		close(pipefd[0]);
		waitpid(pid, NULL, 0);
		/* A child that ended without a result crashed: that is no wedge. */
		return n == sizeof(res) ? res : -EIO;
	}
	close(pipefd[0]);
	return mmn_wedged(what, secs, pid);
}

int mmn_watchdog(int secs, const char *what, int (*fn)(void *), void *arg)
{
	return mmn_watchdog_hook(secs, what, fn, arg, NULL);
}

ssize_t mmn_read_raw(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n = 0;
	char extra;
	int fd;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	/* The buffer is full: one more byte tells a file that fits from a longer one. */
	if (n >= 0 && len + 1 >= size) {
		n = read(fd, &extra, 1);
		if (n > 0) {
			buf[0] = '\0';
			close(fd);
			return -EOVERFLOW;
		}
	}
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

/*
 * Control writes and file reads run in a worker thread, which the caller
 * waits for at most secs seconds. Unlike a forked child, a thread neither
 * copies the caller's page tables nor, once started, changes its mappings
 * (each calling thread keeps its worker and buffers for good), so a
 * subscriber attached to the caller's own mm counts no invalidation for the
 * step. A step that blocks is abandoned with its worker (the next step starts
 * a new one); the blocked thread also keeps the process from exiting, so the
 * harness ends that case by its timeout. Where a step is expected to block
 * (core_repro), mmn_ctl_fork() runs it in a child process instead.
 */
struct mmn_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool busy, done, abandoned;
	int res;
	pid_t tid;
	bool read;
	size_t len, size;
	char arg[MMN_MAX_STEP_WRITE + 1];
	char buf[MMN_MAX_STEP_READ];
};

/* Each calling thread's worker. */
static __thread struct mmn_worker *mmn_worker;

/* A forked child has no worker thread, whatever its parent had. */
static void mmn_worker_forget(void)
{
	mmn_worker = NULL;
}

static void __attribute__((constructor)) mmn_worker_init(void)
{
	pthread_atfork(NULL, NULL, mmn_worker_forget);
}

static void *mmn_worker_main(void *p)
{
	struct mmn_worker *w = p;
	int res;

	pthread_mutex_lock(&w->lock);
	w->tid = (pid_t)syscall(SYS_gettid);
	for (;;) {
		while (!w->busy)
			pthread_cond_wait(&w->cond, &w->lock);
		pthread_mutex_unlock(&w->lock);
		if (w->read)
			res = (int)mmn_read_raw(w->arg, w->buf, w->size);
		else
			res = mmn_write_raw(w->arg, w->len);
		pthread_mutex_lock(&w->lock);
		w->res = res;
		w->busy = false;
		w->done = true;
		if (w->abandoned)
			break;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	free(w);
	return NULL;
}

int mmn_step(int secs, const char *what, const void *arg, size_t len, char *out, size_t outsize)
{
	struct mmn_worker *w = mmn_worker;
	pthread_condattr_t ca;
	struct timespec ts;
	pthread_t t;
	int err, res;

	if (len > MMN_MAX_STEP_WRITE || (out && (!outsize || outsize > MMN_MAX_STEP_READ)))
		return -E2BIG;
	if (out)
		out[0] = '\0';
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->size = MMN_MAX_STEP_READ;
		pthread_mutex_init(&w->lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cond, &ca);
		pthread_condattr_destroy(&ca);
		err = pthread_create(&t, NULL, mmn_worker_main, w);
		if (err) {
			free(w);
			return -err;
		}
		pthread_detach(t);
		mmn_worker = w;
	}
	pthread_mutex_lock(&w->lock);
	w->read = !!out;
	w->len = len;
	memcpy(w->arg, arg, len);
	w->arg[len] = '\0';
	w->done = false;
	w->busy = true;
	pthread_cond_broadcast(&w->cond);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += secs;
	while (!w->done)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
			break;
	if (!w->done) {
		pid_t tid = w->tid;

		/* Abandoned: the worker frees itself if the step ever ends. */
		w->abandoned = true;
		mmn_worker = NULL;
		pthread_mutex_unlock(&w->lock);
		return mmn_wedged(what, secs, tid);
	}
	res = w->res;
	if (out && res >= 0) {
		if ((size_t)res > outsize - 1) {
			res = -EOVERFLOW;
		} else {
			memcpy(out, w->buf, res);
			out[res] = '\0';
		}
	}
	pthread_mutex_unlock(&w->lock);
	return res;
}

int mmn_write_wd(int secs, const void *buf, size_t len)
{
	char what[160];

	snprintf(what, sizeof(what), "control write \"%.*s\"", (int)(len < 100 ? len : 100),
		 (const char *)buf);
	return mmn_step(secs, what, buf, len, NULL, 0);
}

__printf(2, 3) int mmn_ctl_wd(int secs, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -E2BIG;
	return mmn_write_wd(secs, buf, n);
}

struct mmn_fork_write {
	char buf[1024];
	int len;
};

static int mmn_fork_write_step(void *arg)
{
	struct mmn_fork_write *a = arg;

	return mmn_write_raw(a->buf, a->len);
}

__printf(2, 3) int mmn_ctl_fork(int secs, const char *fmt, ...)
{
	struct mmn_fork_write a;
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	a.len = vsnprintf(a.buf, sizeof(a.buf), fmt, ap);
	va_end(ap);
	if (a.len < 0 || (size_t)a.len >= sizeof(a.buf))
		return -E2BIG;
	snprintf(what, sizeof(what), "control write \"%.100s\"", a.buf);
	return mmn_watchdog(secs, what, mmn_fork_write_step, &a);
}

ssize_t mmn_read_file(const char *path, char *buf, size_t size)
{
	char what[128];

	if (strncmp(path, MMN_DIR "/", strlen(MMN_DIR "/")))
		return mmn_read_raw(path, buf, size);
	snprintf(what, sizeof(what), "read of %.100s", path);
	return mmn_step(MMN_WATCHDOG_SECS, what, path, strlen(path), buf, size);
}

long mmn_huge_kb(pid_t pid, const void *addr, size_t len)
{
	static char buf[512 * 1024];
	unsigned long start = (uintptr_t)addr, end = start + len, vs, ve;
	char path[64], *line, *save;
	long kb, total = 0;
	bool in = false;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps");
	if (mmn_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* A VMA's header line: "start-end perms ...". */
		if (sscanf(line, "%lx-%lx ", &vs, &ve) == 2)
			in = vs < end && ve > start;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			total += kb;
	}
	return total;
}

int mmn_stats(struct mmn_stats *s)
{
	char buf[4096], *line, *save;
	int seen = 0;

	memset(s, 0, sizeof(*s));
	if (mmn_read_file(MMN_STATS, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		seen += sscanf(line, "policy: %15s", s->policy) == 1;
		seen += sscanf(line, "groups: %ld", &s->groups) == 1;
		seen += sscanf(line, "gates: %ld", &s->gates) == 1;
		seen += sscanf(line, "subscribers: %ld", &s->subscribers) == 1;
		seen += sscanf(line, "gate_calls: %ld", &s->gate_calls) == 1;
		seen += sscanf(line, "nonblock_seen: %ld", &s->nonblock_seen) == 1;
		seen += sscanf(line, "refused: %ld", &s->refused) == 1;
		seen += sscanf(line, "warned: %ld", &s->warned) == 1;
		seen += sscanf(line, "parked: %ld", &s->parked) == 1;
		seen += sscanf(line, "memory_bytes: %ld", &s->memory_bytes) == 1;
		seen += sscanf(line, "removing: %ld", &s->removing) == 1;
		seen += sscanf(line, "teardown: %15s", s->teardown) == 1;
	}
	return seen == 12 ? 0 : -1;
}

int mmn_subs(struct mmn_sub *subs, int max)
{
	static __thread char buf[256 * 1024];
	char *line, *save;
	int n = 0, i = 0;

	if (mmn_read_file(MMN_SUBSCRIBERS, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		struct mmn_sub s;

		if (i == 0) {
			if (!strstr(line, "id") || !strstr(line, "in_flight"))
				return -1;
			continue;
		}
		if (sscanf(line, "%ld %ld %15s %ld %ld %ld %ld %ld %15s", &s.id, &s.pid,
			   s.kind, &s.starts, &s.ends, &s.nonblock, &s.in_flight,
			   &s.unpaired, s.state) != 9)
			return -1;
		if (n < max)
			subs[n] = s;
		n++;
	}
	return n;
}

int mmn_totals(const char *kind, long pid, struct mmn_totals *t)
{
	static __thread struct mmn_sub subs[MMN_MAX_SUBS];
	int n, i;

	memset(t, 0, sizeof(*t));
	n = mmn_subs(subs, MMN_MAX_SUBS);
	if (n < 0)
		return -1;
	for (i = 0; i < n && i < MMN_MAX_SUBS; i++) {
		if (kind && strcmp(subs[i].kind, kind))
			continue;
		if (pid > 0 && subs[i].pid != pid)
			continue;
		t->count++;
		t->starts += subs[i].starts;
		t->ends += subs[i].ends;
		t->nonblock += subs[i].nonblock;
		t->in_flight += subs[i].in_flight;
		t->unpaired += subs[i].unpaired;
		t->dead += !strcmp(subs[i].state, "dead");
	}
	return 0;
}

int mmn_snapshot(long pid, struct mmn_snapshot *snap)
{
	static __thread struct mmn_sub all[MMN_MAX_SUBS];
	int n, i;

	snap->n = 0;
	n = mmn_subs(all, MMN_MAX_SUBS);
	if (n < 0)
		return -1;
	for (i = 0; i < n && i < MMN_MAX_SUBS; i++)
		if (all[i].pid == pid && snap->n < 64)
			snap->subs[snap->n++] = all[i];
	return snap->n;
}

int mmn_check_each(const struct mmn_snapshot *before, long nonblock)
{
	struct mmn_snapshot now;
	int i, j, bad = 0;

	if (before->n == 0) {
		fprintf(stderr, "# no subscriber to check\n");
		return 1;
	}
	/*
	 * Let an invalidation that something else started meanwhile (ksmd,
	 * kcompactd, kswapd migrating a page) finish: look again, for up to
	 * 2 s, while one is in flight. A start whose end never comes is still
	 * in flight after that, and fails below.
	 */
	for (i = 0; i < 200; i++) {
		if (mmn_snapshot(before->subs[0].pid, &now) != before->n) {
			fprintf(stderr, "# %d subscribers now, %d before\n", now.n, before->n);
			return 1;
		}
		for (j = 0; j < now.n && !now.subs[j].in_flight; j++)
			;
		if (j == now.n)
			break;
		mmn_sleep_ms(10);
	}
	for (i = 0; i < before->n; i++) {
		const struct mmn_sub *b = &before->subs[i], *a = NULL;
		long nb;

		for (j = 0; j < now.n; j++)
			if (now.subs[j].id == b->id)
				a = &now.subs[j];
		if (!a) {
			fprintf(stderr, "# subscriber %ld is gone\n", b->id);
			bad++;
			continue;
		}
		nb = a->nonblock - b->nonblock;
		if (a->starts <= b->starts || a->starts != a->ends || a->in_flight || a->unpaired ||
		    (nonblock >= 0 ? nb != nonblock : nb < 1)) {
			fprintf(stderr,
				"# subscriber %ld: starts %ld -> %ld, ends %ld, in_flight %ld, unpaired %ld, nonblock +%ld (want %s%ld)\n",
				a->id, b->starts, a->starts, a->ends, a->in_flight, a->unpaired, nb,
				nonblock >= 0 ? "" : ">= ", nonblock >= 0 ? nonblock : 1);
			bad++;
		}
	}
	return bad;
}

bool mmn_loaded(void)
{
	return mmn_exists("/sys/module/" MMN_MODULE);
}

int mmn_run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int mmn_load(void)
{
	const char *ko = getenv("MMN_STOPGAP_KO");

	if (mmn_loaded())
		return 0;
	if (ko && *ko)
		return mmn_run("insmod %s", ko) == 0 ? 0 : -1;
	return mmn_run("modprobe " MMN_MODULE " 2>/dev/null") == 0 ? 0 : -1;
}

static int mmn_rmmod_step(void *arg)
{
	return mmn_run("rmmod " MMN_MODULE " 2>/dev/null");
}

int mmn_unload(void)
{
	int rc;

	if (!mmn_loaded())
		return 0;
	rc = mmn_watchdog(MMN_WATCHDOG_SECS, "rmmod " MMN_MODULE, mmn_rmmod_step, NULL);
	return rc == 0 ? 0 : (rc == MMN_WEDGED ? MMN_WEDGED : -1);
}

bool mmn_available(void)
{
	const char *ko = getenv("MMN_STOPGAP_KO");

	if (mmn_loaded())
		return true;
	if (ko && *ko)
		return mmn_exists(ko);
	return mmn_run("modprobe -n " MMN_MODULE " 2>/dev/null") == 0;
}

int mmn_clean_state(void)
{
	if (mmn_load())
		return -1;
	if (mmn_ctl("unpark") || mmn_ctl("detach all") || mmn_ctl("policy stopgap") ||
	    mmn_ctl("reset"))
		return -1;
	return 0;
}

int mmn_touch_and_unmap(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	memset(p, 1, len);
	return munmap(p, len) ? -errno : 0;
}

bool mmn_wait_for(bool (*fn)(long), long arg, int timeout_ms)
{
	double end = mmn_now() + timeout_ms / 1000.0;

	while (mmn_now() < end) {
		if (fn(arg))
			return true;
		mmn_sleep_ms(5);
	}
	return fn(arg);
}

bool mmn_parked_at_most(long n)
{
	struct mmn_stats s;

	return mmn_stats(&s) == 0 && s.parked <= n;
}

bool mmn_parked_at_least(long n)
{
	struct mmn_stats s;

	return mmn_stats(&s) == 0 && s.parked >= n;
}

struct mmn_victim_msg mmn_victim_info = { .dmirror_fd = -1 };

void *mmn_parker(void *arg)
{
	struct mmn_victim_msg msg = mmn_victim_info;
	int report = (int)(intptr_t)arg;
	int fd = open(MMN_CONTROL, O_WRONLY);

	msg.tid = (pid_t)syscall(SYS_gettid);
	msg.err = fd < 0 ? errno : msg.err;
	if (report >= 0 && write(report, &msg, sizeof(msg)) != sizeof(msg))
		_exit(3);
	if (fd >= 0 && write(fd, "park 120", 8) < 0)
		_exit(4);
	return NULL;
}

int mmn_victim_start_flags(struct mmn_victim *v, size_t mib, int flags)
{
	struct mmn_victim_msg msg = { 0 };
	bool park = flags & MMN_VICTIM_PARK;
	int mmn_victim_pipe[2];

	memset(v, 0, sizeof(*v));
	v->pidfd = -1;
	v->dmirror_fd = -1;
	v->bytes = mib << 20;
	if (pipe(mmn_victim_pipe))
		return -errno;
	v->pid = fork();
	if (v->pid < 0)
		return -errno;
	if (v->pid == 0) {
		pthread_t t;
		char *p = NULL;
		size_t i;

		close(mmn_victim_pipe[0]);
		if (v->bytes) {
			p = mmap(NULL, v->bytes, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				_exit(1);
			for (i = 0; i < v->bytes; i += 4096)
				p[i] = (char)(i >> 12);
		}
		mmn_victim_info.addr = (uintptr_t)p;
		if (flags & MMN_VICTIM_DMIRROR) {
			/* test_hmm inserts an interval notifier on our mm at open. */
			mmn_victim_info.dmirror_fd = open("/dev/hmm_dmirror0", O_RDWR);
			if (mmn_victim_info.dmirror_fd < 0)
				mmn_victim_info.err = errno;
		}
		/* The parker reports once it is about to park. */
		if (park && !mmn_victim_info.err &&
		    pthread_create(&t, NULL, mmn_parker, (void *)(intptr_t)mmn_victim_pipe[1]))
			_exit(2);
		if (!park || mmn_victim_info.err) {
			msg = mmn_victim_info;
			msg.tid = getpid();
			if (write(mmn_victim_pipe[1], &msg, sizeof(msg)) != sizeof(msg))
				_exit(3);
		}
		for (;;)
			pause();
	}
	close(mmn_victim_pipe[1]);
	if (read(mmn_victim_pipe[0], &msg, sizeof(msg)) != sizeof(msg)) {
		close(mmn_victim_pipe[0]);
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
		return -ECHILD;
	}
	close(mmn_victim_pipe[0]);
	if (msg.err) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
		return -msg.err;
	}
	v->parked_tid = msg.tid;
	v->addr = msg.addr;
	v->pidfd = syscall(__NR_pidfd_open, v->pid, 0);
	if (v->pidfd < 0)
		return -errno;
	if (msg.dmirror_fd >= 0) {
		/* Our own reference to the victim's dmirror file. */
		v->dmirror_fd = syscall(__NR_pidfd_getfd, v->pidfd, msg.dmirror_fd, 0);
		if (v->dmirror_fd < 0)
			return -errno;
	}
	return 0;
}

int mmn_victim_start(struct mmn_victim *v, size_t mib, bool park)
{
	return mmn_victim_start_flags(v, mib, park ? MMN_VICTIM_PARK : 0);
}

long mmn_rss_kb(pid_t pid, pid_t tid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (mmn_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

pid_t mmn_last_tid(pid_t pid)
{
	char path[64];
	struct dirent *e;
	pid_t tid = -1;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (atoi(e->d_name) > tid)
			tid = atoi(e->d_name);
	closedir(d);
	return tid;
}

bool mmn_thread_state_is(pid_t pid, pid_t tid, char want)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (mmn_read_file(path, buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "State:");
	return p && strchr(p, want) && strchr(p, want) < strchr(p, '\n');
}

bool mmn_wait_for_zombie(pid_t pid, int timeout_ms)
{
	double end = mmn_now() + timeout_ms / 1000.0;
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	while (mmn_now() < end) {
		if (mmn_read_file(path, buf, sizeof(buf)) > 0) {
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'Z')
				return true;
		}
		mmn_sleep_ms(5);
	}
	return false;
}

int mmn_mrelease(struct mmn_victim *v)
{
	return syscall(__NR_process_mrelease, v->pidfd, 0) ? -errno : 0;
}

int mmn_victim_kill(struct mmn_victim *v)
{
	return kill(v->pid, SIGKILL) ? -errno : 0;
}

bool mmn_dmirror_available(void)
{
	return access("/dev/hmm_dmirror0", R_OK | W_OK) == 0;
}

int mmn_dmirror_read_step(void *arg)
{
	struct mmn_dmirror_args *a = arg;

	return ioctl(a->fd, HMM_DMIRROR_READ, &a->cmd) ? -errno : (int)a->cmd.cpages;
}

int mmn_dmirror_read(struct mmn_victim *v, size_t npages)
{
	struct mmn_dmirror_args a = { .fd = v->dmirror_fd };
	size_t i;
	char *buf;
	int n;

	buf = mmap(NULL, npages << 12, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -errno;
	a.cmd.addr = v->addr;
	a.cmd.ptr = (uintptr_t)buf;
	a.cmd.npages = npages;
	n = mmn_watchdog(MMN_WATCHDOG_SECS, "HMM_DMIRROR_READ of the victim", mmn_dmirror_read_step,
			 &a);
	for (i = 0; n > 0 && i < npages; i++)
		if (buf[i << 12] != (char)i)
			n = -EBADMSG;
	munmap(buf, npages << 12);
	return n;
}

struct mmn_close_args {
	int fd;
	int go[2];
};

static void mmn_close_parent(void *arg)
{
	struct mmn_close_args *a = arg;

	/* Ours goes first, so that the child's close drops the last reference. */
	close(a->fd);
	close(a->go[0]);
	if (write(a->go[1], "g", 1) != 1)
		perror("write");
	close(a->go[1]);
}

static int mmn_close_step(void *arg)
{
	struct mmn_close_args *a = arg;
	char go;

	close(a->go[1]);
	if (read(a->go[0], &go, 1) != 1)
		return -EPIPE;
	return close(a->fd) ? -errno : 0;
}

int mmn_dmirror_close(struct mmn_victim *v)
{
	struct mmn_close_args a = { .fd = v->dmirror_fd };
	int rc;

	if (v->dmirror_fd < 0)
		return 0;
	v->dmirror_fd = -1;
	if (pipe(a.go))
		return -errno;
	rc = mmn_watchdog_hook(MMN_WATCHDOG_SECS, "close of the dmirror file", mmn_close_step,
			       &a, mmn_close_parent);
	return rc;
}

void mmn_victim_stop(struct mmn_victim *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		mmn_ctl("unpark");
		waitpid(v->pid, NULL, 0);
		v->pid = 0;
	}
	if (v->pidfd >= 0) {
		close(v->pidfd);
		v->pidfd = -1;
	}
	mmn_dmirror_close(v);
}

int mmn_write_str(const char *path, const char *str)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, str, strlen(str)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int mmn_clear_refs_step(void *arg)
{
	return mmn_write_str((const char *)arg, "4");
}

int mmn_victim_invalidate(struct mmn_victim *v)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", v->pid);
	return mmn_watchdog(MMN_WATCHDOG_SECS, "soft-dirty clear of a victim's mm",
			    mmn_clear_refs_step, path);
}

const char *mmn_memcg_missing(void)
{
	char buf[256];

	if (!mmn_exists(MMN_CG_ROOT "/cgroup.subtree_control"))
		return "cgroup v2 is not mounted on " MMN_CG_ROOT;
	if (mmn_read_file(MMN_CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		return "the memory controller is not available (CONFIG_MEMCG)";
	return NULL;
}

int mmn_memcg_create(const char *name, long limit_mib, char *path, size_t size)
{
	char file[320], limit[32];
	int err;

	err = mmn_write_str(MMN_CG_ROOT "/cgroup.subtree_control", "+memory");
	if (err)
		return err;
	snprintf(path, size, MMN_CG_ROOT "/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(file, sizeof(file), "%s/memory.max", path);
	snprintf(limit, sizeof(limit), "%ldM", limit_mib);
	return mmn_write_str(file, limit);
}

int mmn_memcg_enter(const char *path)
{
	char file[320];

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	return mmn_write_str(file, "0");
}

void mmn_oom_victim_flags(const char *cg, int go_fd, int tid_fd, int flags)
{
	pthread_t t;
	char go;

	if (mmn_memcg_enter(cg))
		_exit(2);
	if (flags & MMN_VICTIM_DMIRROR) {
		/* test_hmm's interval notifier on our mm; its fd is in the report. */
		mmn_victim_info.dmirror_fd = open("/dev/hmm_dmirror0", O_RDWR);
		if (mmn_victim_info.dmirror_fd < 0)
			mmn_victim_info.err = errno;
	}
	if (pthread_create(&t, NULL, mmn_parker, (void *)(intptr_t)tid_fd))
		_exit(2);
	if (read(go_fd, &go, 1) != 1)
		_exit(5);
	for (;;) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			memset(p, 0x11, 1 << 20);
	}
}

void mmn_oom_victim(const char *cg, int go_fd, int tid_fd)
{
	mmn_oom_victim_flags(cg, go_fd, tid_fd, 0);
}

int mmn_kmsg_count2(const char *a, const char *b)
{
	char rec[8192];
	int fd, count = 0;
	ssize_t n;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0) {
			if (errno == EPIPE)
				continue;
			break;
		}
		rec[n] = '\0';
		if (strstr(rec, a) && strstr(rec, b))
			count++;
	}
	close(fd);
	return count;
}

int mmn_kmsg_count(const char *needle)
{
	return mmn_kmsg_count2(needle, "");
}

void mmn_kmsg_mark(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		return;
	n = write(fd, buf, n);
	close(fd);
}
