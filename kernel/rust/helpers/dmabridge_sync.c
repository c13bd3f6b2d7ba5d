// SPDX-License-Identifier: GPL-2.0

#include <linux/completion.h>
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

void rust_helper_init_completion(struct completion *x)
{
	init_completion(x);
}

/*
 * reinit_completion() under the completion's lock: a plain store would race
 * with complete_all() from an interrupt handler.
 */
void rust_helper_dmabridge_reinit_completion(struct completion *x)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&x->wait.lock, flags);
	x->done = 0;
	raw_spin_unlock_irqrestore(&x->wait.lock, flags);
}
