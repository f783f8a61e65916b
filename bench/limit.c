/* The "limit" row of bench/run.py: the least a program can do to pair block requests in perf text.
 *
 *     gcc -O2 -o bench/work/limit bench/limit.c && bench/work/limit perf.txt
 *     pairs 11968 mean_us 1834.412
 *
 * Input lines, as `perf script` prints them:
 *     dd  3386 [001]  2856.935172:    block:block_rq_issue: 254,0 WS 4096 () 203434928 + 8 0x2,0,4 [dd]
 *     dd  3386 [001]  2856.935641: block:block_rq_complete: 254,0 WS () 203434992 + 8 0x2,0,4 [0]
 * It finds issue and complete lines, keys them by (dev, sector), keeps the issue time in a hash map
 * and on complete adds complete - issue: no comm, no rules, no histograms. What traceparse does on
 * top of this (every field typed, the pairing rules, distributions, listings) is what it costs more.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t dev, sector; int64_t ts; int used; } Slot;
static Slot *slots;
static size_t cap = 1 << 16, used;

static size_t hash(uint64_t dev, uint64_t sector) {
    uint64_t h = (dev * 0x9E3779B97F4A7C15ull) ^ (sector * 0xC2B2AE3D27D4EB4Full);
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static Slot *find(uint64_t dev, uint64_t sector) {
    size_t i = hash(dev, sector);
    while (slots[i].used && (slots[i].dev != dev || slots[i].sector != sector)) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void grow(void) {
    Slot *old = slots;
    size_t n = cap;
    cap *= 2;
    slots = calloc(cap, sizeof *slots);
    for (size_t i = 0; i < n; i++)
        if (old[i].used) *find(old[i].dev, old[i].sector) = old[i];
    free(old);
}

/* linear probing's deletion: shift later members of the cluster back into the hole */
static void erase(Slot *s) {
    size_t i = (size_t)(s - slots), j = i;
    slots[i].used = 0;
    for (;;) {
        j = (j + 1) & (cap - 1);
        if (!slots[j].used) break;
        size_t k = hash(slots[j].dev, slots[j].sector);
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            slots[i] = slots[j];
            slots[j].used = 0;
            i = j;
        }
    }
    used--;
}

static uint64_t number(const char **p) {
    uint64_t v = 0;
    while (**p >= '0' && **p <= '9') v = v * 10 + (uint64_t)(*(*p)++ - '0');
    return v;
}

/* the "SECONDS.FRACTION:" before the event name, in ns */
static int64_t stamp(const char *line, const char *event) {
    const char *p = event;
    while (p > line && p[-1] == ' ') p--;
    if (p > line && p[-1] == ':') p--;
    const char *end = p;
    while (p > line && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.')) p--;
    uint64_t sec = number(&p), frac = 0;
    int digits = 0;
    if (*p == '.') {
        for (p++; p < end && digits < 9; p++, digits++) frac = frac * 10 + (uint64_t)(*p - '0');
    }
    while (digits++ < 9) frac *= 10;
    return (int64_t)(sec * 1000000000ull + frac);
}

static int64_t pairs, total_ns;

static void line(const char *s, const char *end) {
    const char *ev = memmem(s, (size_t)(end - s), " block:block_rq_", 16);
    if (!ev) return;
    const char *name = ev + 16;
    int issue = !strncmp(name, "issue: ", 7), complete = !strncmp(name, "complete: ", 10);
    if (!issue && !complete) return;
    const char *p = name + (issue ? 7 : 10);
    uint64_t major = number(&p), minor = (*p == ',') ? (p++, number(&p)) : 0;
    const char *paren = memmem(p, (size_t)(end - p), "() ", 3);
    if (!paren) return;
    p = paren + 3;
    uint64_t dev = major << 20 | minor, sector = number(&p);
    int64_t ts = stamp(s, ev);
    Slot *slot = find(dev, sector);
    if (issue) {
        if (!slot->used) {
            *slot = (Slot){dev, sector, ts, 1};
            if (++used * 2 > cap) grow();
        } else {
            slot->ts = ts;
        }
    } else if (slot->used) {
        pairs++;
        total_ns += ts - slot->ts;
        erase(slot);
    }
}

int main(int argc, char **argv) {
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (!f) { fprintf(stderr, "usage: limit PERF_TEXT\n"); return 2; }
    slots = calloc(cap, sizeof *slots);
    size_t size = 1 << 24, have = 0, n;
    char *buf = malloc(size);
    while ((n = fread(buf + have, 1, size - have, f)) > 0) {
        have += n;
        char *s = buf, *end = buf + have, *nl;
        while ((nl = memchr(s, '\n', (size_t)(end - s)))) { line(s, nl); s = nl + 1; }
        have = (size_t)(end - s);
        memmove(buf, s, have);
        if (have == size) { size *= 2; buf = realloc(buf, size); }
    }
    if (have) line(buf, buf + have);
    printf("pairs %lld mean_us %.3f\n", (long long)pairs, pairs ? (double)total_ns / (double)pairs / 1e3 : 0.0);
    return 0;
}
