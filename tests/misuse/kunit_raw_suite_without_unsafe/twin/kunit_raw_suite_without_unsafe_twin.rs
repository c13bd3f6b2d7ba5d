// SPDX-License-Identifier: GPL-2.0

//! Must build: the safe way to declare the suite, `kunit_suite!`, which ends
//! the case array itself.

use kernel::prelude::*;

fn boom() -> Result {
    Ok(())
}

kernel::kunit_suite!(with_sentinel, [boom]);

include!("case_module.rs");
