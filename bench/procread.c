/* The floor for the agent's CPU per sampling cycle: a minimal C program reading the
 * same /proc and cgroup files the agent reads each cycle, parsing only what it must.
 *
 *   procread CYCLES [INTERVAL_MS] [PROC_ROOT] [CGROUP_MEMORY_ROOT]
 *
 * With INTERVAL_MS it sleeps between cycles like the agent does (cold caches each
 * cycle, the fair comparison); without, cycles run back to back.
 * Per cycle: /proc/meminfo, /proc/vmstat, /proc/pressure/memory, /proc/uptime; every
 * /proc/PID/stat (RSS ranking); cmdline and cgroup for processes not seen before (same
 * cache rule as the agent); status, oom_score, oom_score_adj for the top 20; the memory
 * cgroup hierarchy's usage/limit/oom_control files to depth 3. Prints CPU
 * microseconds per cycle (user + system, from getrusage).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define TOPN 20
#define MAXP 65536

static char buf[1 << 16];
static long long seen_start[MAXP];

static long rd(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    long total = 0, n;
    while ((n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0) total += n;
    close(fd);
    buf[total] = 0;
    return total;
}

static volatile long sink = 0;
static int visited;

/* Memory cgroups to depth 3, at most 1000 directories: what the agent's cgroup source
 * visits. */
static void walk(const char *dir, int depth) {
    static const char *cf[] = {"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.oom_control"};
    char path[1024];
    if (++visited > 1000) return;
    for (int j = 0; j < 3; j++) {
        snprintf(path, sizeof path, "%s/%s", dir, cf[j]);
        sink += rd(path);
    }
    if (depth >= 3) return;
    DIR *cd = opendir(dir);
    struct dirent *e;
    while (cd && (e = readdir(cd))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        walk(path, depth + 1);
    }
    if (cd) closedir(cd);
}

int main(int argc, char **argv) {
    int cycles = argc > 1 ? atoi(argv[1]) : 100;
    int interval_ms = argc > 2 ? atoi(argv[2]) : 0;
    const char *proc = argc > 3 ? argv[3] : "/proc";
    const char *cg = argc > 4 ? argv[4] : "/sys/fs/cgroup/memory";
    char path[512];
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    for (int c = 0; c < cycles; c++) {
        if (interval_ms > 0 && c > 0) usleep(interval_ms * 1000);
        const char *files[] = {"meminfo", "vmstat", "pressure/memory", "uptime"};
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", proc, files[i]);
            sink += rd(path);
        }
        int top_pid[TOPN] = {0};
        long top_rss[TOPN] = {0};
        DIR *d = opendir(proc);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            int pid = atoi(e->d_name);
            snprintf(path, sizeof path, "%s/%d/stat", proc, pid);
            if (rd(path) <= 0) continue;
            char *p = strrchr(buf, ')');
            if (!p) continue;
            long long start = 0;
            long rss = 0;
            int field = 3;
            for (p += 2; *p && field < 24; p++) {
                if (*p == ' ') {
                    field++;
                    if (field == 22) start = atoll(p + 1);
                    if (field == 24) rss = atol(p + 1);
                }
            }
            if (pid < MAXP && seen_start[pid] != start + 1 && rss > 0) {
                seen_start[pid] = start + 1;
                snprintf(path, sizeof path, "%s/%d/cmdline", proc, pid);
                sink += rd(path);
                snprintf(path, sizeof path, "%s/%d/cgroup", proc, pid);
                sink += rd(path);
            }
            for (int i = 0; i < TOPN; i++) {
                if (rss > top_rss[i]) {
                    memmove(top_rss + i + 1, top_rss + i, (TOPN - i - 1) * sizeof(long));
                    memmove(top_pid + i + 1, top_pid + i, (TOPN - i - 1) * sizeof(int));
                    top_rss[i] = rss;
                    top_pid[i] = pid;
                    break;
                }
            }
        }
        closedir(d);
        for (int i = 0; i < TOPN && top_pid[i]; i++) {
            const char *pf[] = {"status", "oom_score", "oom_score_adj"};
            for (int j = 0; j < 3; j++) {
                snprintf(path, sizeof path, "%s/%d/%s", proc, top_pid[i], pf[j]);
                sink += rd(path);
            }
        }
        visited = 0;
        walk(cg, 0);
    }
    getrusage(RUSAGE_SELF, &r1);
    double us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1e6 + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
                (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    printf("%.1f\n", us / cycles);
    return sink == 42 ? 1 : 0;
}
