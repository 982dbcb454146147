/*
 * livmap load generator: sends prepared UDP payloads to a loopback target with up to WINDOW
 * requests in flight, matches replies to requests by an 8-byte nonce, and prints one JSON line:
 * sent, received, lost, duration, requests/s and latency percentiles (send -> matching reply).
 *
 * Payload file (written by bench/lib/payloads.ts):
 *   "LVMLOAD1", u32 LE count, then count x (u16 LE length, bytes). Nonces must be distinct.
 *
 * Usage: loadgen --target HOST:PORT --payloads FILE [--window N] [--duration-ms D] [--count C]
 *        [--warmup-ms W] [--rate R] [--req-nonce-offset A] [--reply-nonce-offset B]
 *        [--timeout-ms T] [--port-offset P [--csum-offset S]] [--spin] [--sockets K]
 *
 * --port-offset writes the generator's own UDP port (big-endian) into every payload at P: an ECM
 * Map-Request names the port the reply must go to (inner UDP source port), and the generator
 * only knows it after binding. --csum-offset then fixes that inner UDP checksum (RFC 1624).
 * --rate R paces sends at R/s (still capped by the window); 0 = closed loop, as fast as replies
 * come back. --spin (closed loop): while the window is full, poll the socket without sleeping,
 * so no reply has to wake the generator; on a VM that wake-up is an inter-processor interrupt
 * charged to the server's send call, which a server answering remote ITRs never pays.
 * --sockets K sends from K sockets (K source ports, as K ITRs would): payload i goes out of
 * socket (i / BATCH) % K, so a server with several SO_REUSEPORT sockets sees K flows to spread
 * (the kernel hashes a flow to one socket). Default 1.
 * Loopback or 198.18.0.0/15 (RFC 2544 benchmarking addresses, used only inside the bench's own
 * network namespaces) targets only; every run is bounded by --duration-ms and a SIGALRM backstop.
 */
#define _GNU_SOURCE
#define MAX_SOCKETS 64
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef __linux__
/* Portable stand-ins for Linux's batched socket calls: one syscall per datagram. */
#define mmsghdr lg_mmsghdr
#define sendmmsg lg_sendmmsg
#define recvmmsg lg_recvmmsg
struct mmsghdr { struct msghdr msg_hdr; unsigned msg_len; };
static int sendmmsg(int fd, struct mmsghdr *m, unsigned n, int flags) {
  unsigned i = 0;
  for (; i < n; i++) {
    ssize_t r = sendmsg(fd, &m[i].msg_hdr, flags);
    if (r < 0) return i ? (int)i : -1;
    m[i].msg_len = (unsigned)r;
  }
  return (int)i;
}
static int recvmmsg(int fd, struct mmsghdr *m, unsigned n, int flags, void *timeout) {
  (void)timeout;
  unsigned i = 0;
  for (; i < n; i++) {
    ssize_t r = recvmsg(fd, &m[i].msg_hdr, flags);
    if (r < 0) return i ? (int)i : -1;
    m[i].msg_len = (unsigned)r;
  }
  return (int)i;
}
#endif

#define BATCH 64
#define MAX_DGRAM 2048
#define HIST_US 100000 /* 1 us buckets up to 100 ms; beyond goes to the overflow bucket */

static void die(const char *msg) {
  fprintf(stderr, "loadgen: %s\n", msg);
  exit(2);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "loadgen: run exceeded its time bound; aborting\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(3);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

static long arg_long(const char *name, const char *text, long min, long max) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || !end || *end || v < min || v > max) {
    fprintf(stderr, "loadgen: %s must be an integer in %ld..%ld (got '%s')\n", name, min, max, text);
    exit(2);
  }
  return v;
}

/* Static nonce -> payload index table (open addressing, never deleted from). */
static uint64_t *tab_keys;
static int32_t *tab_vals;
static uint64_t tab_mask;
static int tab_bits;

static uint64_t tab_slot(uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) >> (64 - tab_bits); }

static int tab_put(uint64_t key, int32_t val) {
  for (uint64_t i = tab_slot(key);; i = (i + 1) & tab_mask) {
    if (tab_vals[i] < 0) { tab_keys[i] = key; tab_vals[i] = val; return 1; }
    if (tab_keys[i] == key) return 0;
  }
}

static int32_t tab_get(uint64_t key) {
  for (uint64_t i = tab_slot(key);; i = (i + 1) & tab_mask) {
    if (tab_vals[i] < 0) return -1;
    if (tab_keys[i] == key) return tab_vals[i];
  }
}

