//! The `arm64` step of `cargo xtask test`: the test kernel cross-built for
//! arm64 (`ARCH=arm64 LLVM=1`, Rust's `aarch64-unknown-none` target), every
//! driver built against it, and the guest suites that apply booted under
//! `qemu-system-aarch64 -M virt` (TCG), with the same checkers and the same
//! judging as on x86-64.
//!
//! What runs there (`tests/manifest-arm64.txt`): the kernel's Rust doctests,
//! the harness checks, the driver-core suite (`pci_test`: BAR, MSI and INTx
//! interrupts, devres, the misc device, unbind/bind cycles), the DMA suite
//! (`dma_test`, on an edu given 40 address bits: the machine's RAM starts at
//! 1 GiB, beyond edu's default 28), `guest/arm64/edu_mask.sh` (edu and
//! edu_c refuse to probe there, cleanly) and the NVMe suites (the kernel's
//! own driver, then rnvme). The suites that drive edu through
//! `eductl` need that tool built for arm64, which the host's Rust cannot do
//! yet (no arm64 standard library).

use crate::canaries::{boot_runner, RunnerBoot};
use crate::demo::Ready;
use crate::kernel::{self, TEST_ARM64};
use crate::test::{judge_named, Manifest, Tally};
use crate::util::{human, say, Result};
use crate::Project;
use std::time::{Duration, Instant};

/// The guest scripts of the arm64 run: (group, script).
const SCRIPTS: &[(&str, &str)] = &[
    ("harness", "guest/tests/harness.sh"),
    ("driver_core", "guest/tests/driver_core.sh"),
    ("dma", "guest/tests/dma.sh"),
    ("edu_mask", "guest/arm64/edu_mask.sh"),
    ("nvme_c", "guest/tests/nvme_c.sh"),
    ("rnvme", "guest/tests/rnvme.sh"),
];

pub fn arm64_tests(p: &Project, t: &mut Tally) -> Result {
    let start = Instant::now();
    let kernel = kernel::build(p, &TEST_ARM64)?;
    let modules = crate::modules::build_all(p, &kernel, TEST_ARM64.name)?;
    let ready = Ready {
        kernel,
        modules,
        tools: Vec::new(),
    };
    let timeout = Duration::from_secs(1200);
    let manifest = Manifest::load_file(p, "tests/manifest-arm64.txt")?;
    let (boot, log) = boot_runner(
        p,
        &ready,
        RunnerBoot {
            name: "arm64".into(),
            modules: ready.modules.iter().map(|m| m.ko.clone()).collect(),
            tests: SCRIPTS
                .iter()
                .map(|(g, s)| (g.to_string(), p.root.join(s)))
                .collect(),
            script: None,
            append: Vec::new(),
            timeout,
            hotplug: false,
        },
    )?;
    judge_named("arm64", &boot, timeout, &manifest, &log, t);
    say(
        "arm64",
        &format!(
            "arm64 kernel, drivers and guest run took {}",
            human(start.elapsed())
        ),
    );
    Ok(())
}
