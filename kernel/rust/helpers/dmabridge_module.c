// SPDX-License-Identifier: GPL-2.0

/*
 * Objects of the Rust bindings that must not outlive their module, and
 * releases deferred to process context.
 *
 * A registration (a driver, a misc device) holds pointers into the module
 * that registered it. Leaking it is safe Rust (mem::forget, an Arc cycle), so
 * the bindings track every registration by module: when the module goes away
 * (after its exit function, before its memory is freed) the registrations it
 * left are unregistered here, with a log line.
 *
 * Releases that may sleep (free_irq, dma_free_coherent, dma_pool_destroy,
 * waiting for a revocation) run on a workqueue when the last owner drops an
 * object in atomic context; the workqueue is flushed before a module's memory
 * is freed, because the deferred code may be the module's.
 */

#include <linux/atomic.h>
#include <linux/jiffies.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

/* Mirrored by `kernel::module_bound::Node` (`#[repr(C)]`). */
struct dmabridge_tracked {
	struct list_head node;
	struct module *mod;
	void (*sweep)(void *tracked);
};

static LIST_HEAD(dmabridge_tracked_list);
/* Deferred releases queued and not finished yet. */
static atomic_t dmabridge_deferred_pending = ATOMIC_INIT(0);
static DEFINE_MUTEX(dmabridge_tracked_lock);
static struct workqueue_struct *dmabridge_wq;

/*
 * Tracks @tracked until rust_helper_dmabridge_untrack() or the unload of
 * @tracked->mod, which calls @tracked->sweep. Returns 1 if listed, 0 for
 * built-in code (@mod NULL, never unloaded), -ENODEV if the module is
 * already going away (its notifier may have run: nothing would sweep).
 */
int rust_helper_dmabridge_track(void *tracked)
{
	struct dmabridge_tracked *t = tracked;
	int ret = 1;

	INIT_LIST_HEAD(&t->node);
	if (!t->mod)
		return 0;
	mutex_lock(&dmabridge_tracked_lock);
	if (t->mod->state == MODULE_STATE_GOING)
		ret = -ENODEV;
	else
		list_add_tail(&t->node, &dmabridge_tracked_list);
	mutex_unlock(&dmabridge_tracked_lock);
	return ret;
}

/* Stops tracking @tracked; returns whether it was still listed. */
bool rust_helper_dmabridge_untrack(void *tracked)
{
	struct dmabridge_tracked *t = tracked;
	bool listed;

	mutex_lock(&dmabridge_tracked_lock);
	listed = !list_empty(&t->node);
	list_del_init(&t->node);
	mutex_unlock(&dmabridge_tracked_lock);
	return listed;
}

static struct dmabridge_tracked *dmabridge_take_one(struct module *mod)
{
	struct dmabridge_tracked *t, *found = NULL;

	mutex_lock(&dmabridge_tracked_lock);
	list_for_each_entry(t, &dmabridge_tracked_list, node) {
		if (t->mod == mod) {
			found = t;
			list_del_init(&t->node);
			break;
		}
	}
	mutex_unlock(&dmabridge_tracked_lock);
	return found;
}

static int dmabridge_module_notify(struct notifier_block *nb,
				   unsigned long state, void *data)
{
	struct module *mod = data;
	struct dmabridge_tracked *t;

	if (state != MODULE_STATE_GOING)
		return NOTIFY_DONE;
	/* One at a time: a sweep may unbind devices whose drops untrack. */
	while ((t = dmabridge_take_one(mod)))
		t->sweep(t);
	/*
	 * Work the module queued on the system workqueues (the kernel crate's
	 * workqueue API) and deferred releases may run its code: wait for
	 * them, until no deferred release is pending (one may queue another,
	 * or queue system work). Work that keeps queueing itself is not
	 * waited for.
	 */
	do {
		__flush_workqueue(system_wq);
		__flush_workqueue(system_highpri_wq);
		__flush_workqueue(system_long_wq);
		__flush_workqueue(system_unbound_wq);
		__flush_workqueue(system_freezable_wq);
		__flush_workqueue(system_power_efficient_wq);
		__flush_workqueue(system_freezable_power_efficient_wq);
		__flush_workqueue(dmabridge_wq);
	} while (atomic_read(&dmabridge_deferred_pending));
	return NOTIFY_OK;
}

/*
 * Last of the module notifiers: others (KUnit's) may still run the module's
 * code while they handle MODULE_STATE_GOING.
 */
static struct notifier_block dmabridge_module_nb = {
	.notifier_call = dmabridge_module_notify,
	.priority = INT_MIN,
};

struct dmabridge_deferred {
	struct work_struct work;
	void (*fn)(void *data);
	void *data;
};

static void dmabridge_deferred_run(struct work_struct *work)
{
	struct dmabridge_deferred *d =
		container_of(work, struct dmabridge_deferred, work);

	d->fn(d->data);
	kfree(d);
	atomic_dec(&dmabridge_deferred_pending);
}

/* Runs @fn(@data) from process context; -ENOMEM if it cannot be queued. */
int rust_helper_dmabridge_defer(void (*fn)(void *data), void *data)
{
	struct dmabridge_deferred *d;

	if (!dmabridge_wq)
		return -ENODEV;
	d = kmalloc(sizeof(*d), GFP_ATOMIC);
	if (!d)
		return -ENOMEM;
	INIT_WORK(&d->work, dmabridge_deferred_run);
	d->fn = fn;
	d->data = data;
	atomic_inc(&dmabridge_deferred_pending);
	queue_work(dmabridge_wq, &d->work);
	return 0;
}

