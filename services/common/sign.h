/*
 * sign: SHA-256 digests and Ed25519 signatures (libsodium) of reports, carried in a trailer
 * line at the end of the file, and their verification.
 */
#ifndef COLDTRACE_SIGN_H
#define COLDTRACE_SIGN_H

#endif
