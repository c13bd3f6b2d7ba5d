// SPDX-License-Identifier: GPL-2.0

//! Must not build: keep a completion batch past the closure that ends it, to
//! add a request to it after its end.

use kernel::{
    block::mq::{IoCompBatch, Operations, Request},
    prelude::*,
    types::ARef,
};

pub fn end_late<T: Operations>(rq: ARef<Request<T>>) {
    let batch = IoCompBatch::<T>::with(|batch| batch);
    batch.end(rq, Ok(()));
}

include!("case_module.rs");
