#!/bin/sh
# The driver binds edu and tries sizes and indexes the C core cannot serve;
# each is refused with EINVAL or EBUSY (the host checks the log lines and
# that no WARN appeared).

. /guest/lib/ktap.sh

edu_probe_case misuse_dma_bad_sizes