int main(int argc, char **argv) {
  const char *target = NULL, *file = NULL;
  long window = 32, duration_ms = 2000, warmup_ms = 0, count = 0, rate = 0, timeout_ms = 500;
  long req_off = 4, reply_off = 4, port_off = -1, csum_off = -1, nsock = 1;
  int spin = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--spin")) { spin = 1; continue; }
    if (i + 1 >= argc) { fprintf(stderr, "loadgen: %s needs a value\n", a); return 2; }
    const char *v = argv[++i];
    if (!strcmp(a, "--target")) target = v;
    else if (!strcmp(a, "--payloads")) file = v;
    else if (!strcmp(a, "--window")) window = arg_long(a, v, 1, 65536);
    else if (!strcmp(a, "--duration-ms")) duration_ms = arg_long(a, v, 1, 600000);
    else if (!strcmp(a, "--warmup-ms")) warmup_ms = arg_long(a, v, 0, 60000);
    else if (!strcmp(a, "--count")) count = arg_long(a, v, 0, 1000000000);
    else if (!strcmp(a, "--rate")) rate = arg_long(a, v, 0, 10000000);
    else if (!strcmp(a, "--timeout-ms")) timeout_ms = arg_long(a, v, 1, 10000);
    else if (!strcmp(a, "--req-nonce-offset")) req_off = arg_long(a, v, 0, MAX_DGRAM - 8);
    else if (!strcmp(a, "--reply-nonce-offset")) reply_off = arg_long(a, v, 0, MAX_DGRAM - 8);
    else if (!strcmp(a, "--port-offset")) port_off = arg_long(a, v, 0, MAX_DGRAM - 2);
    else if (!strcmp(a, "--csum-offset")) csum_off = arg_long(a, v, 0, MAX_DGRAM - 2);
    else if (!strcmp(a, "--sockets")) nsock = arg_long(a, v, 1, MAX_SOCKETS);
    else { fprintf(stderr, "loadgen: unknown option %s\n", a); return 2; }
  }
  if (!target || !file) die("--target HOST:PORT and --payloads FILE are required");

  /* Target: loopback (127.0.0.0/8, ::1), or the RFC 2544 benchmarking range 198.18.0.0/15 that
   * only the bench's own network namespaces use (bench/lib/lab.ts); nothing else. */
  int lab = 0;
  struct sockaddr_storage dst;
  socklen_t dst_len;
  memset(&dst, 0, sizeof dst);
  char host[64];
  const char *colon = strrchr(target, ':');
  if (!colon || colon == target || (size_t)(colon - target) >= sizeof host) die("--target must be HOST:PORT ([::1]:PORT for IPv6)");
  size_t hl = (size_t)(colon - target);
  memcpy(host, target, hl);
  host[hl] = 0;
  if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') { memmove(host, host + 1, hl - 2); host[hl - 2] = 0; }
  long port = arg_long("target port", colon + 1, 1, 65535);
  int family;
  struct sockaddr_in *d4 = (struct sockaddr_in *)&dst;
  struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&dst;
  if (inet_pton(AF_INET, host, &d4->sin_addr) == 1) {
    uint32_t a = ntohl(d4->sin_addr.s_addr);
    if ((a >> 24) != 127 && (a >> 17) != (198u << 7 | 18u >> 1)) die("refusing a target outside 127.0.0.0/8, ::1 and the benchmark range 198.18.0.0/15");
    lab = (a >> 24) != 127;
    family = AF_INET;
    d4->sin_family = AF_INET;
    d4->sin_port = htons((uint16_t)port);
    dst_len = sizeof *d4;
  } else if (inet_pton(AF_INET6, host, &d6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&d6->sin6_addr)) die("refusing a target outside 127.0.0.0/8, ::1 and the benchmark range 198.18.0.0/15");
    family = AF_INET6;
    d6->sin6_family = AF_INET6;
    d6->sin6_port = htons((uint16_t)port);
    dst_len = sizeof *d6;
  } else {
    die("--target host is not an IPv4 or IPv6 address");
  }

  /* Payloads. */
  FILE *f = fopen(file, "rb");
  if (!f) die("cannot open the payload file");
  char magic[8];
  uint8_t c4[4];
  if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "LVMLOAD1", 8) || fread(c4, 1, 4, f) != 4) die("payload file: bad header");
  uint32_t n = (uint32_t)c4[0] | (uint32_t)c4[1] << 8 | (uint32_t)c4[2] << 16 | (uint32_t)c4[3] << 24;
  if (n == 0 || n > 10000000) die("payload file: count must be 1..10000000");
  if ((long)n < window) die("need at least WINDOW distinct payloads");
  uint8_t **pay = calloc(n, sizeof *pay);
  uint16_t *plen = calloc(n, sizeof *plen);
  if (!pay || !plen) die("out of memory");
  for (uint32_t i = 0; i < n; i++) {
    uint8_t l2[2];
    if (fread(l2, 1, 2, f) != 2) die("payload file: truncated");
    plen[i] = (uint16_t)(l2[0] | l2[1] << 8);
    if (plen[i] < req_off + 8 || plen[i] > MAX_DGRAM) die("payload file: a payload is too short for the nonce offset or too long");
    pay[i] = malloc(plen[i]);
    if (!pay[i] || fread(pay[i], 1, plen[i], f) != plen[i]) die("payload file: truncated");
  }
  fclose(f);

  int fds[MAX_SOCKETS];
  uint16_t ports[MAX_SOCKETS];
  for (long k = 0; k < nsock; k++) {
    int fd = socket(family, SOCK_DGRAM, 0);
    if (fd < 0) die("socket() failed");
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    struct sockaddr_storage src;
    memset(&src, 0, sizeof src);
    socklen_t src_len = dst_len;
    if (family == AF_INET) {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&src;
      s4->sin_family = AF_INET;
      /* In a lab namespace the kernel picks the address facing the target. */
      s4->sin_addr.s_addr = htonl(lab ? INADDR_ANY : INADDR_LOOPBACK);
    } else {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;
      s6->sin6_family = AF_INET6;
      s6->sin6_addr = in6addr_loopback;
    }
    if (bind(fd, (struct sockaddr *)&src, src_len) < 0) die("bind() failed");
    if (getsockname(fd, (struct sockaddr *)&src, &src_len) < 0) die("getsockname() failed");
    ports[k] = ntohs(family == AF_INET ? ((struct sockaddr_in *)&src)->sin_port : ((struct sockaddr_in6 *)&src)->sin6_port);
    /* Connected: the kernel drops datagrams from anyone but the target. */
    if (connect(fd, (struct sockaddr *)&dst, dst_len) < 0) die("connect() failed");
    fds[k] = fd;
  }
  const uint16_t my_port = ports[0];
