/* roll.h - the deterministic random numbers the fuzz tests draw from
 * (xorshift64): the same seed gives the same run, so a failure replays. */
#ifndef SB_TEST_ROLL_H
#define SB_TEST_ROLL_H

#include <stdint.h>

static uint64_t roll_state = 0x5eed;   /* a test may reseed it first */

/* A number in 0..n-1. */
static inline unsigned roll(unsigned n)
{
	roll_state ^= roll_state << 13;
	roll_state ^= roll_state >> 7;
	roll_state ^= roll_state << 17;
	return (unsigned)(roll_state % n);
}

#endif
