#!/bin/sh
# The driver binds edu, writes a pool block full of 0xa5, frees it and
# allocates again (dmapool hands back the same block): the host checks that
# both the fresh and the reused block read as zeros.

. /guest/lib/ktap.sh

edu_probe_case misuse_pool_reuse
