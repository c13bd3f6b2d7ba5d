// SPDX-License-Identifier: GPL-2.0

//! Must build: a request ended in a batch, inside the closure that ends it.

use kernel::{
    block::mq::{IoCompBatch, Operations, Request},
    prelude::*,
    types::ARef,
};

pub fn end_in_batch<T: Operations>(rq: ARef<Request<T>>) {
    IoCompBatch::<T>::with(|batch| batch.end(rq, Ok(())));
}

include!("case_module.rs");
