#!/bin/sh
# The driver binds edu, allocates two `[u32; 3]` objects of coherent memory
# and asks the accessors `dma_read!`/`dma_write!` expand to for a `u64` at
# object 1 (12 bytes in: misaligned) and for a field past object 0; both
# must be refused with EINVAL, and an aligned `u32` field must read back.

. /guest/lib/ktap.sh

edu_probe_case misuse_field_align
