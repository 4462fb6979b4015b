/*
 * lib/tsr.h: the prelude every tessera .c file includes first.
 *
 * It pulls in config.h (so _GNU_SOURCE and the feature probes apply to
 * every system header that follows), the error codes, and a handful of
 * attributes.  It declares no functions of its own.
 */
#ifndef TSR_LIB_TSR_H
#define TSR_LIB_TSR_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define TSR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define TSR_NODISCARD __attribute__((warn_unused_result))
#define TSR_NORETURN __attribute__((noreturn))
#define TSR_UNUSED __attribute__((unused))
#else
#define TSR_PRINTF(fmt, args)
#define TSR_NODISCARD
#define TSR_NORETURN
#define TSR_UNUSED
#endif

#define TSR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TSR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TSR_MAX(a, b) ((a) > (b) ? (a) : (b))

#include "lib/err.h"

#endif /* TSR_LIB_TSR_H */