u64 rust_helper_dmabridge_jiffies(void)
{
	return get_jiffies_64();
}

/*
 * Whether the caller may sleep: not in an interrupt, with interrupts on,
 * outside preempt-disabled sections (as far as the preempt count tells:
 * without CONFIG_PREEMPT_COUNT a spinlock is not seen) and outside RCU
 * read-side critical sections of preemptible RCU.
 */
bool rust_helper_dmabridge_may_sleep(void)
{
	return !preempt_count() && !irqs_disabled() && !rcu_preempt_depth();
}

static int __init dmabridge_module_init(void)
{
	dmabridge_wq = alloc_workqueue("dmabridge", 0, 0);
	if (!dmabridge_wq)
		return -ENOMEM;
	return register_module_notifier(&dmabridge_module_nb);
}
core_initcall(dmabridge_module_init);

/*
 * Objects the bindings leak on purpose (memory a device or a leaked user may
 * still reach, after a bounded wait gave up): kept reachable from here, so
 * that kmemleak reports the bug that caused the leak (the log line) and not
 * the leak itself.
 */
struct dmabridge_kept {
	struct list_head node;
	const void *ptr;
};

static LIST_HEAD(dmabridge_kept_list);
static DEFINE_SPINLOCK(dmabridge_kept_lock);

void rust_helper_dmabridge_keep_leaked(const void *ptr)
{
	struct dmabridge_kept *k = kmalloc(sizeof(*k), GFP_ATOMIC);
	unsigned long flags;

	if (!k)
		return;
	k->ptr = ptr;
	spin_lock_irqsave(&dmabridge_kept_lock, flags);
	list_add(&k->node, &dmabridge_kept_list);
	spin_unlock_irqrestore(&dmabridge_kept_lock, flags);
}

/*
 * Tasks inside a callback the bindings run with a lock held that a
 * registration takes: a bus callback (probe, remove, devres release: the
 * device lock, which driver registration takes to attach) or a misc open (the
 * misc lock). Nodes are allocated here, not on the callback's stack: a
 * callback that never returns (its thread exits) leaves a stale node, never a
 * dangling one.
 */
struct dmabridge_callback {
	struct list_head node;
	struct task_struct *task;
	unsigned int kind;
};

static LIST_HEAD(dmabridge_callbacks);
static DEFINE_SPINLOCK(dmabridge_callbacks_lock);

/* Marks the current task inside a callback of @kind; NULL without memory. */
void *rust_helper_dmabridge_callback_enter(unsigned int kind)
{
	struct dmabridge_callback *c = kmalloc(sizeof(*c), GFP_KERNEL);
	unsigned long flags;

	if (!c)
		return NULL;
	c->task = current;
	c->kind = kind;
	spin_lock_irqsave(&dmabridge_callbacks_lock, flags);
	list_add(&c->node, &dmabridge_callbacks);
	spin_unlock_irqrestore(&dmabridge_callbacks_lock, flags);
	return c;
}

void rust_helper_dmabridge_callback_exit(void *callback)
{
	struct dmabridge_callback *c = callback;
	unsigned long flags;

	spin_lock_irqsave(&dmabridge_callbacks_lock, flags);
	list_del(&c->node);
	spin_unlock_irqrestore(&dmabridge_callbacks_lock, flags);
	kfree(c);
}

/* Whether the current task is inside a callback of one of the @kinds. */
/*
 * A callback mark made ahead, in process context, for a caller that must not
 * allocate when it enters the callback: an IRQ thread around a driver's
 * threaded handler. Unlisted until dmabridge_callback_list().
 */
void *rust_helper_dmabridge_callback_new(unsigned int kind)
{
	struct dmabridge_callback *c = kmalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->task = NULL;
	c->kind = kind;
	INIT_LIST_HEAD(&c->node);
	return c;
}

void rust_helper_dmabridge_callback_list(void *callback)
{
	struct dmabridge_callback *c = callback;
	unsigned long flags;

	c->task = current;
	spin_lock_irqsave(&dmabridge_callbacks_lock, flags);
	list_add(&c->node, &dmabridge_callbacks);
	spin_unlock_irqrestore(&dmabridge_callbacks_lock, flags);
}

void rust_helper_dmabridge_callback_unlist(void *callback)
{
	struct dmabridge_callback *c = callback;
	unsigned long flags;

	spin_lock_irqsave(&dmabridge_callbacks_lock, flags);
	list_del_init(&c->node);
	spin_unlock_irqrestore(&dmabridge_callbacks_lock, flags);
}

/* Frees a mark of dmabridge_callback_new(), unlisting it if still listed. */
void rust_helper_dmabridge_callback_free(void *callback)
{
	rust_helper_dmabridge_callback_unlist(callback);
	kfree(callback);
}

bool rust_helper_dmabridge_in_callback(unsigned int kinds)
{
	struct dmabridge_callback *c;
	unsigned long flags;
	bool found = false;

	if (!in_task())
		return false;
	spin_lock_irqsave(&dmabridge_callbacks_lock, flags);
	list_for_each_entry(c, &dmabridge_callbacks, node) {
		if (c->task == current && (c->kind & kinds)) {
			found = true;
			break;
		}
	}
	spin_unlock_irqrestore(&dmabridge_callbacks_lock, flags);
	return found;
}
