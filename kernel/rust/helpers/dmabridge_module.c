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
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/limits.h>
#include <linux/math.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/overflow.h>
#include <linux/preempt.h>
#include <linux/ratelimit.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

/* Mirrored by `kernel::module_bound::Node` (`#[repr(C)]`). */
struct dmabridge_tracked {
	struct list_head node;
	struct module *mod;
	void (*sweep)(void *tracked);
};

static LIST_HEAD(dmabridge_tracked_list);
/*
 * Modules that used the bindings (tracked a registration or got a copy of
 * file operations), guarded by dmabridge_tracked_lock: only their unload
 * waits for the bindings' work. Waiting for every module would deadlock a
 * module loaded by request_module() whose init fails: its loader is a work
 * item on system_unbound_wq, waiting for modprobe, which waits here.
 */
struct dmabridge_user {
	struct list_head node;
	struct module *mod;
};
static LIST_HEAD(dmabridge_users);
/* Deferred releases queued and not finished yet. */
static atomic_t dmabridge_deferred_pending = ATOMIC_INIT(0);
static DEFINE_MUTEX(dmabridge_tracked_lock);
static struct workqueue_struct *dmabridge_wq;

/* Records that @mod uses the bindings; -ENOMEM. Under dmabridge_tracked_lock. */
static int dmabridge_note_user(struct module *mod)
{
	struct dmabridge_user *u;

	list_for_each_entry(u, &dmabridge_users, node)
		if (u->mod == mod)
			return 0;
	u = kmalloc(sizeof(*u), GFP_KERNEL);
	if (!u)
		return -ENOMEM;
	u->mod = mod;
	list_add(&u->node, &dmabridge_users);
	return 0;
}

/* Whether @mod used the bindings; forgets it. */
static bool dmabridge_forget_user(struct module *mod)
{
	struct dmabridge_user *u;
	bool found = false;

	mutex_lock(&dmabridge_tracked_lock);
	list_for_each_entry(u, &dmabridge_users, node) {
		if (u->mod == mod) {
			list_del(&u->node);
			kfree(u);
			found = true;
			break;
		}
	}
	mutex_unlock(&dmabridge_tracked_lock);
	return found;
}

/*
 * Tracks @tracked until rust_helper_dmabridge_untrack() or the unload of
 * @tracked->mod, which calls @tracked->sweep. Returns 1 if listed, 0 for
 * built-in code (@mod NULL, never unloaded), -ENODEV if the module is
 * already going away (its notifier may have run: nothing would sweep),
 * -ENOMEM.
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
	else if (dmabridge_note_user(t->mod))
		ret = -ENOMEM;
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

/*
 * File operations owned by the module whose code they call. A Rust misc
 * device's file operations are a template built at compile time, in a crate
 * that cannot name its own module (THIS_MODULE is the driver's); the device
 * is registered with a copy whose owner is the module holding the template
 * and its open callback, so an open file pins that module as THIS_MODULE
 * does in C. One copy per template, freed when its module goes away, once
 * no file holds the module (the sweep below ended its leaked registrations
 * first).
 */
struct dmabridge_fops {
	struct list_head node;
	const struct file_operations *tmpl;
	struct module *owner;
	/* The copy, in @buf: written once here, then read only. */
	const struct file_operations *fops;
	unsigned long buf[];
};

/* Guarded by dmabridge_tracked_lock. */
static LIST_HEAD(dmabridge_fops_list);
/* Copies a module still referenced when it went away (never freed). */
static LIST_HEAD(dmabridge_fops_kept);

/*
 * The copy of @tmpl to register, in @fops, and its owner, in @owner (read
 * under the lock: the copy is freed when the owner goes away): -ENOMEM;
 * -ENODEV if the owning module is not live (loading or going away: a module whose init fails is
 * freed whatever its reference count); -EINVAL if the template and its
 * open callback are not in the same module.
 */
int rust_helper_dmabridge_owned_fops(const struct file_operations *tmpl,
				     const struct file_operations **fops,
				     struct module **owner)
{
	struct dmabridge_fops *f;
	struct module *mod;
	int ret = 0;

	mutex_lock(&dmabridge_tracked_lock);
	preempt_disable();
	mod = __module_text_address((unsigned long)tmpl->open);
	if (mod != __module_address((unsigned long)tmpl))
		ret = -EINVAL;
	else if (mod && mod->state != MODULE_STATE_LIVE &&
		 mod->state != MODULE_STATE_COMING)
		ret = -ENODEV;
	preempt_enable();
	if (ret)
		goto out;
	list_for_each_entry(f, &dmabridge_fops_list, node) {
		if (f->tmpl == tmpl) {
			*fops = f->fops;
			*owner = mod;
			goto out;
		}
	}
	f = kmalloc(struct_size(f, buf, DIV_ROUND_UP(sizeof(*tmpl), sizeof(long))),
		    GFP_KERNEL);
	if (!f || (mod && dmabridge_note_user(mod))) {
		kfree(f);
		ret = -ENOMEM;
		goto out;
	}
	f->tmpl = tmpl;
	f->owner = mod;
	memcpy(f->buf, tmpl, sizeof(*tmpl));
	memcpy((char *)f->buf + offsetof(const struct file_operations, owner),
	       &mod, sizeof(mod));
	f->fops = (const struct file_operations *)f->buf;
	list_add(&f->node, &dmabridge_fops_list);
	*fops = f->fops;
	*owner = mod;
out:
	mutex_unlock(&dmabridge_tracked_lock);
	return ret;
}

/*
 * Whether a file with the operations @fops may be opened: their module is
 * live. A file opened while its module is still loading would outlive the
 * module if the module's init failed.
 */
bool rust_helper_dmabridge_fops_live(const struct file_operations *fops)
{
	return !fops->owner || READ_ONCE(fops->owner->state) == MODULE_STATE_LIVE;
}

static void dmabridge_fops_forget(struct module *mod)
{
	struct dmabridge_fops *f, *next;
	unsigned long deadline = jiffies + 10 * HZ;
	bool keep = false;

	/*
	 * A module whose init failed is freed with its references held: wait
	 * (bounded) for opens in progress to drop theirs, which still read
	 * the copy (fops_put). The count is 0 then once they have (the
	 * loader's base reference remains), -1 after a normal unload.
	 */
	while (module_refcount(mod) > 0) {
		if (time_after(jiffies, deadline)) {
			pr_warn("%s: still in use while going away; fops kept\n",
				mod->name);
			keep = true;
			break;
		}
		msleep(20);
	}
	mutex_lock(&dmabridge_tracked_lock);
	list_for_each_entry_safe(f, next, &dmabridge_fops_list, node) {
		if (f->owner != mod)
			continue;
		/* Off the lookup list either way: a later module may reuse @tmpl. */
		if (keep) {
			list_move(&f->node, &dmabridge_fops_kept);
		} else {
			list_del(&f->node);
			kfree(f);
		}
	}
	mutex_unlock(&dmabridge_tracked_lock);
}

static int dmabridge_module_notify(struct notifier_block *nb,
				   unsigned long state, void *data)
{
	struct module *mod = data;
	struct dmabridge_tracked *t;

	if (state != MODULE_STATE_GOING || !dmabridge_forget_user(mod))
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
	dmabridge_fops_forget(mod);
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
/*
 * Whether a log line userspace can trigger at will may be printed now: the
 * bindings' own limit (50 lines per 5 s), so that other subsystems' lines do
 * not use up theirs, nor theirs others'.
 */
bool rust_helper_dmabridge_log_allowed(void)
{
	static DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 50);

	return __ratelimit(&rs);
}

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
