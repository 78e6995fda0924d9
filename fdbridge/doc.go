// Package fdbridge moves descriptors across the boundary between a ring's direct descriptors
// and the process's regular ones: FIXED_FD_INSTALL when a caller needs a real descriptor (for
// Fd, Dup, socket options and addresses), and the socket calls made on it; and Dup, a regular
// duplicate of a standard library socket's descriptor, for a ring's table or a caller's own use.
package fdbridge
