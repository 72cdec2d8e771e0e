#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Boot probe: proves the guest reaches userspace and can load the module.
insmod "$MMN_STOPGAP_KO" && rmmod mmn_stopgap
