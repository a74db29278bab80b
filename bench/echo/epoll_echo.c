/*
 * A minimal single-threaded epoll echo server: the physical limit that the echo benchmark
 * compares sockit against. Level-triggered, non-blocking, one 64 KiB read buffer; on a
 * partial write the rest is kept per connection and the read side waits for EPOLLOUT.
 *
 * usage: epoll_echo HOST PORT   (PORT 0 picks one; the bound port is printed on stdout)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF_SIZE 65536

struct conn {
  int fd;
  char *pending;
  size_t pending_len;
};

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void drop(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pending);
  free(c);
}

/* Writes all of buf, or keeps what the kernel would not take and waits for EPOLLOUT. */
static int send_all(int ep, struct conn *c, const char *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(c->fd, buf + off, len - off);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      size_t rest = len - off;
      char *p = malloc(rest);
      if (!p) return -1;
      memcpy(p, buf + off, rest);
      free(c->pending);
      c->pending = p;
      c->pending_len = rest;
      struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
      return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    } else {
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) die("inet_pton");
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(lfd, 511) < 0) die("listen");
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event events[MAX_EVENTS];
  static char buf[BUF_SIZE];

  for (;;) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = calloc(1, sizeof *nc);
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        char *p = c->pending;
        size_t len = c->pending_len;
        c->pending = NULL;
        c->pending_len = 0;
        struct epoll_event rev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &rev);
        int rc = send_all(ep, c, p, len);
        free(p);
        if (rc < 0) drop(ep, c);
        continue;
      }
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r > 0) {
        if (send_all(ep, c, buf, (size_t)r) < 0) drop(ep, c);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        drop(ep, c);
      }
    }
  }
}
