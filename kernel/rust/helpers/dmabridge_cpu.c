// SPDX-License-Identifier: GPL-2.0

#include <linux/cpumask.h>

unsigned int rust_helper_dmabridge_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}
