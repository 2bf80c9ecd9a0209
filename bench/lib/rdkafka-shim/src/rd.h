/* Minimal stand-in for librdkafka's internal src/rd.h: just what rdkafka_performance.c uses. */
#ifndef MILENA_BENCH_RD_H
#define MILENA_BENCH_RD_H
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>
#include <getopt.h>
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define rd_snprintf snprintf
typedef int64_t rd_ts_t;
#endif
