// SPDX-License-Identifier: GPL-2.0

#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>

void rust_helper_rcu_read_lock(void)
{
	rcu_read_lock();
}

void rust_helper_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

/* Whether the caller runs in task context (not in an interrupt handler). */
bool rust_helper_dmabridge_in_task(void)
{
	return in_task();
}

unsigned long rust_helper_dmabridge_spin_lock_irqsave(spinlock_t *lock)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	return flags;
}

void rust_helper_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	spin_unlock_irqrestore(lock, flags);
}