#define SOCK_OF(i) ((uint32_t)(((i) / BATCH) % (uint32_t)nsock))

  /* Patch our port in (and fix the inner UDP checksum incrementally, RFC 1624 eqn. 3). */
  if (port_off >= 0) {
    for (uint32_t i = 0; i < n; i++) {
      if (port_off + 2 > plen[i] || (csum_off >= 0 && csum_off + 2 > plen[i])) die("payload shorter than --port-offset/--csum-offset");
      uint8_t *p = pay[i];
      uint16_t old = (uint16_t)(p[port_off] << 8 | p[port_off + 1]);
      uint16_t port = ports[SOCK_OF(i)]; /* the port of the socket this payload leaves by */
      p[port_off] = (uint8_t)(port >> 8);
      p[port_off + 1] = (uint8_t)port;
      if (csum_off >= 0) {
        uint16_t hc = (uint16_t)(p[csum_off] << 8 | p[csum_off + 1]);
        if (hc != 0) { /* 0 = no checksum (IPv4): leave it */
          uint32_t sum = (uint16_t)~hc + (uint16_t)~old + port;
          while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
          uint16_t nc = (uint16_t)~sum;
          if (nc == 0) nc = 0xffff;
          p[csum_off] = (uint8_t)(nc >> 8);
          p[csum_off + 1] = (uint8_t)nc;
        }
      }
    }
  }

  /* Nonce table. */
  tab_bits = 1;
  while ((1ull << tab_bits) < 2ull * n) tab_bits++;
  tab_mask = (1ull << tab_bits) - 1;
  tab_keys = calloc(tab_mask + 1, sizeof *tab_keys);
  tab_vals = malloc((tab_mask + 1) * sizeof *tab_vals);
  if (!tab_keys || !tab_vals) die("out of memory");
  memset(tab_vals, 0xff, (tab_mask + 1) * sizeof *tab_vals);
  for (uint32_t i = 0; i < n; i++) {
    if (!tab_put(rd64(pay[i] + req_off), (int32_t)i)) die("payload file: two payloads share a nonce");
  }

  /* Per payload: send time of its outstanding request (0 = none) and whether it counts. */
  uint64_t *sent_at = calloc(n, sizeof *sent_at);
  uint8_t *measured = calloc(n, 1);
  /* Send-order ring of (payload, send time), to expire lost requests oldest first. */
  size_t ring_cap = 1u << 20;
  uint32_t *ring_idx = malloc(ring_cap * sizeof *ring_idx);
  uint64_t *ring_t = malloc(ring_cap * sizeof *ring_t);
  uint64_t *hist = calloc(HIST_US + 1, sizeof *hist);
  if (!sent_at || !measured || !ring_idx || !ring_t || !hist) die("out of memory");
  size_t ring_head = 0, ring_len = 0;

  /* LOADGEN_DEBUG=1: name the first lost payloads on stderr. */
  const int debug_lost = getenv("LOADGEN_DEBUG") != NULL;
  signal(SIGALRM, on_alarm);
  alarm((unsigned)((warmup_ms + duration_ms + timeout_ms) / 1000 + 10));

  struct mmsghdr rmsg[BATCH], smsg[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
  static uint8_t rbuf[BATCH][MAX_DGRAM];
  memset(rmsg, 0, sizeof rmsg);
  memset(smsg, 0, sizeof smsg);
  for (int i = 0; i < BATCH; i++) {
    riov[i].iov_base = rbuf[i];
    riov[i].iov_len = MAX_DGRAM;
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
    smsg[i].msg_hdr.msg_iov = &siov[i];
    smsg[i].msg_hdr.msg_iovlen = 1;
  }

  const uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull;
  const uint64_t interval_ns = rate ? 1000000000ull / (uint64_t)rate : 0;
  /* Paced runs sleep tens of microseconds at a time: no 50 us timer slack on each. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  const uint64_t t0 = now_ns();
  const uint64_t measure_start = t0 + (uint64_t)warmup_ms * 1000000ull;
  const uint64_t end = measure_start + (uint64_t)duration_ms * 1000000ull;
  uint64_t next_send = t0;
  uint64_t sent = 0, received = 0, lost = 0, unmatched = 0, send_errors = 0, late = 0;
  uint64_t lat_sum = 0, lat_max = 0;
  long inflight = 0;
  uint32_t cursor = 0;
  int stop_sending = 0;
  uint64_t drain_until = 0;
  /* Count mode: when the last reply came (or the drain timed out); the rate is over that span. */
  uint64_t finished = end;

  for (;;) {
    uint64_t now = now_ns();
    if (!stop_sending && (now >= end || (count && sent >= (uint64_t)count))) {
      stop_sending = 1;
      /* Count mode waits for the stragglers (bounded by the timeout); duration mode stops here. */
      drain_until = count && now < end ? now + timeout_ns : now;
    }
    if (stop_sending && (inflight == 0 || now >= drain_until)) {
      if (count) finished = now;
      break;
    }

    /* Expire requests that have waited longer than the timeout: their window slot comes back. */
    while (ring_len) {
      uint32_t idx = ring_idx[ring_head];
      if (sent_at[idx] == ring_t[ring_head]) {
        if (now - ring_t[ring_head] < timeout_ns) break;
        sent_at[idx] = 0;
        inflight--;
        if (measured[idx]) lost++;
        if (debug_lost && lost <= 20) fprintf(stderr, "lost payload %u\n", idx);
      }
      ring_head = (ring_head + 1) & (ring_cap - 1);
      ring_len--;
    }

    /* Send up to the window (and the pacing rate). */
    int k = 0;
    uint32_t batch_idx[BATCH];
    while (!stop_sending && k < BATCH && inflight + k < window && (!rate || next_send <= now) &&
           !(count && sent + (uint64_t)k >= (uint64_t)count && now >= measure_start)) {
      uint32_t idx = cursor;
      cursor = cursor + 1 == n ? 0 : cursor + 1;
      if (sent_at[idx]) continue; /* still in flight from the last lap: skip it */
      siov[k].iov_base = pay[idx];
      siov[k].iov_len = plen[idx];
      batch_idx[k++] = idx;
      if (rate) {
        next_send += interval_ns;
        /* Do not bank more than 1 ms of missed sends: pacing, not bursts. */
        if (next_send + 1000000ull < now) next_send = now;
      }
    }
    /* One sendmmsg per run of payloads that leave by the same socket. */
    for (int from = 0; from < k;) {
      int to = from + 1;
      uint32_t sock = SOCK_OF(batch_idx[from]);
      while (to < k && SOCK_OF(batch_idx[to]) == sock) to++;
      int done = sendmmsg(fds[sock], smsg + from, (unsigned)(to - from), MSG_DONTWAIT);
      if (done < 0) { done = 0; if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED) send_errors++; }
      uint64_t ts = now_ns();
      for (int i = from; i < from + done; i++) {
        uint32_t idx = batch_idx[i];
        sent_at[idx] = ts;
        measured[idx] = ts >= measure_start;
        if (measured[idx]) sent++;
        inflight++;
        if (ring_len == ring_cap) { /* full ring: treat the oldest as lost */
          uint32_t old = ring_idx[ring_head];
          if (sent_at[old] == ring_t[ring_head]) { sent_at[old] = 0; inflight--; if (measured[old]) lost++; }
          ring_head = (ring_head + 1) & (ring_cap - 1);
          ring_len--;
        }
        size_t tail = (ring_head + ring_len) & (ring_cap - 1);
        ring_idx[tail] = idx;
        ring_t[tail] = ts;
        ring_len++;
      }
      /* A short send (full socket buffer): the rest of this batch is sent on a later lap. */
      if (done < to - from) break;
      from = to;
    }

    /* Receive whatever is there, socket after socket. */
    int got_any = 0;
    for (long sk = 0; sk < nsock; sk++) {
      int got = recvmmsg(fds[sk], rmsg, BATCH, MSG_DONTWAIT, NULL);
      if (got <= 0) continue;
      got_any = 1;
      uint64_t ts = now_ns();
      for (int i = 0; i < got; i++) {
        unsigned len = rmsg[i].msg_len;
        if (len < (unsigned)reply_off + 8) { unmatched++; continue; }
        int32_t idx = tab_get(rd64(rbuf[i] + reply_off));
        if (idx < 0 || !sent_at[idx]) { if (idx < 0) unmatched++; else late++; continue; }
        uint64_t lat = ts - sent_at[idx];
        sent_at[idx] = 0;
        inflight--;
        if (!measured[idx] || ts > end) continue;
        received++;
        lat_sum += lat;
        if (lat > lat_max) lat_max = lat;
        uint64_t us = lat / 1000;
        hist[us < HIST_US ? us : HIST_US]++;
      }
    }
    if (got_any) continue;
    /* Nothing to read: wait for a reply, the next paced send or the end (at most 1 ms). */
    uint64_t wait_ns = 1000000ull;
    if (!rate && (spin || (inflight < window && !stop_sending))) wait_ns = 0;
    if (rate && inflight < window && !stop_sending) {
      /* Paced: sleep exactly until the next send is due. A whole-millisecond poll overslept
       * every ~70 us interval, dropped the missed sends and paced at a fraction of the rate. */
      now = now_ns();
      wait_ns = next_send <= now ? 0 : next_send - now < wait_ns ? next_send - now : wait_ns;
    }
    struct pollfd pfd[MAX_SOCKETS];
    for (long sk = 0; sk < nsock; sk++) { pfd[sk].fd = fds[sk]; pfd[sk].events = POLLIN; pfd[sk].revents = 0; }
    if (wait_ns) {
      struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)wait_ns };
      ppoll(pfd, (nfds_t)nsock, &ts, NULL);
    }
  }

  double dur = (double)(finished - measure_start) / 1e9;
  double pct[3] = {0.5, 0.9, 0.99};
  double pv[3] = {0, 0, 0};
  for (int q = 0; q < 3; q++) {
    uint64_t need = (uint64_t)((double)received * pct[q] + 0.999999), cum = 0;
    if (!received) break;
    for (int b = 0; b <= HIST_US; b++) {
      cum += hist[b];
      /* The bucket's midpoint; the overflow bucket reports the max. */
      if (cum >= need) { pv[q] = b < HIST_US ? b + 0.5 : (double)lat_max / 1000.0; break; }
    }
  }
  printf("{\"generator\":\"c\",\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"late\":%llu,\"unmatched\":%llu,"
         "\"send_errors\":%llu,\"in_flight_end\":%ld,\"duration_s\":%.3f,\"rps\":%.1f,\"window\":%ld,\"rate\":%ld,"
         "\"payloads\":%u,\"local_port\":%u,\"sockets\":%ld,\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"mean\":%.1f}}\n",
         (unsigned long long)sent, (unsigned long long)received, (unsigned long long)lost, (unsigned long long)late,
         (unsigned long long)unmatched, (unsigned long long)send_errors, inflight, dur, received / dur, window, rate, n,
         my_port, nsock, pv[0], pv[1], pv[2], (double)lat_max / 1000.0, received ? (double)lat_sum / (double)received / 1000.0 : 0.0);
  return 0;
}
