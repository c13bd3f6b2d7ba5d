// SPDX-License-Identifier: GPL-2.0
/*
 * A TCG plugin for `cargo xtask bench nvme-profile`: counts the guest
 * instructions executed from each translation block's start address
 * between two executions of a mark address (the guest calls the function
 * there to open and to close a window), and prints each window's counts
 * through QEMU's log (`-d plugin`):
 *
 *   insn_profile: window N
 *   insn_profile: ADDRESS INSTRUCTIONS   (one line per block start, hex)
 *   insn_profile: end N TOTAL
 *
 * Only the plugin API QEMU 10 offers (version 4) is used
 * (qemu_plugin_api.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

__attribute__((visibility("default"))) int qemu_plugin_version = 4;

/* One translation of a block: where it starts, its size, its executions. */
struct block {
	uint64_t pc;
	uint64_t insns;
	uint64_t count;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct block **blocks;
static size_t nr_blocks, cap_blocks;
static uint64_t mark;
static bool counting;
static unsigned int window;

static void count(unsigned int vcpu, void *udata)
{
	struct block *b = udata;

	if (__atomic_load_n(&counting, __ATOMIC_RELAXED))
		__atomic_fetch_add(&b->count, b->insns, __ATOMIC_RELAXED);
}

static int by_pc(const void *a, const void *b)
{
	const struct block *x = *(struct block *const *)a;
	const struct block *y = *(struct block *const *)b;

	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

/* Prints the window's counts, summed per start address, and clears them. */
static void report(void)
{
	uint64_t total = 0;
	char line[96];
	size_t i = 0;

	qsort(blocks, nr_blocks, sizeof(*blocks), by_pc);
	snprintf(line, sizeof(line), "insn_profile: window %u\n", window);
	qemu_plugin_outs(line);
	while (i < nr_blocks) {
		uint64_t pc = blocks[i]->pc, sum = 0;

		for (; i < nr_blocks && blocks[i]->pc == pc; i++) {
			sum += blocks[i]->count;
			blocks[i]->count = 0;
		}
		if (!sum)
			continue;
		total += sum;
		snprintf(line, sizeof(line), "insn_profile: %" PRIx64 " %" PRIu64 "\n",
			 pc, sum);
		qemu_plugin_outs(line);
	}
	snprintf(line, sizeof(line), "insn_profile: end %u %" PRIu64 "\n",
		 window, total);
	qemu_plugin_outs(line);
}

/* The mark was executed: open a window, or close and print the open one. */
static void at_mark(unsigned int vcpu, void *udata)
{
	pthread_mutex_lock(&lock);
	if (__atomic_load_n(&counting, __ATOMIC_RELAXED)) {
		__atomic_store_n(&counting, false, __ATOMIC_RELAXED);
		report();
		window++;
	} else {
		__atomic_store_n(&counting, true, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&lock);
}

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b = calloc(1, sizeof(*b));

	if (!b)
		abort();
	b->pc = qemu_plugin_tb_vaddr(tb);
	b->insns = qemu_plugin_tb_n_insns(tb);
	pthread_mutex_lock(&lock);
	if (nr_blocks == cap_blocks) {
		cap_blocks = cap_blocks ? 2 * cap_blocks : 65536;
		blocks = realloc(blocks, cap_blocks * sizeof(*blocks));
		if (!blocks)
			abort();
	}
	blocks[nr_blocks++] = b;
	pthread_mutex_unlock(&lock);
	if (b->pc == mark)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, at_mark,
						     QEMU_PLUGIN_CB_NO_REGS, NULL);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, count, QEMU_PLUGIN_CB_NO_REGS,
					     b);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc,
			char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "mark=", 5))
			mark = strtoull(argv[i] + 5, NULL, 16);
	if (!mark) {
		fprintf(stderr, "insn_profile: no mark=ADDRESS given\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	return 0;
}
