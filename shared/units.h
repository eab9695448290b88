/*
 * units.h - durations and sizes, one parser for the config file and the CLI
 * (so "1h" means the same everywhere).
 *
 * Durations: a number with an optional unit ms, s, m, h, d; a bare number is
 * seconds ("5", "2.5", "500ms", "1m"). Sizes: a number with an optional unit
 * k, K, KiB, m, M, MiB, g, G, GiB (all powers of 1024); a bare number is bytes.
 */
#ifndef HN_SHARED_UNITS_H
#define HN_SHARED_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Return HN_OK or HN_ERR (input not understood, negative, overflow). */
int hn_units_parse_duration(const char *text, double *seconds);
int hn_units_parse_size(const char *text, uint64_t *bytes);
/* Format for --help and --dump-config: "5s", "500ms", "16MiB". Returns buf. */
const char *hn_units_format_duration(double seconds, char *buf, size_t size);
const char *hn_units_format_size(uint64_t bytes, char *buf, size_t size);

#endif
