//go:build cgo

/*
 * server.c: the exception server of the native layer, compiled here against
 * the model. Not a copy: cg_mach_server_c.h and cg_machmsg_c.h are symbolic
 * links to ../cg_mach_server_darwin.c and ../cg_machmsg.c (links inside this
 * directory, so the go command sees a change to them and rebuilds; it does
 * not track files included from outside a package's directory). For the
 * same reason the server's file says only //go:build cgo and leaves darwin
 * to its name: a header whose constraint excludes it is not hashed either.
 */
#include "machsim_kernel.h" /* first: the renames apply to all that follows */

#include "cg_machmsg_c.h"
#include "cg_mach_server_c.h"
